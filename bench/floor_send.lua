-- The floor of a cross-node hand-off through Redis (bench only, never shipped): `send`'s
-- body cut to what any design that keeps the mailbox in Redis must do per message. It
-- finds the partner (HMGET of the sender's record), numbers the event (HINCRBY of the
-- partner's seq), appends it to the partner's stream (XADD) and rings the doorbell with it
-- (PUBLISH): 4 commands where the real `send` runs about 12. It leaves out the timers, the
-- touch, the room check, the rate bucket, the mailbox bound, message_id idempotence and the
-- counters, so it answers what the cluster would cost if `send` were free of all of them.
-- bench/floor.mjs loads it over the real `send` of a running library; nothing else changes
-- (the nodes, their acks, the reads).
local id, room_id, msg_id, text = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = now_ms()
local c = fields_of(id, { 'state', 'last_partner', 'name' })
if not c or not c.last_partner then return expired_reply() end
local to = c.last_partner
local seq = redis.call('HINCRBY', chat_key(to), 'seq', 1)
local ts = rfc3339(now)
local params = '{"room_id":' .. json_str(room_id) .. ',"message_id":"' .. msg_id ..
	'","message":' .. json_str(text) .. ',"sender":{"display_name":' ..
	json_str(name_of(c)) .. '},"timestamp":"' .. ts .. '","seq":' .. int(seq) .. '}'
redis.call('XADD', mb_key(to), int(seq) .. '-0', 'm', 'message.received', 'p', params)
redis.call('PUBLISH', P .. ':wake:' .. to,
	int(seq) .. ':' .. int(now) .. ':message.received\n' .. params)
return { 'ok', msg_id, ts }
