-- leave chat_id req room_id -> {"ok", "left"} | err (not_in_room, chat_expired)
-- room.c chat_leave: the random queue has no room id yet, so any id leaves it; the room one
-- is in (or waits in) closes and the partner hears "left"; leaving the room that just
-- closed on one again is harmless.
local id, req, room_id = ARGV[1], ARGV[2], ARGV[3]
local now = now_ms()

local c = begin(id, now)
if not c then return expired_reply() end
local again = replay(c, req)
if again then return again end
if in_queue(c) then
	dequeue(c)
elseif c.room == room_id then
	local room = load_room(room_id)
	if room then
		close_room(room, id, 'left')
	else -- the room's key vanished: nobody to tell
		set(c, 'state', 'idle', 'room', false, 'closed_room', room_id, 'closed_gone', 0)
	end
elseif c.closed_room ~= room_id then
	return remember(c, req, refuse_not_in(c, room_id))
end
return remember(c, req, { 'ok', 'left' })
