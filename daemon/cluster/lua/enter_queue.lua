-- enter_queue chat_id req name fallback_ms mailbox_events [tag ...]
--   -> {"ok", "waiting", position} | {"ok", "matched", room_id, partner_name} | err
-- queue.c enter_queue: while waiting it is idempotent (the position; a new name is kept,
-- new tags are not); in a room or a named room it is refused; a full mailbox may not start
-- anything new. name "" keeps the current one. Tags are compared lower-cased.
local id, req, name = ARGV[1], ARGV[2], ARGV[3]
local fallback_ms, cap = tonumber(ARGV[4]), tonumber(ARGV[5])
local now = now_ms()

local c = begin(id, now)
if not c then return expired_reply() end
local again = replay(c, req)
if again then
	-- a waiting answer is refreshed: the position moves while one waits
	if again[2] == 'waiting' and in_queue(c) then
		again[3] = redis.call('ZRANK', K_Q, id) + 1
	end
	return again
end
if c.state == 'in_room' then return remember(c, req, refuse_in_room(c)) end
if c.room then
	return remember(c, req, err('already_waiting', 'You are waiting in room ' .. c.room ..
		'; call leave_chat first.'))
end
if not in_queue(c) and mailbox_full(c, cap) then
	return remember(c, req, refuse_full_mailbox())
end
if name ~= '' then set(c, 'name', name) end
if not in_queue(c) then
	local tags, seen = {}, {}
	for i = 6, #ARGV do
		local t = string.lower(ARGV[i]) -- the C locale: ASCII letters only, as add_tag
		if not seen[t] then
			seen[t] = true
			tags[#tags + 1] = t
		end
	end
	enqueue(c, tags, now, fallback_ms)
	local room_id = match_from_queue(c, now)
	if room_id then
		local room = load_room(room_id)
		local partner = load(other_member(room, id))
		return remember(c, req, { 'ok', 'matched', room_id, name_of(partner) })
	end
end
return remember(c, req, { 'ok', 'waiting', redis.call('ZRANK', K_Q, id) + 1 })
