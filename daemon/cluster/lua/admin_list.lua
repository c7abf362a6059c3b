-- admin_list what(rooms/queues/sessions/nodes) max scan -> {"ok", json}
-- What `mcpchatctl rooms|queues|sessions --cluster` and `nodes` show of the whole cluster.
-- Read-only: no timer fires, nothing is written (a due expiry is the next script's). Chats
-- are found through P:expiry (every chat is there), at most `scan` of them; at most `max`
-- rows come back; `truncated` says when either cap cut the answer. Never a chat id (a
-- credential): chats are shown by handle, rooms by room id, as on a single node. Times are
-- ages in ms on Redis' clock. json is {"rows":[...],"truncated":bool} (an empty rows is {}:
-- cjson cannot tell an empty array from an empty object).
local what, max, scan = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
local truncated = redis.call('ZCARD', K_EXPIRY) > scan
local rows = {}

-- Only the fields shown (HMGET): a chat's hash also holds its last reply, not needed here.
-- No state: the chat is gone. Nothing here loads a chat whole, so nothing is cached.
local FIELDS = { 'state', 'handle', 'name', 'node', 'era', 'room', 'seen', 'queued', 'ticket',
	'tags', 'room_sent' }
local function peek(id) return fields_of(id, FIELDS) end

local function age(t) return math.max(0, now - (tonumber(t) or now)) end
local function handle_of(c) return (c and c.handle) or '' end

-- The chats, least recently seen first.
local function each_chat(fn)
	for _, id in ipairs(redis.call('ZRANGE', K_EXPIRY, 0, scan - 1)) do
		local c = peek(id)
		if c then fn(c) end
	end
end

local function add(row)
	if #rows >= max then
		truncated = true
		return false
	end
	rows[#rows + 1] = row
	return true
end

local function sessions()
	each_chat(function(c)
		add({ handle = handle_of(c), display_name = name_of(c), node = c.node or '',
			era = c.era or '', state = c.state or 'idle',
			room_id = c.room, idle_ms = age(c.seen) }) -- room: in it, or waiting in it
	end)
end

-- The random queue in order, then the named rooms' waiters (longest waiting first).
local function queues()
	for _, id in ipairs(redis.call('ZRANGE', K_Q, 0, max)) do
		local c = peek(id)
		if c and in_queue(c) and not add({ handle = handle_of(c), display_name = name_of(c),
				node = c.node or '', kind = 'queue', interests = tags_of(c),
				waited_ms = age(c.queued) }) then
			break
		end
	end
	local named = {}
	each_chat(function(c)
		if c.state == 'waiting' and c.room and not in_queue(c) then
			local r = load_room(c.room)
			named[#named + 1] = { handle = handle_of(c), display_name = name_of(c),
				node = c.node or '', kind = 'named', room_id = c.room, interests = {},
				waited_ms = age(r and r.created) }
		end
	end)
	table.sort(named, function(x, y) return x.waited_ms > y.waited_ms end)
	for _, row in ipairs(named) do
		if not add(row) then break end
	end
end

-- Every room a chat is in or waits in, oldest first.
local function rooms()
	local seen, list = {}, {}
	each_chat(function(c)
		if c.room and not seen[c.room] and (c.state == 'in_room' or c.state == 'waiting') then
			seen[c.room] = true
			local r = load_room(c.room)
			if r then list[#list + 1] = r end
		end
	end)
	table.sort(list, function(x, y) return tonumber(x.created or 0) < tonumber(y.created or 0) end)
	for _, r in ipairs(list) do
		local names, handles, messages = {}, {}, 0
		for _, mid in ipairs({ r.a, r.b or false }) do
			local m = mid and peek(mid)
			if m then
				names[#names + 1] = name_of(m)
				handles[#handles + 1] = handle_of(m)
				if m.room == r.id then messages = messages + num(m, 'room_sent') end
			end
		end
		if not add({ room_id = r.id, kind = r.kind or 'queue', age_ms = age(r.created),
				messages = messages, members = names, handles = handles }) then
			break
		end
	end
end

-- Per node (the chat's `node`: where it began, or the node holding its 2025 session): its
-- chats, those waiting, and the open rooms with a member of it.
local function nodes()
	local by = {}
	each_chat(function(c)
		local name = c.node or ''
		local n = by[name]
		if not n then
			n = { name = name, chats = 0, waiting = 0, rooms = 0, seen = {} }
			by[name] = n
		end
		n.chats = n.chats + 1
		if c.state == 'waiting' then n.waiting = n.waiting + 1 end
		if c.state == 'in_room' and c.room and not n.seen[c.room] then
			n.seen[c.room] = true
			n.rooms = n.rooms + 1
		end
	end)
	for _, n in pairs(by) do
		n.seen = nil
		if not add(n) then break end
	end
end

if what == 'sessions' then
	sessions()
elseif what == 'queues' then
	queues()
elseif what == 'rooms' then
	rooms()
elseif what == 'nodes' then
	nodes()
else
	return err('bad_arguments', 'admin_list: unknown listing')
end
return { 'ok', cjson.encode({ rows = rows, truncated = truncated }) }
