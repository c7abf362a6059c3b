// The chat contract (CHAT-PROTOCOL.md) end to end, with the official SDK client; the push
// stream's Last-Event-ID replay with raw fetch.
import { test } from 'node:test';
import http from 'node:http';
import assert from 'node:assert/strict';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import {
  sansChatId, scope, matchedPair, waitFor, sleep, assertOk, assertToolError,
  rawSession, rawCall, rawPost, openSse, PROTOCOL_VERSION,
} from './helpers.mjs';

const FAST = ['--rate', '1000000', '--burst', '1000000'];
const RFC3339_MS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const messages = (c, roomId) => c.byMethod('message.received').filter((e) => !roomId || e.params.room_id === roomId);

/** Sends with retry on mailbox_full (the contract's back-pressure); returns structuredContent. */
async function sendPatiently(c, roomId, message, deadlineMs = 20_000) {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const r = await c.call('send_message', { room_id: roomId, message });
    if (!r.isError) return assertOk(r, 'send_message');
    const code = r.structuredContent?.error;
    if (code !== 'mailbox_full' && code !== 'rate_limited') assertOk(r, `send_message(${message})`);
    if (Date.now() > deadline) assert.fail(`send_message kept failing with ${code}`);
    await sleep(code === 'rate_limited' ? Math.max(1, r.structuredContent.retry_after_ms) : 5);
  }
}

/** Checks a list of message.received events is exactly `expected` texts, in order, unique ids and rising seq. */
function assertExactlyInOrder(events, expected, what) {
  const texts = events.map((e) => e.params.message);
  const ids = events.map((e) => e.params.message_id);
  assert.equal(new Set(ids).size, ids.length, `${what}: a message was delivered twice`);
  assert.equal(texts.length, expected.length, `${what}: got ${texts.length} messages, expected ${expected.length}`);
  assert.deepEqual(texts, expected, `${what}: messages out of order or wrong`);
  for (let i = 1; i < events.length; i++) {
    assert.ok(events[i].params.seq > events[i - 1].params.seq, `${what}: seq not rising at ${i}`);
  }
}

test('two clients enter_queue: both get chatroom.found with one room_id and each other\'s name', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const a = await s.client(d.url, { name: 'A' });
  const b = await s.client(d.url, { name: 'B' });
  const ra = await a.ok('enter_queue', { display_name: 'Alice' });
  assert.deepEqual(sansChatId(ra), { status: 'waiting', position: 1 });
  const rb = await b.ok('enter_queue', { display_name: 'Bob' });
  assert.equal(rb.status, 'matched');
  assert.match(rb.room_id, /^[A-Za-z0-9_-]{1,64}$/);
  assert.deepEqual(rb.partner, { display_name: 'Alice' });
  const fa = await a.waitEvent('chatroom.found');
  const fb = await b.waitEvent('chatroom.found');
  assert.equal(fa.params.room_id, rb.room_id);
  assert.equal(fb.params.room_id, rb.room_id);
  assert.deepEqual(fa.params.partner, { display_name: 'Bob' });
  assert.deepEqual(fb.params.partner, { display_name: 'Alice' });
  assert.equal(typeof fa.params.seq, 'number');
  assert.equal(typeof fb.params.seq, 'number');
  // nobody's session id is shown anywhere
  for (const ev of [fa, fb]) {
    const text = JSON.stringify(ev);
    assert.ok(!text.includes(a.sessionId) && !text.includes(b.sessionId), 'an event shows a session id');
  }
  // a default display name
  const c = await s.client(d.url);
  const e = await s.client(d.url);
  await c.ok('enter_queue', {});
  const re = await e.ok('enter_queue', {});
  assert.deepEqual(re.partner, { display_name: 'Stranger' });
});

test('500 messages each way, interleaved, all delivered by push in order and once', { timeout: 60_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon(FAST);
  const { a, b, roomId } = await matchedPair(s, d.url);
  await a.waitStream();
  await b.waitStream();
  const N = 500;
  const sentA = [];
  const sentB = [];
  const pump = async (c, tag, sent) => {
    for (let i = 0; i < N; i++) {
      const text = `${tag}-${i} ${'é'.repeat(i % 7)}`;
      const r = await c.ok('send_message', { room_id: roomId, message: text });
      assert.equal(typeof r.message_id, 'string');
      assert.match(r.timestamp, RFC3339_MS_UTC);
      sent.push({ text, id: r.message_id });
    }
  };
  await Promise.all([pump(a, 'a', sentA), pump(b, 'b', sentB)]);
  await waitFor(() => messages(b, roomId).length >= N && messages(a, roomId).length >= N, 20_000, 'all messages pushed');
  await sleep(100); // would a duplicate show up late?
  assertExactlyInOrder(messages(b, roomId), sentA.map((x) => x.text), 'a → b');
  assertExactlyInOrder(messages(a, roomId), sentB.map((x) => x.text), 'b → a');
  assert.deepEqual(messages(b, roomId).map((e) => e.params.message_id), sentA.map((x) => x.id));
  assert.deepEqual(messages(a, roomId).map((e) => e.params.message_id), sentB.map((x) => x.id));
  const ev = messages(b, roomId)[0].params;
  assert.deepEqual(ev.sender, { display_name: 'Alice' });
  assert.match(ev.timestamp, RFC3339_MS_UTC);
  // nothing else arrived and every event's seq is unique per session
  for (const c of [a, b]) {
    const seqs = c.events.map((e) => e.params.seq);
    assert.equal(new Set(seqs).size, seqs.length, 'an event was pushed twice');
    assert.deepEqual(c.events.map((e) => e.method).filter((m) => m !== 'message.received'), ['chatroom.found']);
  }
  assert.equal((await a.ok('get_status')).unread, 0);
  assert.equal((await b.ok('get_status')).unread, 0);
});

