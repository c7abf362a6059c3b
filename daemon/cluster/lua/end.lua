-- end chat_id reason -> {"ok", "ended"} | {"ok", "gone"}
-- chat.c chat_user_free: the chat leaves its queue or room (the partner hears reason: left,
-- disconnected, timeout or kicked) and all its keys go. Ending a chat that is gone is not
-- an error, so a retry after a lost reply notifies nobody twice.
local id, reason = ARGV[1], ARGV[2]
local now = now_ms()

fire_timers(now, TIMERS_PER_CALL)
local c = load(id)
if not c then return { 'ok', 'gone' } end
if reason ~= 'left' and reason ~= 'timeout' and reason ~= 'kicked' then
	reason = 'disconnected'
end
end_chat(c, reason)
return { 'ok', 'ended' }
