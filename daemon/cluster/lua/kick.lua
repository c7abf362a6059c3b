-- kick target -> {"ok", handle...} (none: no chat has that handle and no room that id)
-- `mcpchatctl kick` on any node for a chat of any node: the chat whose admin handle is
-- target (P:handles), else the members of the room whose id is target, end as `end` does
-- with reason kicked: the partner hears partner.disconnected (kicked), the chat's keys go
-- and `end` is published on its wake-up channel, so the node holding a 2025 session ends it.
-- Handles come back in the order the chats ended; never a chat id.
local target = ARGV[1]
local now = now_ms()

fire_timers(now, TIMERS_PER_CALL)
local victims = {}
local id = redis.call('HGET', K_HANDLES, target)
if id then
	local c = load(id)
	if c and c.handle == target then
		victims[1] = c
	else
		redis.call('HDEL', K_HANDLES, target) -- its chat's keys expired before a sweep
	end
end
if #victims == 0 then
	local room = load_room(target)
	if room then
		for _, mid in ipairs({ room.a, room.b or false }) do
			local m = mid and load(mid)
			if m and m.room == target then victims[#victims + 1] = m end
		end
	end
end
local out = { 'ok' }
for _, c in ipairs(victims) do
	out[#out + 1] = c.handle or ''
	end_chat(c, 'kicked')
end
return out