test('wait_for_message polling: {method, params} events, next cursor, after, timeouts, 500 messages', { timeout: 60_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon(FAST);
  const a = await s.client(d.url, { name: 'A' });
  const b = await s.client(d.url, { name: 'B', noStream: true }); // b only polls
  await a.ok('enter_queue', { display_name: 'Alice' });
  const { room_id: roomId } = await b.ok('enter_queue', { display_name: 'Bob' });

  // first poll: the chatroom.found, shaped {method, params}
  const first = await b.ok('wait_for_message', { timeout_s: 5 });
  assert.equal(first.events.length, 1);
  assert.deepEqual(Object.keys(first.events[0]).sort(), ['method', 'params']);
  assert.equal(first.events[0].method, 'chatroom.found');
  assert.equal(first.events[0].params.room_id, roomId);
  assert.equal(first.next, first.events[0].params.seq);
  const foundSeq = first.next;

  // nothing new: timeout_s 0 returns at once, same cursor; timeout_s 1 waits about a second
  let t0 = Date.now();
  const empty = await b.ok('wait_for_message', { timeout_s: 0 });
  assert.deepEqual(empty, { events: [], next: foundSeq });
  assert.ok(Date.now() - t0 < 500, 'timeout_s 0 should not wait');
  t0 = Date.now();
  const waited = await b.ok('wait_for_message', { timeout_s: 1 });
  const took = Date.now() - t0;
  assert.deepEqual(waited, { events: [], next: foundSeq });
  assert.ok(took >= 900 && took < 3000, `timeout_s 1 took ${took} ms`);

  // a blocked wait wakes up when a message arrives
  t0 = Date.now();
  const pending = b.ok('wait_for_message', { timeout_s: 10 });
  await sleep(200);
  const sent = await a.ok('send_message', { room_id: roomId, message: 'wake up' });
  const woke = await pending;
  assert.ok(Date.now() - t0 < 5000, 'the wait was not woken by the message');
  assert.equal(woke.events.length, 1);
  const m = woke.events[0];
  assert.deepEqual(Object.keys(m).sort(), ['method', 'params']);
  assert.equal(m.method, 'message.received');
  assert.equal(m.params.message, 'wake up');
  assert.equal(m.params.message_id, sent.message_id);
  assert.equal(m.params.timestamp, sent.timestamp);
  assert.deepEqual(m.params.sender, { display_name: 'Alice' });
  assert.equal(m.params.room_id, roomId);
  assert.equal(m.params.seq, foundSeq + 1);
  assert.equal(woke.next, m.params.seq);

  // `after` re-reads from any point still in the mailbox, without moving past new events
  const again = await b.ok('wait_for_message', { after: 0, timeout_s: 0 });
  assert.deepEqual(again.events.map((e) => e.params.seq), [foundSeq, foundSeq + 1]);
  assert.equal(again.next, foundSeq + 1);
  const fromFound = await b.ok('wait_for_message', { after: foundSeq, timeout_s: 0 });
  assert.deepEqual(fromFound.events.map((e) => e.params.message), ['wake up']);
  assert.deepEqual(await b.ok('wait_for_message', { timeout_s: 0 }), { events: [], next: foundSeq + 1 });

  // 500 messages a → b, b polling with the default cursor; a backs off on mailbox_full
  const N = 500;
  const expected = Array.from({ length: N }, (_, i) => `poll-${i}`);
  const got = [];
  let cursor = foundSeq + 1;
  const sender = (async () => { for (const text of expected) await sendPatiently(a, roomId, text); })();
  const poller = (async () => {
    const deadline = Date.now() + 40_000;
    while (got.length < N && Date.now() < deadline) {
      const r = await b.ok('wait_for_message', { timeout_s: 5 });
      if (r.events.length) {
        assert.equal(r.events[0].params.seq, cursor + 1, 'a gap or a repeat between polls');
        assert.equal(r.next, r.events.at(-1).params.seq);
      } else {
        assert.equal(r.next, cursor);
      }
      for (const e of r.events) assert.deepEqual(Object.keys(e).sort(), ['method', 'params']);
      got.push(...r.events);
      cursor = r.next;
    }
  })();
  await Promise.all([sender, poller]);
  assert.ok(got.every((e) => e.method === 'message.received'));
  assertExactlyInOrder(got, expected, 'polled a → b');
  assert.equal((await b.ok('get_status')).unread, 0);
  assert.equal(b.events.length, 0, 'b has no push stream, so nothing was pushed');
});

