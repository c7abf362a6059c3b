-- fallback max -> {"ok", matched, more}
-- The same timers as sweep (both kinds, in time order: a fallback must not pair a waiter
-- with a chat that had expired before it), counted as matches made: for a node that only
-- wants interest fallbacks on time. more is 1 when max timers fired.
local max = tonumber(ARGV[1])
local fired, matched = fire_timers(now_ms(), max)
return { 'ok', matched, fired == max and 1 or 0 }
