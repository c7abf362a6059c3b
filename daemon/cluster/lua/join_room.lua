-- join_room chat_id req room_id name mailbox_events
--   -> {"ok", "waiting", room_id} | {"ok", "matched", room_id, partner_name} | err
-- room.c join_room: the first one in waits in the named room, the second is paired with
-- them (the waiter hears chatroom.found first); a third gets room_full. Joining the room
-- one already waits in is harmless. name "" keeps the current one.
local id, req, room_id, name, cap = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local now = now_ms()

local c = begin(id, now)
if not c then return expired_reply() end
local again = replay(c, req)
if again then return again end
if c.state == 'in_room' then return remember(c, req, refuse_in_room(c)) end
if c.room == room_id then return remember(c, req, { 'ok', 'waiting', room_id }) end
if c.room then
	return remember(c, req, err('already_waiting', 'You are waiting in room ' .. c.room ..
		'; call leave_chat first.'))
end
if in_queue(c) then
	return remember(c, req, err('already_waiting',
		'You are waiting in the queue for a partner; call leave_chat first.'))
end
if mailbox_full(c, cap) then return remember(c, req, refuse_full_mailbox()) end
if name ~= '' then set(c, 'name', name) end

local room = live_room(room_id)
if room and room.b then
	return remember(c, req, err('room_full', 'Room ' .. room_id ..
		' already has two people; pick another room id.'))
end
if room then
	local waiter = load(room.a)
	pair(room_id, 'named', waiter, c, now)
	return remember(c, req, { 'ok', 'matched', room_id, name_of(waiter) })
end
redis.call('HSET', room_key(room_id), 'kind', 'named', 'a', id, 'created', int(now))
redis.call('PEXPIRE', room_key(room_id), ttl(c))
redis.call('HINCRBY', K_STATS, 'named_waiting', 1)
set(c, 'state', 'waiting', 'room', room_id)
return remember(c, req, { 'ok', 'waiting', room_id })