test('mailbox_full: 256 undelivered events refuse further messages; unread counts them; polling frees room', { timeout: 30_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon(FAST);
  const a = await s.client(d.url, { name: 'A' });
  const b = await s.client(d.url, { name: 'B', noStream: true });
  await a.ok('enter_queue', {});
  const { room_id: roomId } = await b.ok('enter_queue', {});
  let accepted = 0;
  let refusal = null;
  for (let i = 0; i < 300; i++) {
    const r = await a.call('send_message', { room_id: roomId, message: `m${i}` });
    if (r.isError) { refusal = assertToolError(r, 'mailbox_full', 'send_message'); break; }
    accepted++;
  }
  assert.ok(refusal, 'no mailbox_full after 300 undelivered messages');
  assert.ok(accepted >= 255 && accepted <= 256, `accepted ${accepted} before mailbox_full`);
  const st = await b.ok('get_status');
  assert.equal(st.unread, accepted + 1, 'unread = chatroom.found + accepted messages');
  const r = await b.ok('wait_for_message', { timeout_s: 0 });
  assert.equal(r.events.length, accepted + 1, 'every accepted message is still there');
  assertExactlyInOrder(r.events.slice(1), Array.from({ length: accepted }, (_, i) => `m${i}`), 'mailbox');
  assert.equal((await b.ok('get_status')).unread, 0);
  await a.ok('send_message', { room_id: roomId, message: 'after drain' });
  assert.equal((await b.ok('get_status')).unread, 1);
});

test('get_status: idle, waiting with position, in_room with partner, unread', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const a = await s.client(d.url, { name: 'A' });
  const b = await s.client(d.url, { name: 'B', noStream: true });
  assert.deepEqual(await a.ok('get_status'), { state: 'idle', unread: 0 });
  await a.ok('enter_queue', { display_name: 'Alice' });
  const w = await a.ok('get_status');
  assert.equal(w.state, 'waiting');
  assert.equal(w.position, 1);
  assert.equal(w.partner, undefined);
  const { room_id: roomId } = await b.ok('enter_queue', { display_name: 'Bob' });
  const sa = await a.ok('get_status');
  assert.equal(sa.state, 'in_room');
  assert.equal(sa.room_id, roomId);
  assert.deepEqual(sa.partner, { display_name: 'Bob' });
  assert.equal(sa.position, undefined);
  await a.waitEvent('chatroom.found');
  assert.equal((await a.ok('get_status')).unread, 0, 'pushed events are not unread');
  // b has no stream: chatroom.found and two messages are unread until polled
  await a.ok('send_message', { room_id: roomId, message: 'one' });
  await a.ok('send_message', { room_id: roomId, message: 'two' });
  const sb = await b.ok('get_status');
  assert.equal(sb.state, 'in_room');
  assert.deepEqual(sb.partner, { display_name: 'Alice' });
  assert.equal(sb.unread, 3);
  await b.ok('wait_for_message', { timeout_s: 0 });
  assert.equal((await b.ok('get_status')).unread, 0);
  await a.ok('leave_chat', { room_id: roomId });
  const after = await a.ok('get_status');
  assert.equal(after.state, 'idle');
  assert.equal(after.partner, undefined);
});

test('leave_chat: partner gets partner.disconnected "left"; later sends get room_closed; both may queue again', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const { a, b, roomId } = await matchedPair(s, d.url);
  await a.waitEvent('chatroom.found');
  await b.waitEvent('chatroom.found');
  await b.ok('send_message', { room_id: roomId, message: 'bye?' });
  assert.deepEqual(await a.ok('leave_chat', { room_id: roomId }), { status: 'left' });
  const ev = await b.waitEvent('partner.disconnected');
  assert.equal(ev.params.room_id, roomId);
  assert.equal(ev.params.reason, 'left');
  assert.equal(typeof ev.params.seq, 'number');
  const refused = await b.err('send_message', { room_id: roomId, message: 'still there?' }, 'room_closed');
  assert.ok(refused.message === undefined || typeof refused.message === 'string');
  const leaverSend = await a.call('send_message', { room_id: roomId, message: 'x' });
  assert.equal(leaverSend.isError, true);
  assert.ok(['room_closed', 'not_in_room'].includes(leaverSend.structuredContent.error), JSON.stringify(leaverSend.structuredContent));
  assert.equal(a.byMethod('partner.disconnected').length, 0, 'the leaver is not told its partner left');
  assert.equal((await b.ok('get_status')).state, 'idle');
  // leave_chat of a room that is not yours
  await assertToolError(await a.call('leave_chat', { room_id: 'never-was-mine' }), 'not_in_room');
  // both may enter the queue again (and with nobody else waiting they meet again)
  assert.equal((await a.ok('enter_queue', {})).status, 'waiting');
  const again = await b.ok('enter_queue', {});
  assert.equal(again.status, 'matched');
  assert.notEqual(again.room_id, roomId);
  // a third session sending into a room it is not in
  const c = await s.client(d.url);
  await c.err('send_message', { room_id: again.room_id, message: 'hi' }, 'not_in_room');
  // enter_queue while in a room is refused
  await a.err('enter_queue', {}, 'already_in_room');
});

test('DELETE of a session: partner gets "disconnected" and a later send gets partner_gone', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const { a, b, roomId } = await matchedPair(s, d.url, { reconnect: false });
  await b.waitEvent('chatroom.found');
  await a.terminate();
  const ev = await b.waitEvent('partner.disconnected');
  assert.equal(ev.params.reason, 'disconnected');
  assert.equal(ev.params.room_id, roomId);
  await b.err('send_message', { room_id: roomId, message: 'hello?' }, 'partner_gone');
  const st = await b.ok('get_status');
  assert.equal(st.state, 'idle');
});

