-- chat_new chat_id idle_ms node era handle nonce -> {"ok", "created"|"exists"}
-- A new chat (idle, empty mailbox). Idempotent: an existing chat is only refreshed. nonce
-- (random text from the node) seeds the room id secret the first time the world is used.
local id, idle_ms = ARGV[1], tonumber(ARGV[2])
local node, era, handle, nonce = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local now = now_ms()

redis.call('SET', K_SECRET, redis.sha1hex(nonce), 'NX')
fire_timers(now, TIMERS_PER_CALL)
local c = load(id)
if c then
	touch_chat(c, now)
	return { 'ok', 'exists' }
end
redis.call('HSET', chat_key(id), 'state', 'idle', 'seq', 0, 'acked', 0, 'cursor', 0,
	'idle_ms', int(idle_ms), 'node', node, 'era', era, 'handle', handle, 'created', int(now))
redis.call('HINCRBY', K_STATS, 'chats', 1)
-- The admin index (kick by handle on any node); a clash replaces the older entry.
if handle ~= '' then redis.call('HSET', K_HANDLES, handle, id) end
touch_chat(load(id), now)
return { 'ok', 'created' }
