-- status chat_id -> {"ok", state, room_id|"", partner_name|"", position, unread}
-- chat.c chat_get_status: room_id while waiting in a named room or in a room, the partner's
-- name in a room, the 1-based queue position while in the random queue (else 0), and the
-- unacknowledged events.
local id = ARGV[1]
local now = now_ms()

local c = begin(id, now)
if not c then return expired_reply() end
local partner = ''
if c.state == 'in_room' then
	local room = load_room(c.room)
	local pid = room and other_member(room, id)
	partner = name_of(pid and load(pid))
end
local position = in_queue(c) and redis.call('ZRANK', K_Q, id) + 1 or 0
return { 'ok', c.state, c.room or '', partner, position, unread(id) }