test('idle timeout: a session with no stream and no requests ends; partner gets "timeout"', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon(['--session-idle-timeout', '1']);
  const a = await s.client(d.url, { name: 'A', noStream: true }); // never opens a push stream
  const b = await s.client(d.url, { name: 'B' });
  await b.waitStream(); // b's open push stream keeps it alive
  await a.ok('enter_queue', {});
  const { room_id: roomId } = await b.ok('enter_queue', {});
  const t0 = Date.now();
  const ev = await b.waitEvent('partner.disconnected', () => true, 6000);
  const took = Date.now() - t0;
  assert.equal(ev.params.reason, 'timeout');
  assert.equal(ev.params.room_id, roomId);
  assert.ok(took >= 700, `session ended after ${took} ms, before its 1 s idle timeout`);
  const r = await rawPost(d.url, a.sessionId, { jsonrpc: '2.0', id: 1, method: 'ping' });
  assert.equal(r.status, 404, 'the timed-out session id is gone');
  await b.err('send_message', { room_id: roomId, message: 'hi' }, 'partner_gone');
  // b, with its stream open, is still alive well past the timeout; so is a session that has
  // no stream but a wait_for_message in flight for longer than the timeout
  const c = await s.client(d.url, { name: 'C', noStream: true });
  const t1 = Date.now();
  assert.deepEqual(await c.ok('wait_for_message', { timeout_s: 2 }), { events: [], next: 0 });
  assert.ok(Date.now() - t1 >= 1900);
  assert.deepEqual(await c.ok('get_status'), { state: 'idle', unread: 0 });
  assert.deepEqual(await b.client.ping(), {});
});

test('named rooms: two meet, a third gets room_full, the id is reusable after both leave', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const [a, b, c, e, f] = await Promise.all(['A', 'B', 'C', 'E', 'F'].map((name) => s.client(d.url, { name })));
  const room = 'lobby_42-x';
  assert.deepEqual(sansChatId(await a.ok('join_room', { room_id: room, display_name: 'Ann' })), { status: 'waiting', room_id: room });
  assert.equal((await a.ok('get_status')).state, 'waiting');
  await a.err('enter_queue', {}, 'already_waiting');
  await a.err('join_room', { room_id: 'other-room' }, 'already_waiting');
  const rb = await b.ok('join_room', { room_id: room, display_name: 'Bea' });
  assert.deepEqual(sansChatId(rb), { status: 'matched', room_id: room, partner: { display_name: 'Ann' } });
  const fa = await a.waitEvent('chatroom.found');
  const fb = await b.waitEvent('chatroom.found');
  assert.equal(fa.params.room_id, room);
  assert.equal(fb.params.room_id, room);
  assert.deepEqual(fa.params.partner, { display_name: 'Bea' });
  assert.deepEqual(fb.params.partner, { display_name: 'Ann' });
  await c.err('join_room', { room_id: room }, 'room_full');
  await b.err('join_room', { room_id: room }, 'already_in_room');
  await a.ok('send_message', { room_id: room, message: 'in the lobby' });
  await b.waitEvent('message.received', (p) => p.message === 'in the lobby');
  assert.equal(c.byMethod('message.received').length, 0);
  assert.deepEqual(await a.ok('leave_chat', { room_id: room }), { status: 'left' });
  assert.equal((await b.waitEvent('partner.disconnected')).params.reason, 'left');
  assert.equal((await b.ok('leave_chat', { room_id: room })).status, 'left');
  // reuse
  assert.deepEqual(sansChatId(await e.ok('join_room', { room_id: room })), { status: 'waiting', room_id: room });
  const rf = await f.ok('join_room', { room_id: room });
  assert.equal(rf.status, 'matched');
  assert.equal(rf.room_id, room);
  // the old members are not in it
  const ghost = await a.call('send_message', { room_id: room, message: 'ghost' });
  assert.equal(ghost.isError, true, 'a former member could send into the reused room');
  assert.ok(['room_closed', 'not_in_room'].includes(ghost.structuredContent.error), JSON.stringify(ghost.structuredContent));
  await f.ok('send_message', { room_id: room, message: 'new pair' });
  await e.waitEvent('message.received', (p) => p.message === 'new pair');
  assert.equal(a.byMethod('message.received').length, 0);
  assert.equal(b.byMethod('message.received').filter((m) => m.params.message === 'new pair').length, 0);
  // leaving while waiting in a named room frees it
  await c.ok('join_room', { room_id: 'solo' });
  assert.deepEqual(await c.ok('leave_chat', { room_id: 'solo' }), { status: 'left' });
  assert.equal((await c.ok('get_status')).state, 'idle');
  assert.deepEqual(sansChatId(await a.ok('join_room', { room_id: 'solo' })), { status: 'waiting', room_id: 'solo' });
});

