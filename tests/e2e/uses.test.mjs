// Where the chat uses MCP's other features (README): log notifications of chat happenings to
// a client that asked for them (logging/setLevel in a 2025 session, _meta logLevel on
// 2026-07-28), progress while wait_for_message waits, and nothing of it for a client that did
// not ask. Official SDK clients: v1 for 2025 sessions, v2 for 2026-07-28.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { scope, sleep, assertOk, withTimeout } from './helpers.mjs';
import { modernTarget, modernClient, modernChat, roomName, PEER2_URL } from './modern-helpers.mjs';


/** The log notifications a v1 client got so far: [{level, logger, data}]. */
const logs = (c) => c.byMethod('notifications/message').map((e) => e.params);
const sentences = (c) => logs(c).map((p) => p.data);

/** Asserts no log notification carries any of the secrets (text, names, ids). */
function assertDiscreet(all, secrets, what) {
  const text = JSON.stringify(all);
  for (const s of secrets) {
    if (s) assert.ok(!text.includes(s), `${what}: a log notification discloses ${JSON.stringify(s)}: ${text}`);
  }
}

/** A daemon whose waiting calls send a keep-alive (progress) every second. */
async function daemonFastKeepalive(s) {
  const dir = mkdtempSync(path.join(tmpdir(), 'mcpchat-uses-'));
  const file = path.join(dir, 'mcp-chatd.ini');
  writeFileSync(file, '[timeouts]\nsse_keepalive_s = 1\n');
  s.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return s.daemon(['--config', file]);
}

test('logging: chat happenings at info, on the call that causes them, only after logging/setLevel', {}, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon([]);
  const a = await s.client(d.url, { name: 'asker' });
  const b = await s.client(d.url, { name: 'silent' });
  await a.client.setLoggingLevel('info');

  const ra = await a.ok('enter_queue', { display_name: 'Alice' });
  assert.equal(ra.status, 'waiting');
  // The notification came on the call's own answer, before its result.
  assert.deepEqual(logs(a), [{ level: 'info', logger: 'chat', data: 'Waiting in the queue at position 1' }]);
  const rb = await b.ok('enter_queue', { display_name: 'Bob' });
  assert.equal(rb.status, 'matched');
  const room = rb.room_id;

  await b.ok('send_message', { room_id: room, message: 'my secret words' });
  // On a cluster node the session's mailbox is a copy of its chat in Redis, filled as the
  // doorbells come: the message may follow the match in a second answer.
  const events = [];
  while (!events.some((e) => e.method === 'message.received')) events.push(...(await a.ok('wait_for_message', { timeout_s: 5 })).events);
  assert.deepEqual(events.map((e) => e.method), ['chatroom.found', 'message.received']);
  assert.deepEqual(sentences(a).slice(1), ['Matched with a partner: you can send messages now', '1 new message from your partner']);

  await a.ok('send_message', { room_id: room, message: 'hello Bob' });
  assert.equal(sentences(a).at(-1), "Message delivered to your partner's mailbox");
  await b.ok('leave_chat', { room_id: room });
  await a.ok('wait_for_message', { timeout_s: 5 });
  assert.equal(sentences(a).at(-1), 'Your partner left the chat');
  await a.ok('get_status');
  assert.equal(logs(a).length, 5, `get_status logs nothing: ${JSON.stringify(sentences(a))}`);

  // B never asked: not one log notification, whatever it did.
  await b.ok('wait_for_message', { timeout_s: 0 });
  assert.deepEqual(logs(b), [], 'a client that did not call logging/setLevel got log notifications');
  assertDiscreet(logs(a), ['Alice', 'Bob', 'my secret words', 'hello Bob', room, ra.chat_id, rb.chat_id,
    a.sessionId, b.sessionId], 'asker');
});

test('logging: the level filters (warning lets no info through), and a later info opens it', {}, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon([]);
  const a = await s.client(d.url, { name: 'warned' });
  await a.client.setLoggingLevel('warning');
  const room = `uses-${process.pid}-${Date.now().toString(36)}`;
  await a.ok('join_room', { room_id: room, display_name: 'Wanda' });
  await a.ok('leave_chat', { room_id: room });
  assert.deepEqual(logs(a), [], 'info notifications went through a warning level');
  await a.client.setLoggingLevel('debug');
  await a.ok('join_room', { room_id: room });
  assert.deepEqual(sentences(a), ['Waiting in the room for someone to join']);
  await a.ok('leave_chat', { room_id: room });
  assert.deepEqual(sentences(a), ['Waiting in the room for someone to join', 'You left the chat']);
  assertDiscreet(logs(a), [room, 'Wanda'], 'warned');
});

