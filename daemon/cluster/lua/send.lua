-- send chat_id room_id message_id text rate_per_second burst mailbox_events
--   -> {"ok", message_id, timestamp} | err (rate_limited retry_after_ms, mailbox_full,
--      not_in_room, room_closed, partner_gone, chat_expired)
-- message.c send_message: the rate bucket of this chat, then message.received into the
-- partner's mailbox, refused when the partner has mailbox_events unacknowledged events.
-- message_id (made by the node, unique) is the idempotence key: a send repeated within a
-- minute after its success is answered with the first result and delivers nothing again,
-- even if the room has closed since.
local id, room_id, msg_id, text = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local rate, burst, cap = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local now = now_ms()

-- The hot path reads only the fields it uses (fields_of) and trusts the members' records
-- for the room: c in room_id and its last partner in room_id too is the live room of two
-- (pair wrote both; a room closes both or neither, and its key lives as long as they do).
-- Anything else goes the whole way: live_room sees a vanished partner and closes the room.
local SENDER = { 'state', 'room', 'last_partner', 'tokens', 'tokens_at', 'name', 'seen',
	'idle_ms', 'sent_ttl', 'room_sent' }
local PARTNER = { 'state', 'room', 'seq', 'idle_ms', 'mb_ttl' }

fire_timers(now, TIMERS_PER_CALL)
local c = fields_of(id, SENDER)
if not c then return expired_reply() end
touch_chat(c, now)
local sent_at = redis.call('ZSCORE', sent_key(id), msg_id)
if sent_at then return { 'ok', msg_id, rfc3339(tonumber(sent_at)) } end
if c.state ~= 'in_room' or c.room ~= room_id then return refuse_not_in(load(id), room_id) end
local partner = c.last_partner and fields_of(c.last_partner, PARTNER)
if not partner or partner.room ~= room_id then
	c = load(id)
	local room = live_room(room_id)
	if not room then return refuse_not_in(c, room_id) end
	partner = load(other_member(room, id))
end

-- message.c take_token: the bucket refills rate per second up to burst.
local tokens = tonumber(c.tokens or burst)
local at = tonumber(c.tokens_at or now)
local wait = 0
if now > at then
	tokens = math.min(burst, tokens + (now - at) * rate / 1000)
	at = now
end
if tokens >= 1 then
	tokens = tokens - 1
elseif rate <= 0 then
	wait = 4294967295
else
	local w = (1 - tokens) * 1000 / rate
	local ms = math.floor(w)
	wait = w >= 4294967295 and 4294967295 or ((ms < w or ms == 0) and ms + 1 or ms)
end
tokens = string.format('%.17g', tokens)
if wait > 0 then
	set(c, 'tokens', tokens, 'tokens_at', int(at))
	return err('rate_limited', 'You are sending too fast; try again in ' .. int(wait) ..
		' ms.', wait)
end

local ts = rfc3339(now)
local inner = '"room_id":' .. json_str(room_id) .. ',"message_id":"' .. msg_id ..
	'","message":' .. json_str(text) .. ',"sender":{"display_name":' ..
	json_str(name_of(c)) .. '},"timestamp":"' .. ts .. '"'
if not emit(partner, 'message.received', inner, true, cap) then
	set(c, 'tokens', tokens, 'tokens_at', int(at))
	return err('mailbox_full',
		'Your partner has too many unread events; wait a moment and send again.')
end
redis.call('ZADD', sent_key(id), int(now), msg_id)
-- The set's TTL when this id made it (touch_chat prunes it and says when it emptied).
if c.sent_ttl ~= '1' then redis.call('PEXPIRE', sent_key(id), ttl(c)) end
set(c, 'tokens', tokens, 'tokens_at', int(at), 'room_sent', num(c, 'room_sent') + 1,
	'sent_ttl', 1)
redis.call('HINCRBY', K_STATS, 'messages', 1)
return { 'ok', msg_id, ts }