test('interests: two sharing a tag are matched ahead of an earlier waiter without it', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const [w1, w2, w3] = await Promise.all(['W1', 'W2', 'W3'].map((name) => s.client(d.url, { name })));
  assert.equal((await w1.ok('enter_queue', { display_name: 'dog-person', interests: ['dogs'] })).status, 'waiting');
  const r2 = await w2.ok('enter_queue', { display_name: 'cat-person', interests: ['cats', 'jazz'] });
  assert.equal(r2.status, 'waiting', 'no shared interest and nobody waited 10 s: keep waiting');
  assert.equal(r2.position, 2);
  const r3 = await w3.ok('enter_queue', { display_name: 'cat-fan', interests: ['chess', 'cats'] });
  assert.equal(r3.status, 'matched');
  assert.deepEqual(r3.partner, { display_name: 'cat-person' });
  const f2 = await w2.waitEvent('chatroom.found');
  assert.equal(f2.params.room_id, r3.room_id);
  const st1 = await w1.ok('get_status');
  assert.equal(st1.state, 'waiting');
  assert.equal(st1.position, 1);
  assert.equal(w1.byMethod('chatroom.found').length, 0);
});

test('self is never matched: enter_queue twice stays waiting with the same position', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const a = await s.client(d.url);
  const r1 = await a.ok('enter_queue', { display_name: 'Solo' });
  const r2 = await a.ok('enter_queue', { display_name: 'Solo' });
  const r3 = await a.ok('enter_queue', {});
  assert.deepEqual(sansChatId(r1), { status: 'waiting', position: 1 });
  assert.deepEqual(r2, r1);
  assert.deepEqual(r3, r1);
  await sleep(300);
  assert.equal(a.byMethod('chatroom.found').length, 0);
  const st = await a.ok('get_status');
  assert.equal(st.state, 'waiting');
  assert.equal(st.position, 1);
  // leaving the queue (room_id is not meaningful there) moves those behind up. x and y hold out
  // for their own interests (10 s), so they do not take Solo meanwhile (as the reference peer).
  const x = await s.client(d.url);
  const y = await s.client(d.url);
  assert.deepEqual(sansChatId(await x.ok('enter_queue', { interests: ['only-x'] })), { status: 'waiting', position: 2 });
  assert.deepEqual(sansChatId(await y.ok('enter_queue', { interests: ['only-y'] })), { status: 'waiting', position: 3 });
  assert.deepEqual(await x.ok('leave_chat', { room_id: 'queue' }), { status: 'left' });
  assert.deepEqual(await x.ok('get_status'), { state: 'idle', unread: 0 });
  const sy = await y.ok('get_status');
  assert.equal(sy.state, 'waiting');
  assert.equal(sy.position, 2);
  await y.ok('leave_chat', { room_id: 'queue' });
  // a second waiter is behind, then both are matched together
  const b = await s.client(d.url);
  const rb = await b.ok('enter_queue', {});
  assert.equal(rb.status, 'matched');
  assert.deepEqual(rb.partner, { display_name: 'Solo' });
});

test('rate limit (defaults): a burst of 20 passes, the rest get rate_limited with retry_after_ms', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const { a, b, roomId } = await matchedPair(s, d.url);
  await b.waitStream();
  // 30 at once: the burst of 20 passes, the rest are refused, but for the tokens that came
  // back (5 a second) while the burst was on its way (a cluster behind a proxy is slower).
  const t0 = Date.now();
  const results = await Promise.all(Array.from({ length: 30 }, (_, i) => a.call('send_message', { room_id: roomId, message: `burst ${i}` })));
  const took = (Date.now() - t0) / 1000;
  const passed = results.filter((r) => !r.isError).map((r) => assertOk(r, 'burst send'));
  const refused = results.filter((r) => r.isError).map((r) => assertToolError(r, 'rate_limited', 'burst send'));
  assert.ok(passed.length >= 20, `only ${passed.length} of the burst passed`);
  assert.ok(passed.length <= 20 + Math.ceil(5 * took), `${passed.length} passed in ${took} s`);
  assert.ok(refused.length >= 1, `all 30 passed in ${took} s`);
  const limited = refused[0];
  assert.equal(typeof limited.retry_after_ms, 'number');
  assert.ok(limited.retry_after_ms > 0 && limited.retry_after_ms <= 1000, `retry_after_ms ${limited.retry_after_ms}`);
  await waitFor(() => messages(b).length >= passed.length, 5000, `${passed.length} messages`);
  await sleep(100);
  assert.equal(messages(b).length, passed.length, 'a refused message was delivered');
  // the partner's own budget is separate
  await b.ok('send_message', { room_id: roomId, message: 'my own bucket' });
  await sleep(limited.retry_after_ms + 20);
  await a.ok('send_message', { room_id: roomId, message: 'after waiting' });
  await b.waitEvent('message.received', (p) => p.message === 'after waiting');
});