test('progress: a waiting wait_for_message sends notifications/progress to a v1 client with onprogress', { timeout: 30_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await daemonFastKeepalive(s);
  const a = await s.client(d.url, { name: 'waiter' });
  const b = await s.client(d.url, { name: 'talker' });
  await a.ok('enter_queue', {});
  const rb = await b.ok('enter_queue', {});
  await a.ok('wait_for_message', { timeout_s: 5 }); // chatroom.found

  const progress = [];
  const t0 = Date.now();
  // 3.5 s of waiting under a 2.5 s request timeout: only the progress keeps the SDK waiting.
  const r = await a.client.callTool({ name: 'wait_for_message', arguments: { timeout_s: 3.5 } }, undefined,
    { onprogress: (p) => progress.push(p), timeout: 2500, resetTimeoutOnProgress: true });
  assert.deepEqual(assertOk(r, 'wait_for_message').events, []);
  assert.ok(Date.now() - t0 >= 3000, `the wait ended after ${Date.now() - t0} ms`);
  assert.ok(progress.length >= 2, `progress notifications: ${JSON.stringify(progress)}`);
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i].progress > progress[i - 1].progress, 'progress does not grow');
  assert.ok(progress.every((p) => p.total === undefined), 'a wait has no total: it ends on an event');

  // An event ends a wait that reports progress, and the progress tells nothing of it.
  const pending = a.client.callTool({ name: 'wait_for_message', arguments: { timeout_s: 20 } }, undefined,
    { onprogress: (p) => progress.push(p), timeout: 25_000 });
  await sleep(1500);
  await b.ok('send_message', { room_id: rb.room_id, message: 'worth the wait' });
  const got = assertOk(await withTimeout(pending, 5000, 'wait_for_message'), 'wait_for_message');
  assert.deepEqual(got.events.map((e) => e.params.message), ['worth the wait']);
  assert.ok(!JSON.stringify(progress).includes('worth the wait'));
  // No log notifications came: this client never asked for them.
  assert.deepEqual(logs(a), []);
});

test('modern: log notifications only for a request whose _meta names a logLevel', { skip: PEER2_URL ? 'needs the daemon' : false }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const { url } = await modernTarget(s);
  const ma = await modernClient(s, url, { name: 'modern-asker' });
  const got = [];
  ma.client.setNotificationHandler('notifications/message', (n) => { got.push(n.params); });
  const a = modernChat(ma, 'Maud');
  const room = roomName('uses');
  const meta = { 'io.modelcontextprotocol/logLevel': 'info' };
  const first = assertOk(await ma.client.callTool({ name: 'join_room', arguments: { room_id: room, display_name: 'Maud' }, _meta: meta },
    { timeout: 10_000 }), 'join_room');
  a.adopt(first);
  assert.deepEqual(got, [{ level: 'info', logger: 'chat', data: 'Waiting in the room for someone to join' }]);
  // A wait that waited logs when it ends, as one that answered at once.
  const mb = await modernClient(s, url, { name: 'modern-partner' });
  const b = modernChat(mb, 'Bea');
  await b.joinRoom(room);
  const wait = async () => {
    const r = assertOk(await ma.client.callTool({ name: 'wait_for_message', arguments: a.args({ after: a.next, timeout_s: 10 }), _meta: meta },
      { timeout: 20_000 }), 'wait_for_message');
    a.next = r.next;
    return r.events;
  };
  assert.equal((await wait())[0].method, 'chatroom.found');
  const waiting = wait();
  await sleep(300);
  await b.readUntil('chatroom.found');
  await b.send('hello');
  assert.equal((await waiting).length, 1);
  assert.deepEqual(got.slice(1).map((g) => g.data), ['Matched with a partner: you can send messages now', '1 new message from your partner']);
  got.length = 1;
  // Without the _meta key: nothing (2026-07-28 changelog: the server MUST NOT send then).
  await a.status();
  await a.leave();
  assert.equal(got.length, 1, `log notifications without a logLevel: ${JSON.stringify(got)}`);
  // A level above info lets nothing through.
  await ma.client.callTool({ name: 'join_room', arguments: a.args({ room_id: room }), _meta: { 'io.modelcontextprotocol/logLevel': 'error' } },
    { timeout: 10_000 });
  assert.equal(got.length, 1, `info went through an error level: ${JSON.stringify(got)}`);
  assertDiscreet(got, [room, 'Maud', a.chatId], 'modern');
});
