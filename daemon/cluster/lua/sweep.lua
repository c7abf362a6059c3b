-- sweep max -> {"ok", fired, more, ended_chat_id ...}
-- Fires up to max due timers (interest fallbacks and idle expiries, in time order) so that
-- nothing waits for a caller: any node may run it, as often as it likes; two running it
-- fire each timer once. more is 1 when max timers fired (call again).
local max = tonumber(ARGV[1])
local fired, _, ended = fire_timers(now_ms(), max)

-- Stale handles: a chat whose keys' TTL ran out before a timer ended it never reached
-- end_chat, so its P:handles entry would stay forever (only a kick naming it drops it).
-- Each sweep looks at the next slice of the index (HSCAN from a cursor kept in a key, about
-- max entries: bounded, so no run stalls Redis however big the index) and drops the
-- entries whose chat is gone or carries another handle. The cursor restarts at 0 when a
-- pass ends; an entry added or dropped meanwhile is at worst seen twice or next pass.
local cursor_key = K_HANDLES .. ':cursor'
local scan = redis.call('HSCAN', K_HANDLES, redis.call('GET', cursor_key) or '0',
	'COUNT', max)
local pairs_ = scan[2]
for i = 1, #pairs_, 2 do
	local handle, id = pairs_[i], pairs_[i + 1]
	if redis.call('HGET', chat_key(id), 'handle') ~= handle then
		redis.call('HDEL', K_HANDLES, handle)
	end
end
if scan[1] == '0' then
	redis.call('DEL', cursor_key)
else
	redis.call('SET', cursor_key, scan[1])
end

local out = { 'ok', fired, fired == max and 1 or 0 }
for _, id in ipairs(ended) do out[#out + 1] = id end
return out
