-- touch chat_id ... -> {"ok", gone_chat_id ...}
-- A node's batched sign of life for the chats it holds open (a waiting call, a 2025 push
-- stream): each one still there is seen now; the ones that are not are listed, so the node
-- can end what it holds for them.
local now = now_ms()
fire_timers(now, TIMERS_PER_CALL)
local out = { 'ok' }
for i = 1, #ARGV do
	local c = load(ARGV[i])
	if c then touch_chat(c, now) else out[#out + 1] = ARGV[i] end
end
return out
