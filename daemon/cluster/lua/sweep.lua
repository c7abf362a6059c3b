-- sweep max -> {"ok", fired, more, ended_chat_id ...}
-- Fires up to max due timers (interest fallbacks and idle expiries, in time order) so that
-- nothing waits for a caller: any node may run it, as often as it likes; two running it
-- fire each timer once. more is 1 when max timers fired (call again).
local max = tonumber(ARGV[1])
local fired, _, ended = fire_timers(now_ms(), max)
local out = { 'ok', fired, fired == max and 1 or 0 }
for _, id in ipairs(ended) do out[#out + 1] = id end
return out