test('invalid arguments are tool errors naming the field; an unknown tool is JSON-RPC -32602', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const { a, b, roomId } = await matchedPair(s, d.url);
  const invalid = async (tool, args, field) => {
    const r = await a.call(tool, args);
    const sc = assertToolError(r, 'invalid_arguments', `${tool}(${JSON.stringify(args).slice(0, 80)})`);
    assert.ok(r.content[0].text.includes(field), `${tool}: the sentence does not name ${field}: ${r.content[0].text}`);
    assert.equal(sc.field, field, `${tool}: structuredContent.field`);
    return sc;
  };
  await invalid('send_message', { room_id: roomId, message: 'x'.repeat(4097) }, 'message');
  await invalid('send_message', { room_id: roomId, message: 'é'.repeat(2049) }, 'message'); // 4098 bytes
  await invalid('send_message', { room_id: roomId, message: '' }, 'message');
  await invalid('send_message', { room_id: roomId, message: 42 }, 'message');
  await invalid('send_message', { room_id: roomId }, 'message');
  await invalid('send_message', { room_id: 'no spaces!', message: 'hi' }, 'room_id');
  await invalid('join_room', { room_id: 'bad/room' }, 'room_id');
  await invalid('join_room', { room_id: 'r'.repeat(65) }, 'room_id');
  await invalid('join_room', { room_id: '' }, 'room_id');
  await invalid('join_room', {}, 'room_id');
  await invalid('leave_chat', { room_id: 'ü' }, 'room_id');
  await invalid('enter_queue', { display_name: 'n'.repeat(33) }, 'display_name');
  await invalid('enter_queue', { display_name: '' }, 'display_name');
  await invalid('enter_queue', { interests: Array.from({ length: 9 }, (_, i) => `t${i}`) }, 'interests');
  await invalid('enter_queue', { interests: ['x'.repeat(25)] }, 'interests');
  await invalid('wait_for_message', { timeout_s: 301 }, 'timeout_s');
  await invalid('wait_for_message', { timeout_s: -1 }, 'timeout_s');
  await invalid('wait_for_message', { after: 'soon' }, 'after');
  // the limits themselves pass
  await a.ok('send_message', { room_id: roomId, message: 'x'.repeat(4096) });
  await a.ok('send_message', { room_id: roomId, message: 'é'.repeat(2048) });
  await a.ok('send_message', { room_id: roomId, message: '😀'.repeat(1024) });
  await waitFor(() => messages(b).length >= 3, 5000, 'boundary messages');
  assert.deepEqual(messages(b).map((m) => Buffer.byteLength(m.params.message)), [4096, 4096, 4096]);
  assert.equal(messages(b)[2].params.message, '😀'.repeat(1024));
  // nothing invalid was delivered
  assert.equal(messages(b).length, 3);
  // unknown tool
  await assert.rejects(a.call('no_such_tool', {}), (err) => {
    assert.ok(err instanceof McpError, `expected McpError, got ${err}`);
    assert.equal(err.code, -32602);
    return true;
  });
  // the session still works
  assert.equal((await a.ok('get_status')).state, 'in_room');
});

test('push stream dropped and resumed with Last-Event-ID: exactly the missed events, in order, once', { timeout: 30_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon(FAST);
  const a = await rawSession(d.url);
  const b = await rawSession(d.url);
  assertOk(await rawCall(d.url, a, 'enter_queue', { display_name: 'Reader' }));
  const matched = assertOk(await rawCall(d.url, b, 'enter_queue', { display_name: 'Writer' }));
  const roomId = matched.room_id;
  const send = async (text) => assertOk(await rawCall(d.url, b, 'send_message', { room_id: roomId, message: text }));

  const s1 = await openSse(d.url, a, { signal: s.abortController().signal });
  assert.equal(s1.status, 200);
  assert.match(s1.headers.get('content-type'), /^text\/event-stream/);
  for (let i = 0; i < 3; i++) await send(`before-${i}`);
  await waitFor(() => s1.events.length >= 4, 5000, 'first 4 events on the stream');
  await sleep(50);
  const seen = s1.events.slice();
  assert.equal(seen.length, 4, `unexpected events: ${JSON.stringify(seen.map((e) => e.data))}`);
  assert.equal(seen[0].json.method, 'chatroom.found');
  for (const ev of seen) {
    assert.equal(ev.json.jsonrpc, '2.0');
    assert.equal(ev.json.id, undefined, 'a push event is a notification');
    assert.equal(ev.id, String(ev.json.params.seq), 'the SSE id is the event seq');
  }
  assert.deepEqual(seen.slice(1).map((e) => e.json.params.message), ['before-0', 'before-1', 'before-2']);
  const lastId = seen.at(-1).id;

  s1.abort();
  await s1.closed;
  await sleep(100);
  const missed = Array.from({ length: 10 }, (_, i) => `missed-${i}`);
  for (const text of missed) await send(text);
  await sleep(100);

  const s2 = await openSse(d.url, a, { lastEventId: lastId, signal: s.abortController().signal });
  assert.equal(s2.status, 200);
  await waitFor(() => s2.events.length >= missed.length, 5000, 'replayed events');
  await sleep(200); // nothing extra may follow
  assert.deepEqual(s2.events.map((e) => e.json.params.message), missed, 'replay is not exactly the missed events');
  assert.deepEqual(s2.events.map((e) => Number(e.id)), missed.map((_, i) => Number(lastId) + 1 + i));
  // live events continue on the resumed stream, with the next id
  await send('live');
  await waitFor(() => s2.events.length >= missed.length + 1, 5000, 'live event after replay');
  await sleep(100);
  assert.equal(s2.events.length, missed.length + 1);
  assert.equal(s2.events.at(-1).json.params.message, 'live');
  assert.equal(Number(s2.events.at(-1).id), Number(lastId) + missed.length + 1);
  s2.abort();
  await s2.closed;

  // resuming from an older id replays from there (still in the replay window), in order
  const s3 = await openSse(d.url, a, { lastEventId: seen[1].id, signal: s.abortController().signal });
  assert.equal(s3.status, 200);
  const expectAll = ['before-1', 'before-2', ...missed, 'live'];
  await waitFor(() => s3.events.length >= expectAll.length, 5000, 'replay from an older id');
  await sleep(100);
  assert.deepEqual(s3.events.map((e) => e.json.params.message), expectAll);
  s3.abort();
  await s3.closed;
});

