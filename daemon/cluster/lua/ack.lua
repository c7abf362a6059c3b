-- standalone: without the prelude, whose definitions would be most of this script's cost.
-- ack chat_id upto cursor  ->  {"ok", "acked"} | {"ok", "gone"} (no such chat)
-- The cheap half of `read`, for a node that already knows what is new: acknowledges the
-- events up to upto ("" none; never past the newest) and moves the cursor to cursor (""
-- leaves it). A wait_for_message whose `after` a lingering subscription shows to be the
-- newest acknowledges with it and waits; a wait answered from a doorbell's event moves the
-- cursor past it (a later wait without `after` goes on from there). No timers, no touch: the
-- node's batched touch keeps the chats it listens to alive. Keys as the prelude names them.
local P, id, upto, cursor = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local key = P .. ':chat:' .. id
local v = redis.call('HMGET', key, 'seq', 'acked')
if not v[1] then return { 'ok', 'gone' } end
local h = { key }
if upto ~= '' then
	local u = math.min(tonumber(upto), tonumber(v[1]))
	if u > tonumber(v[2] or '0') then
		h[#h + 1], h[#h + 2] = 'acked', string.format('%d', u)
		redis.call('XTRIM', P .. ':mb:' .. id, 'MINID', string.format('%d', u + 1))
	end
end
if cursor ~= '' then h[#h + 1], h[#h + 2] = 'cursor', cursor end
if #h > 1 then redis.call('HSET', unpack(h)) end
return { 'ok', 'acked' }
