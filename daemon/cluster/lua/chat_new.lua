-- chat_new chat_id idle_ms node era handle nonce [base] -> {"ok", "created"|"exists"}
-- A new chat (idle, empty mailbox). Idempotent: an existing chat is only refreshed. nonce
-- (random text from the node) seeds the room id secret the first time the world is used.
-- base (default 0): the seq its events continue after, when a node re-asserts a chat that
-- an emptied Redis lost, so a client's `after` still means what it meant.
local id, idle_ms = ARGV[1], tonumber(ARGV[2])
local node, era, handle, nonce = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local base = tonumber(ARGV[7] or '0') or 0
local now = now_ms()

redis.call('SET', K_SECRET, redis.sha1hex(nonce), 'NX')
fire_timers(now, TIMERS_PER_CALL)
local c = load(id)
if c then
	touch_chat(c, now)
	return { 'ok', 'exists' }
end
redis.call('HSET', chat_key(id), 'state', 'idle', 'seq', int(base),
	'idle_ms', int(idle_ms), 'node', node, 'era', era, 'handle', handle, 'created', int(now))
redis.call('SET', cur_key(id), int(base), 'PX', int(3 * idle_ms))
redis.call('HINCRBY', K_STATS, 'chats', 1)
-- The admin index (kick by handle on any node); a clash replaces the older entry.
if handle ~= '' then redis.call('HSET', K_HANDLES, handle, id) end
touch_chat(load(id), now)
return { 'ok', 'created' }
