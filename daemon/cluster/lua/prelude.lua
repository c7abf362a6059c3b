-- mcp-chat cluster: the shared prelude of the function library (cmake/EmbedLua.cmake
-- appends every script's body as a function of it and registers them: Redis loads the
-- library once, FUNCTION LOAD, so no call pays for these definitions again). Semantics
-- mirror daemon/chat/{queue,room,message,chat}.c; daemon/cluster/README.md has the key
-- layout and each script's contract.
--
-- KEYS[1] is P, the hash tag ("{mcpchat}"); every key is P..":"..something, so all of them
-- live in P's slot and the set could move to Redis Cluster whole. Times come from TIME: one
-- clock for every node. The caller validated ARGV's shapes (lengths, UTF-8, room id
-- charset); the scripts trust those but not the state they find (a key may have expired).
--
-- The library's locals outlive a call: what one call sets (P and the keys made of it, the
-- chat records, the time) is set again by begin_call, first thing in every function.

local SKIP_MAX = 4         -- recent partners passed over per queue list (queue.c SKIP_MAX)
local TIMERS_PER_CALL = 16 -- due timers a script fires before its own work
local SENT_KEEP_MS = 60000 -- how long a message_id is remembered for a retried send
local DEFAULT_NAME = 'Stranger'

local P         -- KEYS[1]
local K_Q       -- every random-queue waiter, score = ticket (positions)
local K_OPEN    -- waiters without interests, score = ticket
local K_HELD    -- waiters with interests, score = ticket
local K_DUE     -- waiters with interests, score = fallback deadline (ms)
local K_EXPIRY  -- every chat, score = when it expires unless seen (ms)
local K_TICKET
local K_ROOMCTR
local K_SECRET
local K_STATS
local K_HANDLES -- admin handle -> chat id (mcpchatctl kick on any node)

local function chat_key(id) return P .. ':chat:' .. id end
local function mb_key(id) return P .. ':mb:' .. id end
local function sent_key(id) return P .. ':sent:' .. id end
-- The cursor (the `next` of the chat's last answer) is a key of its own, not a field of
-- chat_key: a node moves it with one plain SET XX KEEPTTL, which never makes a chat that
-- is gone again (an HSET would), so wait_for_message's acknowledgement needs no script.
local function cur_key(id) return P .. ':cur:' .. id end
local function room_key(id) return P .. ':room:' .. id end
local function tag_key(t) return P .. ':q:tag:' .. t end

-- Integers as text without an exponent (tostring would write 1e+15 past 14 digits).
local function int(n) return string.format('%d', n) end

-- Read once per script: a script is atomic and short, and TIME costs as much as a small
-- command (emit's doorbell asked again for every event).
local now_cached
local function now_ms()
	if not now_cached then
		local t = redis.call('TIME')
		now_cached = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
	end
	return now_cached
end

local function err(code, message, ...)
	return { 'err', code, message, ... }
end

local function expired_reply()
	return err('chat_expired', 'chat_id names no chat: it ended or never existed; call ' ..
		'enter_queue or join_room without it to start a new one')
end

-- JSON strings exactly as buf_json_string writes valid UTF-8 (the caller checked it).
local JSON_ESC = { ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }
local function json_str(s)
	local out = s:gsub('[%z\1-\31"\\]', function(c)
		return JSON_ESC[c] or string.format('\\u%04x', c:byte())
	end)
	return '"' .. out .. '"'
end

-- RFC 3339 UTC with milliseconds from Unix ms (days to civil date: Hinnant's algorithm).
local function rfc3339(ms)
	local s = math.floor(ms / 1000)
	local rem = ms - s * 1000
	local days = math.floor(s / 86400)
	local secs = s - days * 86400
	local z = days + 719468
	local era = math.floor(z / 146097)
	local doe = z - era * 146097
	local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) -
		math.floor(doe / 146096)) / 365)
	local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
	local mp = math.floor((5 * doy + 2) / 153)
	local d = doy - math.floor((153 * mp + 2) / 5) + 1
	local m = mp < 10 and mp + 3 or mp - 9
	local y = yoe + era * 400 + (m <= 2 and 1 or 0)
	return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d,
		math.floor(secs / 3600), math.floor(secs / 60) % 60, secs % 60, rem)
end

-- Chat records. One table per chat per script run, so every change made through one
-- reference is seen through all (a partner loaded twice would otherwise go stale).
local cache

local function load(id)
	local c = cache[id]
	if c then return c end
	local raw = redis.call('HGETALL', chat_key(id))
	if #raw == 0 then return nil end
	c = { id = id }
	for i = 1, #raw, 2 do c[raw[i]] = raw[i + 1] end
	cache[id] = c
	return c