test('a fresh GET first delivers events raised before any stream was open, and only once', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const a = await rawSession(d.url);
  const b = await rawSession(d.url);
  assertOk(await rawCall(d.url, a, 'enter_queue', { display_name: 'Late' }));
  const { room_id: roomId } = assertOk(await rawCall(d.url, b, 'enter_queue', { display_name: 'Early' }));
  assertOk(await rawCall(d.url, b, 'send_message', { room_id: roomId, message: 'sent before you listened' }));
  const st = assertOk(await rawCall(d.url, a, 'get_status'));
  assert.equal(st.unread, 2);

  const s1 = await openSse(d.url, a, { signal: s.abortController().signal });
  assert.equal(s1.status, 200);
  await waitFor(() => s1.events.length >= 2, 5000, 'backlog on a fresh GET');
  await sleep(100);
  assert.deepEqual(s1.events.map((e) => e.json.method), ['chatroom.found', 'message.received']);
  assert.equal(s1.events[0].json.params.room_id, roomId);
  assert.deepEqual(s1.events[0].json.params.partner, { display_name: 'Early' });
  assert.equal(s1.events[1].json.params.message, 'sent before you listened');
  assert.equal(assertOk(await rawCall(d.url, a, 'get_status')).unread, 0);
  s1.abort();
  await s1.closed;
  await sleep(100);

  // a second fresh GET does not repeat what the first delivered; new events still come
  const s2 = await openSse(d.url, a, { signal: s.abortController().signal });
  assert.equal(s2.status, 200);
  await sleep(200);
  assert.equal(s2.events.length, 0, `repeated: ${JSON.stringify(s2.events.map((e) => e.data))}`);
  assertOk(await rawCall(d.url, b, 'send_message', { room_id: roomId, message: 'now' }));
  await waitFor(() => s2.events.length >= 1, 5000, 'live event');
  assert.equal(s2.events[0].json.params.message, 'now');
  assert.equal(Number(s2.events[0].id), Number(s1.events[1].id) + 1);
  s2.abort();
  await s2.closed;
});

test('10 pairs chatting at once: everyone gets exactly their partner\'s messages', { timeout: 60_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon(FAST);
  const P = 10;
  const M = 50;
  const clients = await Promise.all(Array.from({ length: 2 * P }, (_, i) => s.client(d.url, { name: `u${i}` })));
  await Promise.all(clients.map((c) => c.waitStream()));
  await Promise.all(clients.map((c, i) => c.ok('enter_queue', { display_name: `user-${i}` })));
  await Promise.all(clients.map((c) => c.waitEvent('chatroom.found')));
  const byName = new Map(clients.map((c, i) => [`user-${i}`, c]));
  const rooms = new Set();
  for (const [name, c] of byName) {
    const found = c.byMethod('chatroom.found');
    assert.equal(found.length, 1, `${name} found ${found.length} rooms`);
    const partner = byName.get(found[0].params.partner.display_name);
    assert.ok(partner && partner !== c, `${name}: bad partner ${found[0].params.partner.display_name}`);
    const back = partner.byMethod('chatroom.found')[0];
    assert.equal(back.params.partner.display_name, name, 'pairing is not symmetric');
    assert.equal(back.params.room_id, found[0].params.room_id);
    rooms.add(found[0].params.room_id);
  }
  assert.equal(rooms.size, P, 'expected 10 distinct rooms');
  const nameOf = new Map([...byName].map(([n, c]) => [c, n]));
  await Promise.all(clients.map(async (c) => {
    const roomId = c.byMethod('chatroom.found')[0].params.room_id;
    for (let i = 0; i < M; i++) await c.ok('send_message', { room_id: roomId, message: `${nameOf.get(c)}#${i}` });
  }));
  await waitFor(() => clients.every((c) => messages(c).length >= M), 20_000, 'all pair messages');
  await sleep(100);
  for (const c of clients) {
    const found = c.byMethod('chatroom.found')[0].params;
    const partnerName = found.partner.display_name;
    const got = messages(c);
    assert.ok(got.every((m) => m.params.room_id === found.room_id), 'a message from another room');
    assert.ok(got.every((m) => m.params.sender.display_name === partnerName), 'a message from someone else');
    assertExactlyInOrder(got, Array.from({ length: M }, (_, i) => `${partnerName}#${i}`), `${nameOf.get(c)} ← ${partnerName}`);
  }
});

test('a message with a lone UTF-16 surrogate (not valid UTF-8) is invalid_arguments, not a parse error', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const { a, b, roomId } = await matchedPair(s, d.url);
  // JSON.stringify writes the lone surrogate as the escape \ud800: valid JSON text (RFC 8259
  // grammar), but the string it denotes is not valid UTF-8, so the contract's answer is a tool
  // error naming `message` that a model can act on.
  const r = await a.call('send_message', { room_id: roomId, message: 'bad \ud800 surrogate' });
  const sc = assertToolError(r, 'invalid_arguments', 'send_message(lone surrogate)');
  assert.ok(r.content[0].text.includes('message'), r.content[0].text);
  assert.equal(sc.field, 'message', 'structuredContent.field');
  await sleep(100);
  assert.equal(messages(b).length, 0);
});

