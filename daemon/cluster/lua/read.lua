-- read chat_id after ack max [upto]
--   -> {"ok", next, last, unread, seq1, method1, params1, seq2, ...} | err chat_expired
-- The events after `after` ("" = the next of the last answer), at most max of them; next
-- is the seq of the last one returned (after when none). ack: 0 acknowledges nothing; 1
-- acknowledges every event up to after (MCP 2026-07-28: after is the acknowledgement); 2
-- also acknowledges what this answer returns; 3 acknowledges every event up to `upto` (a
-- 2025 session on a cluster node: what its client was delivered from the node's copy) and
-- returns the events after `after` (the node's copy ends there). max 0 returns none.
-- Acknowledged events leave the stream (XTRIM MINID), which frees the mailbox bound. last
-- is the chat's newest seq and unread what is left unacknowledged after this call.
local id, after, ack, max = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local upto = tonumber(ARGV[5] or '0')
local now = now_ms()

-- Only the fields a read uses (fields_of): the record also holds the last reply.
fire_timers(now, TIMERS_PER_CALL)
local c = fields_of(id, { 'state', 'seq', 'idle_ms', 'seen', 'room' })
if not c then return expired_reply() end
touch_chat(c, now)
after = after == '' and tonumber(redis.call('GET', cur_key(id)) or '0') or tonumber(after)
local last = num(c, 'seq')

-- mailbox_ack: never past the newest event (one appended later stays unacknowledged).
local function acknowledge(upto)
	redis.call('XTRIM', mb_key(id), 'MINID', int(math.min(upto, last) + 1))
end

if ack == 1 or ack == 2 then acknowledge(after) end
if ack == 3 then acknowledge(upto) end
local entries = {}
if max > 0 then
	entries = redis.call('XRANGE', mb_key(id), int(after + 1), '+', 'COUNT', max)
end
local out = { 'ok', after, last, 0 }
for _, e in ipairs(entries) do
	local seq = tonumber(string.match(e[1], '^(%d+)'))
	local f = {}
	for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
	out[#out + 1] = seq
	out[#out + 1] = f.m
	out[#out + 1] = f.p
	out[2] = seq
end
if ack ~= 3 then redis.call('SET', cur_key(id), int(out[2]), 'PX', ttl(c)) end
if ack == 2 then acknowledge(out[2]) end
out[4] = unread(id)
return out