end

-- Some fields of a chat, for the hot path (send): HMGET of what it needs costs half what
-- HGETALL and the table cost. fields[1] must be one every chat has (state). A chat this
-- script already loaded whole is that record (it may hold changes). A partial record is not
-- cached: a path that needs more loads the chat whole, from Redis, which holds every write
-- made through the partial one; the partial one is not used after that.
local function fields_of(id, fields)
	local c = cache[id]
	if c then return c end
	local v = redis.call('HMGET', chat_key(id), unpack(fields))
	if not v[1] then return nil end
	c = { id = id }
	for i = 2, #fields do
		if v[i] then c[fields[i]] = v[i] end
	end
	c[fields[1]] = v[1]
	return c
end

-- Sets fields: set(c, 'state', 'idle', 'room', false) (false deletes the field).
local function set(c, ...)
	local args, del = { chat_key(c.id) }, { chat_key(c.id) }
	local kv = { ... }
	for i = 1, #kv, 2 do
		local f, v = kv[i], kv[i + 1]
		if v == false then
			c[f] = nil
			del[#del + 1] = f
		else
			c[f] = tostring(v)
			args[#args + 1] = f
			args[#args + 1] = c[f]
		end
	end
	if #args > 1 then redis.call('HSET', unpack(args)) end
	if #del > 1 then redis.call('HDEL', unpack(del)) end
end

local function num(c, f) return tonumber(c[f] or 0) end
local function name_of(c) return (c and c.name) or DEFAULT_NAME end
local function in_queue(c) return c.ticket ~= nil end
local function ttl(c) return 3 * num(c, 'idle_ms') end

-- A request from (or for) the chat: it is alive until seen + idle_ms. Its keys live three
-- times that as a safety net; the expiry timer (fire_timers) is what ends chats. A busy chat
-- is refreshed at most every tenth of its idle limit (1 s at most): its many scripts a second
-- skip these six commands, and it expires at most that much before seen + idle_ms.
local function touch_chat(c, now)
	local every = math.min(1000, math.floor(num(c, 'idle_ms') / 10))
	if now - num(c, 'seen') < every then return end
	local t = ttl(c)
	redis.call('ZADD', K_EXPIRY, int(now + num(c, 'idle_ms')), c.id)
	redis.call('PEXPIRE', chat_key(c.id), t)
	redis.call('PEXPIRE', mb_key(c.id), t)
	redis.call('PEXPIRE', cur_key(c.id), t)
	-- The sent ids of more than a minute ago go here, not on every send. A set this empties
	-- is gone: sent_ttl 0 tells the next send to give the new one its TTL.
	redis.call('ZREMRANGEBYSCORE', sent_key(c.id), '-inf', int(now - SENT_KEEP_MS))
	local kept = redis.call('PEXPIRE', sent_key(c.id), t)
	if c.room then redis.call('PEXPIRE', room_key(c.room), t) end
	set(c, 'seen', int(now), 'sent_ttl', kept)
end

-- The events not yet acknowledged: what the stream holds, since an acknowledgement trims
-- what it covers (XTRIM MINID, exact) and nothing else removes an event.
local function unread(id)
	return redis.call('XLEN', mb_key(id))
end

-- Events: appended to the chat's stream as <seq>-0 with the method and the params (with
-- "seq" last, as mailbox_add writes it), then a doorbell on its wake-up channel. A
-- refusable event (a message) is refused when cap events are unacknowledged.
local function emit(to, method, inner, refusable, cap)
	local seq = num(to, 'seq')
	if refusable and unread(to.id) >= cap then return nil end
	seq = seq + 1
	local params = '{' .. inner .. ',"seq":' .. int(seq) .. '}'
	redis.call('XADD', mb_key(to.id), int(seq) .. '-0', 'm', method, 'p', params)
	-- XADD keeps a stream's TTL, and a trimmed stream stays (empty): the mailbox needs its
	-- TTL when its first event makes it (mb_ttl), and from every touch after that.
	if not to.mb_ttl then redis.call('PEXPIRE', mb_key(to.id), ttl(to)) end
	set(to, 'seq', int(seq), 'mb_ttl', 1)
	-- seq:ms:method\nparams: ms is the publish time on Redis' clock (nodes measure their
	-- wake-up lag with it); the event itself lets a node answer the call waiting for exactly
	-- this seq without reading the stream
	redis.call('PUBLISH', P .. ':wake:' .. to.id,
		int(seq) .. ':' .. int(now_ms()) .. ':' .. method .. '\n' .. params)
	return seq
end

local function mailbox_full(c, cap)
	return unread(c.id) >= cap
end

-- The random queue (queue.c).

local function tags_of(c)
	local t = {}
	if c.tags then
		for tag in string.gmatch(c.tags, '[^\n]+') do t[#t + 1] = tag end
	end
	return t
end

local function dequeue(c)
	redis.call('ZREM', K_Q, c.id)
	redis.call('ZREM', K_OPEN, c.id)
	redis.call('ZREM', K_HELD, c.id)
	redis.call('ZREM', K_DUE, c.id)
	for _, t in ipairs(tags_of(c)) do redis.call('ZREM', tag_key(t), c.id) end
	set(c, 'ticket', false, 'queued', false, 'deadline', false, 'tags', false, 'state', 'idle')
end

-- tags: lower-cased, without repeats. A waiter with interests holds out for them until
-- its deadline (a timer in K_DUE), then takes anyone.
local function enqueue(c, tags, now, fallback_ms)
	local ticket = redis.call('INCR', K_TICKET)
	local deadline = #tags > 0 and now + fallback_ms or 0
	redis.call('ZADD', K_Q, ticket, c.id)
	if #tags == 0 then
		redis.call('ZADD', K_OPEN, ticket, c.id)
	else
		redis.call('ZADD', K_HELD, ticket, c.id)
		redis.call('ZADD', K_DUE, int(deadline), c.id)
		for _, t in ipairs(tags) do redis.call('ZADD', tag_key(t), ticket, c.id) end
	end
	set(c, 'state', 'waiting', 'ticket', int(ticket), 'queued', int(now),
		'deadline', int(deadline), 'tags', #tags > 0 and table.concat(tags, '\n') or false)
end

local function takes_anyone(w, now)
	return num(w, 'deadline') == 0 or now >= num(w, 'deadline')
end

-- Did s and w just part? Then they meet again only when nobody else fits.
local function recent(s, w)
	return w.last_partner == s.id or s.last_partner == w.id
end

local function earliest(pick, slot, w, ticket)
	if not pick[slot] or ticket < pick[slot .. '_t'] then
		pick[slot] = w
		pick[slot .. '_t'] = ticket
	end
end

-- Queue members whose chat is gone (its keys expired before a sweep ended it).
local function drop_stale(zkey, id)
	redis.call('ZREM', zkey, id)
	redis.call('ZREM', K_Q, id)
	redis.call('ZREM', K_OPEN, id)
	redis.call('ZREM', K_HELD, id)
	redis.call('ZREM', K_DUE, id)
end

-- The head of one queue list for s (queue.c scan): the first waiter who is not a recent
-- partner ends it; SKIP_MAX recent ones end it too. In the held list only the prefix that
-- waited out its fallback takes anyone.
local function scan(zkey, s, now, expired_only, pick)
	local skipped, offset, stale = 0, 0, {}
	local done = false
	while not done do
		local batch = redis.call('ZRANGE', zkey, offset, offset + SKIP_MAX, 'WITHSCORES')
		if #batch == 0 then break end
		for i = 1, #batch, 2 do
			local w = batch[i] ~= s.id and load(batch[i])
			if batch[i] == s.id then
				-- never yourself
			elseif not w or not in_queue(w) then
				stale[#stale + 1] = batch[i]
			elseif expired_only and not takes_anyone(w, now) then
				done = true
			else
				local ticket = tonumber(batch[i + 1])
				earliest(pick, 'fit', w, ticket)
				if not recent(s, w) then
					earliest(pick, 'fresh', w, ticket)
					done = true
				else
					skipped = skipped + 1
					done = skipped == SKIP_MAX
				end
			end
			if done then break end
		end
		offset = offset + SKIP_MAX + 1
	end
	for _, id in ipairs(stale) do drop_stale(zkey, id) end
end

-- queue.c pick_partner: a fresh waiter sharing an interest, else a fresh one that takes
-- anyone; a recent partner only when nobody fresh fits. s itself is in the queue.
local function pick_partner(s, now)
	local share, any = {}, {}
	for _, t in ipairs(tags_of(s)) do scan(tag_key(t), s, now, false, share) end
	if takes_anyone(s, now) then
		scan(K_OPEN, s, now, false, any)
		scan(K_HELD, s, now, true, any)
	end
	if share.fresh or any.fresh then return share.fresh or any.fresh end
	return share.fit or any.fit
end

-- Rooms (room.c).

local B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

-- 24 hex digits (96 bits) as 16 base64url characters.
local function b64_of_hex(h)
	local out = {}
	for i = 1, 24, 6 do
		local v = tonumber(h:sub(i, i + 5), 16)
		for shift = 18, 0, -6 do
			local x = math.floor(v / 2 ^ shift) % 64
			out[#out + 1] = B64:sub(x + 1, x + 1)
		end
	end
	return table.concat(out)
end

-- A fresh random room id. Scripts cannot draw random numbers (Lua's generator restarts
-- with each script), so ids are SHA-1 of a secret (from chat_new's nonce) and a counter:
-- unpredictable without the secret, and never reused while the counter lives.
local function new_room_id(now)
	local secret = redis.call('GET', K_SECRET)
	if not secret then
		secret = redis.sha1hex(int(now) .. ':' .. int(redis.call('INCR', K_TICKET)))
		redis.call('SET', K_SECRET, secret)
	end
	while true do
		local n = redis.call('INCR', K_ROOMCTR)
		local id = b64_of_hex(redis.sha1hex(secret .. ':' .. int(n)):sub(1, 24))
		-- '-' first would read as an option in a shell
		if id:sub(1, 1) ~= '-' and redis.call('EXISTS', room_key(id)) == 0 then
			return id
		end
	end
end

local function load_room(id)
	local raw = redis.call('HGETALL', room_key(id))
	if #raw == 0 then return nil end
	local r = { id = id }
	for i = 1, #raw, 2 do r[raw[i]] = raw[i + 1] end
	return r
end

-- The member of room that is not id (nil while a named room has one). Not the `and/or`
-- idiom: that would answer room.a when room.b is nil.
local function other_member(room, id)
	if room.a == id then return room.b end
	return room.a
end

local function found_params(room_id, other)
	return '"room_id":' .. json_str(room_id) .. ',"partner":{"display_name":' ..
		json_str(name_of(other)) .. '}'
end

-- room.c chat_room_pair: a is the one who waited and hears first.
local function pair(room_id, kind, a, b, now)
	local m = { a, b }
	for i = 1, 2 do
		if in_queue(m[i]) then
			dequeue(m[i])
		elseif m[i].room then
			redis.call('HINCRBY', K_STATS, 'named_waiting', -1)
		end
		-- room_sent: the messages each has sent in this room (admin_list adds the two)
		set(m[i], 'state', 'in_room', 'room', room_id, 'last_partner', m[3 - i].id,
			'room_sent', 0)
	end
	redis.call('HSET', room_key(room_id), 'kind', kind, 'a', a.id, 'b', b.id,
		'created', int(now))
	redis.call('PEXPIRE', room_key(room_id), math.max(ttl(a), ttl(b)))
	redis.call('HINCRBY', K_STATS, 'rooms', 1)
	redis.call('HINCRBY', K_STATS, 'matches', 1)
	emit(a, 'chatroom.found', found_params(room_id, b), false)
	emit(b, 'chatroom.found', found_params(room_id, a), false)
end

local function match_from_queue(s, now)
	local partner = pick_partner(s, now)
	if not partner then return nil end
	local room_id = new_room_id(now)
	pair(room_id, 'queue', partner, s, now)
	return room_id
end

-- room.c chat_room_close: leaver_id caused it; the other member (if any) learns why. The
-- leaver's chat may already be gone (a stale member), which is why it is an id.
local function close_room(room, leaver_id, reason)
	local other_id = other_member(room, leaver_id)
	redis.call('HINCRBY', K_STATS, room.b and 'rooms' or 'named_waiting', -1)
	redis.call('DEL', room_key(room.id))
	local other
	for _, id in ipairs({ room.a, room.b }) do
		local m = load(id)
		if m and m.room == room.id then
			set(m, 'state', 'idle', 'room', false, 'closed_room', room.id,
				'closed_gone', (id ~= leaver_id and reason ~= 'left') and 1 or 0)
			if id == other_id then other = m end
		end
	end
	if other then
		emit(other, 'partner.disconnected', '"room_id":' .. json_str(room.id) ..
			',"reason":"' .. reason .. '"', false)
	end
end

-- A room whose members' chats are not all there any more is closed for the one who is
-- (told timeout, as the sweep would have told them); nil then.
local function live_room(id)
	local room = load_room(id)
	if not room then return nil end
	for _, mid in ipairs({ room.a, room.b or false }) do
		if mid then
			local m = load(mid)
			if not m or m.room ~= id then
				close_room(room, mid, 'timeout')
				return nil
			end
		end
	end
	return room
end

-- chat.c chat_user_free: out of the queue or room (the partner told reason), then every
-- key of the chat goes; a node waiting on it hears "end" on its wake-up channel.
local function end_chat(c, reason)
	if in_queue(c) then
		dequeue(c)
	elseif c.room then
		local room = load_room(c.room)
		if room then close_room(room, c.id, reason) end
	end
	redis.call('DEL', chat_key(c.id), mb_key(c.id), sent_key(c.id), cur_key(c.id))
	redis.call('ZREM', K_EXPIRY, c.id)
	if c.handle and c.handle ~= '' and redis.call('HGET', K_HANDLES, c.handle) == c.id then
		redis.call('HDEL', K_HANDLES, c.handle)
	end
	redis.call('HINCRBY', K_STATS, 'chats', -1)
	redis.call('PUBLISH', P .. ':wake:' .. c.id, 'end')
	cache[c.id] = nil
end

-- Timers, fired lazily: every script first fires what is due, in time order, with "now" =
-- the timer's own time, as the single node's timer heap would have. Interest fallbacks
-- (K_DUE: the waiter takes anyone from then on and looks again) and idle expiry (K_EXPIRY:
-- the chat ends; its partner hears timeout, or disconnected for a 2025 session whose node
-- stopped refreshing it). At a tie the fallback goes first. Returns how many fired, how
-- many matched, and the ids of the chats ended.
local function fire_timers(now, limit)
	local fired, matched, ended = 0, 0, {}
	while fired < limit do
		local d = redis.call('ZRANGE', K_DUE, 0, 0, 'WITHSCORES')
		local e = redis.call('ZRANGE', K_EXPIRY, 0, 0, 'WITHSCORES')
		local dt = d[1] and tonumber(d[2])
		local et = e[1] and tonumber(e[2])
		if dt and dt > now then dt = nil end
		if et and et > now then et = nil end
		if not dt and not et then break end
		if dt and (not et or dt <= et) then
			redis.call('ZREM', K_DUE, d[1])
			local u = load(d[1])
			if u and in_queue(u) and match_from_queue(u, dt) then matched = matched + 1 end
		else
			redis.call('ZREM', K_EXPIRY, e[1])
			local u = load(e[1])
			if u then
				end_chat(u, u.era == 'legacy' and 'disconnected' or 'timeout')
				ended[#ended + 1] = e[1]
			end
		end
		fired = fired + 1
	end
	return fired, matched, ended
end

-- Idempotence: a call that carries a request id (req) and finds it is the chat's last one
-- is a retry after a lost reply: it gets the first answer again and does nothing twice.
local function replay(c, req)
	if req == '' or c.req ~= req or not c.reply then return nil end
	return cjson.decode(c.reply)
end

local function remember(c, req, reply)
	if req ~= '' then set(c, 'req', req, 'reply', cjson.encode(reply)) end
	return reply
end

-- room.c chat_room_refuse_not_in: not_in_room, or why a room that just closed on c did.
local function refuse_not_in(c, room_id)
	if c.closed_room ~= room_id then
		return err('not_in_room', 'You are not in room ' .. room_id ..
			'; call enter_queue or join_room first.')
	end
	if c.closed_gone == '1' then
		return err('partner_gone', 'Your partner in room ' .. room_id ..
			' is gone; call enter_queue to meet someone new.')
	end
	return err('room_closed', 'Room ' .. room_id ..
		' is closed; call enter_queue or join_room to chat again.')
end

local function refuse_in_room(c)
	return err('already_in_room', 'You are already in room ' .. c.room ..
		'; call leave_chat first.')
end

local function refuse_full_mailbox()
	return err('mailbox_full', 'You have too many unread events; read your events first: ' ..
		'wait_for_message or open the push stream.')
end

-- Every script on behalf of one chat starts here: fire the due timers (which may end this
-- very chat: then chat_expired), load it, and count the call as a sign of life.
local function begin(id, now)
	fire_timers(now, TIMERS_PER_CALL)
	local c = load(id)
	if c then touch_chat(c, now) end
	return c
end

-- First thing in every function: this call's prefix and keys, no chat loaded, no time read.
local function begin_call(keys)
	if keys[1] ~= P then
		P = keys[1]
		K_Q, K_OPEN, K_HELD, K_DUE = P .. ':q', P .. ':q:open', P .. ':q:held', P .. ':q:due'
		K_EXPIRY, K_TICKET, K_ROOMCTR = P .. ':expiry', P .. ':ticket', P .. ':roomctr'
		K_SECRET, K_STATS, K_HANDLES = P .. ':secret', P .. ':stats', P .. ':handles'
	end
	cache = {}
	now_cached = nil
end