test('messages arrive byte-exact: quotes, backslashes, controls, line separators, emoji', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const { a, b, roomId } = await matchedPair(s, d.url);
  const texts = [
    'plain',
    'quote " backslash \\ slash / tab \t newline \n cr \r',
    'controls \u0001\u001f\u007f end',
    'separators \u2028 \u2029 bom \ufeff',
    'emoji 😀👍🏽 and ünïcødé 中文',
    '</script><script>alert(1)</script>',
    '{"jsonrpc":"2.0","method":"chatroom.found"}',
    ' leading and trailing spaces ',
  ];
  for (const text of texts) await a.ok('send_message', { room_id: roomId, message: text });
  await waitFor(() => messages(b).length >= texts.length, 5000, 'all messages');
  assert.deepEqual(messages(b).map((m) => m.params.message), texts);
  const polled = await b.ok('wait_for_message', { after: 0, timeout_s: 0 });
  assert.deepEqual(polled.events.filter((e) => e.method === 'message.received').map((e) => e.params.message), texts);
  // display names survive too
  const c = await s.client(d.url);
  const e = await s.client(d.url);
  await c.ok('enter_queue', { display_name: 'Zoë "the" 🦊' });
  assert.deepEqual((await e.ok('enter_queue', {})).partner, { display_name: 'Zoë "the" 🦊' });
});

test('a message containing U+0000 is delivered intact or refused, never truncated after success', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const { a, b, roomId } = await matchedPair(s, d.url);
  const text = 'before\u0000after';
  const r = await a.call('send_message', { room_id: roomId, message: text });
  if (r.isError) {
    const sc = assertToolError(r, 'invalid_arguments', 'send_message(NUL)');
    assert.ok(r.content[0].text.includes('message'));
    assert.equal(sc.field, 'message', 'structuredContent.field');
    await sleep(200);
    assert.equal(messages(b).length, 0, 'a refused message was delivered');
  } else {
    assertOk(r, 'send_message(NUL)');
    const ev = await b.waitEvent('message.received');
    assert.equal(ev.params.message, text, `send_message succeeded but delivered ${JSON.stringify(ev.params.message)}`);
  }
});

/** A GET push stream over node:http whose reading can be paused (TCP back-pressure). */
function pausableSse(url, sid, lastEventId) {
  const u = new URL(url);
  const st = { events: [], ended: false, res: null };
  st.closed = new Promise((resolve) => {
    const headers = { Accept: 'text/event-stream', 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': PROTOCOL_VERSION };
    if (lastEventId !== undefined) headers['Last-Event-ID'] = String(lastEventId);
    const req = http.get({ host: u.hostname, port: u.port, path: u.pathname, headers, agent: false }, (res) => {
      st.res = res;
      st.status = res.statusCode;
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk) => {
        buf += chunk.replace(/\r\n?/g, '\n');
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let id;
          const data = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('id:')) id = line.slice(3).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
          }
          if (data.length) st.events.push({ id, json: JSON.parse(data.join('\n')) });
        }
      });
      res.on('close', () => { st.ended = true; resolve(); });
    });
    req.on('error', () => { st.ended = true; resolve(); });
    st.req = req;
  });
  st.destroy = () => st.req.destroy();
  return st;
}

test('a push stream that stops reading loses nothing: later reads or a Last-Event-ID resume get every message once', { timeout: 40_000 }, async (t) => {
  const s = scope();
  const streams = [];
  t.after(async () => { for (const st of streams) st.destroy(); await s.cleanup(); });
  const d = await s.daemon(FAST);
  const a = await rawSession(d.url);
  const b = await s.client(d.url, { name: 'Writer' });
  assertOk(await rawCall(d.url, a, 'enter_queue', {}));
  const { room_id: roomId } = await b.ok('enter_queue', {});
  const st1 = pausableSse(d.url, a);
  streams.push(st1);
  await waitFor(() => st1.events.length >= 1, 5000, 'chatroom.found');
  st1.res.pause(); // stop reading: the daemon's writes back up
  const N = 240; // under the 256-event replay window, ~1 MiB: well past the 256 KiB send queue
  const body = 'z'.repeat(4000);
  const expected = Array.from({ length: N }, (_, i) => `${i}:${body}`);
  for (const text of expected) await sendPatiently(b, roomId, text);
  await sleep(300);
  st1.res.resume();
  await waitFor(() => st1.ended || st1.events.length >= N + 1, 15_000, 'the first stream to drain or end');
  let got = st1.events.slice(1);
  if (got.length < N) {
    // the daemon closed the backed-up stream: resume from the last event read
    t.diagnostic(`stream closed after ${got.length} of ${N}; resuming`);
    const last = st1.events.at(-1).id;
    const st2 = pausableSse(d.url, a, last);
    streams.push(st2);
    await waitFor(() => st2.events.length >= N - got.length, 15_000, 'the resumed stream');
    await sleep(200);
    got = got.concat(st2.events);
  } else {
    t.diagnostic('the stream stayed open and drained');
    await sleep(200);
    got = st1.events.slice(1);
  }
  const texts = got.map((e) => e.json.params.message);
  assert.equal(new Set(got.map((e) => e.id)).size, got.length, 'an event arrived twice');
  assert.equal(texts.length, N, `got ${texts.length} of ${N}`);
  assert.ok(texts.every((x, i) => x === expected[i]), 'messages out of order or altered');
});
