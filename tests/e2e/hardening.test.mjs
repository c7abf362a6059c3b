// Issue 12 end to end: a cancelled wait_for_message loses nothing, every mailbox stays bounded
// (memory flat under a join/leave loop), tools/list states the live limits (after a reload
// too), and a client that vanishes without DELETE is reported within the reconnect grace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { McpError, ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import {
  scope, matchedPair, waitFor, sleep, rawSession, rawCall, rawPost, openSse,
} from './helpers.mjs';

const FAST = ['--rate', '1000000', '--burst', '1000000'];

function tempConfig(text) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpchat-hard-'));
  const file = path.join(dir, 'mcp-chat.conf');
  fs.writeFileSync(file, text);
  return { file, dir, write: (t) => fs.writeFileSync(file, t), remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Rejects with the SDK's RequestTimeout; anything else fails the test. */
async function expectTimeout(promise, what) {
  await assert.rejects(promise, (e) => e instanceof McpError && e.code === ErrorCode.RequestTimeout, what);
}

const isWaitCall = (init) => typeof init?.body === 'string' && init.body.includes('"wait_for_message"');

test('a wait_for_message the SDK client gives up on (request timeout) loses nothing: parked on the POST stream', { timeout: 30_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon(FAST);
  // Like mcp-remote: the client reads with wait_for_message and no push stream.
  const { a, b, roomId } = await matchedPair(s, d.url, { noStream: true });
  await a.ok('wait_for_message', { timeout_s: 0 }); // takes chatroom.found
  for (let round = 0; round < 3; round++) {
    // The server would wait 30 s; the client's own timeout fires after 300 ms and it sends
    // notifications/cancelled. The daemon must drop the call without moving the cursor.
    await expectTimeout(a.call('wait_for_message', { timeout_s: 30 }, 300), 'client-side timeout');
    await b.ok('send_message', { room_id: roomId, message: `after cancel ${round}` });
    const got = await a.ok('wait_for_message', { timeout_s: 5 });
    assert.equal(got.events.length, 1, `round ${round}: the message after a cancelled wait was lost: ${JSON.stringify(got)}`);
    assert.equal(got.events[0].params.message, `after cancel ${round}`);
  }
  assert.deepEqual(a.errors.filter((e) => !/timed out/i.test(String(e))), [], 'client errors');
  assert.doesNotMatch(d.stderr(), /after cancel/, 'message text in the log');
});

test('a wait_for_message answered as JSON whose answer arrives after the client gave up is handed out again', { timeout: 30_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon(FAST);
  // The answer to a wait call is held back 400 ms on the client side, past its 150 ms
  // timeout: the daemon has answered (JSON, events in hand) when the cancellation comes.
  let delay = false;
  const wrapFetch = (f) => async (input, init) => {
    const res = await f(input, init);
    if (delay && isWaitCall(init)) await sleep(400);
    return res;
  };
  const { a, b, roomId } = await matchedPair(s, d.url, { noStream: true, wrapFetch });
  await b.ok('send_message', { room_id: roomId, message: 'first' });
  await b.ok('send_message', { room_id: roomId, message: 'second' });
  delay = true;
  await expectTimeout(a.call('wait_for_message', { timeout_s: 0 }, 150), 'client-side timeout');
  await sleep(500); // the cancellation went out after the answer
  delay = false;
  const got = await a.ok('wait_for_message', { timeout_s: 0 });
  assert.deepEqual(got.events.map((e) => e.method), ['chatroom.found', 'message.received', 'message.received'],
    `events the client never saw were lost: ${JSON.stringify(got)}`);
  assert.deepEqual(got.events.slice(1).map((e) => e.params.message), ['first', 'second']);
  // Once seen, they are not handed out again.
  assert.deepEqual((await a.ok('wait_for_message', { timeout_s: 0 })).events, []);
});

/** VmRSS of a process in KiB. */
function rssKiB(pid) {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  return Number(m[1]);
}

test('join_room / join_room / leave_chat loops with nobody reading: mailbox_full, unread bounded, memory flat', { timeout: 120_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  // No ASan quarantine, so freed memory shows as freed (ignored by a build without ASan).
  const d = await s.daemon(FAST, { env: { ASAN_OPTIONS: 'detect_leaks=1:quarantine_size_mb=0' } });
  const a = await rawSession(d.url);
  const b = await rawSession(d.url);
  const loop = async (n) => {
    const codes = {};
    for (let i = 0; i < n; i++) {
      for (const sid of [a, b]) {
        const r = await rawCall(d.url, sid, 'join_room', { room_id: 'loop' });
        const code = r.isError ? r.structuredContent.error : r.structuredContent.status;
        codes[code] = (codes[code] ?? 0) + 1;
      }
      await rawCall(d.url, a, 'leave_chat', { room_id: 'loop' });
      await rawCall(d.url, b, 'leave_chat', { room_id: 'loop' });
    }
    return codes;
  };
  const warm = await loop(1000);
  assert.ok(warm.mailbox_full > 0, `no mailbox_full after 1000 loops: ${JSON.stringify(warm)}`);
  const rss0 = rssKiB(d.pid);
  const codes = await loop(4000);
  const rss1 = rssKiB(d.pid);
  assert.ok(codes.mailbox_full >= 4000, `the loop was not refused: ${JSON.stringify(codes)}`);
  const refusal = await rawCall(d.url, b, 'join_room', { room_id: 'x' });
  assert.equal(refusal.structuredContent.error, 'mailbox_full');
  assert.match(refusal.content[0].text, /read your events first/);
  for (const sid of [a, b]) {
    const st = (await rawCall(d.url, sid, 'get_status')).structuredContent;
    assert.ok(st.unread <= 258, `unread ${st.unread} past the mailbox bound`);
  }
  assert.ok(rss1 - rss0 < 1024, `RSS grew ${rss1 - rss0} KiB over 4000 loops (${rss0} -> ${rss1})`);
  // Reading frees the mailbox; the events read are whole and in order.
  for (const sid of [a, b]) {
    const got = (await rawCall(d.url, sid, 'wait_for_message', { timeout_s: 0, after: 0 })).structuredContent;
    const seqs = got.events.map((e) => e.params.seq);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
    assert.equal(new Set(seqs).size, seqs.length);
    const unread = (await rawCall(d.url, sid, 'get_status')).structuredContent.unread;
    assert.equal(unread, 0);
  }
  // ... and then they meet and a message acknowledged is delivered.
  assert.equal((await rawCall(d.url, a, 'join_room', { room_id: 'again' })).structuredContent.status, 'waiting');
  assert.equal((await rawCall(d.url, b, 'join_room', { room_id: 'again' })).structuredContent.status, 'matched');
  const sent = await rawCall(d.url, b, 'send_message', { room_id: 'again', message: 'made it' });
  assert.ok(!sent.isError, JSON.stringify(sent));
  const got = (await rawCall(d.url, a, 'wait_for_message', { timeout_s: 1 })).structuredContent;
  assert.equal(got.events.at(-1).params.message, 'made it');
});

test('tools/list and the guide state the configured limits, and follow a reload', { timeout: 30_000 }, async (t) => {
  const s = scope();
  const conf = tempConfig('[limits]\nmax_message_bytes = 300\nmax_display_name_chars = 10\nmax_interests = 3\n'
    + 'max_interest_chars = 6\nrate_per_second = 2\nrate_burst = 7\nmailbox_events = 40\n'
    + '[timeouts]\ninterest_fallback_s = 4\n');
  t.after(async () => { await s.cleanup(); conf.remove(); });
  const d = await s.daemon(['-c', conf.file]);
  const c = await s.client(d.url, { name: 'L' });
  const schemaOf = async (name) => (await c.client.listTools()).tools.find((x) => x.name === name);
  const enter = await schemaOf('enter_queue');
  assert.equal(enter.inputSchema.properties.display_name.maxLength, 10);
  assert.equal(enter.inputSchema.properties.interests.maxItems, 3);
  assert.equal(enter.inputSchema.properties.interests.items.maxLength, 6);
  assert.match(enter.inputSchema.properties.interests.description, /Up to 3 tags.*4 s/);
  assert.match(enter.description, /40 events/);
  const send = await schemaOf('send_message');
  assert.equal(send.inputSchema.properties.message.maxLength, 300);
  assert.match(send.inputSchema.properties.message.description, /1-300 bytes/);
  assert.match(send.description, /7 messages at once, then 2 per second/);
  const guide = await c.client.readResource({ uri: 'mcp-chat://guide' });
  assert.match(guide.contents[0].text, /1-300 bytes of UTF-8; 7 messages at once, then 2 per second; display names 1-10/);
  // What the schema allows is accepted, one past it refused.
  await c.ok('enter_queue', { display_name: 'x'.repeat(10), interests: ['abcdef', 'b', 'c'] });
  const c2 = await s.client(d.url, { name: 'L2' });
  await c2.err('enter_queue', { display_name: 'x'.repeat(11) }, 'invalid_arguments');
  await c2.err('enter_queue', { interests: ['a', 'b', 'c', 'd'] }, 'invalid_arguments');
  await c2.err('enter_queue', { interests: ['abcdefg'] }, 'invalid_arguments');
  // A reload changes both the rules and what tools/list says.
  conf.write('[limits]\nmax_message_bytes = 500\nmax_display_name_chars = 20\nmax_interests = 0\n');
  process.kill(d.pid, 'SIGHUP');
  await waitFor(() => /configuration reloaded/.test(d.stderr()), 5000, 'reload logged');
  const enter2 = await schemaOf('enter_queue');
  assert.equal(enter2.inputSchema.properties.display_name.maxLength, 20);
  assert.equal(enter2.inputSchema.properties.interests.maxItems, 0);
  assert.match(enter2.inputSchema.properties.interests.description, /turned off/);
  assert.equal((await schemaOf('send_message')).inputSchema.properties.message.maxLength, 500);
  assert.match((await schemaOf('send_message')).description, /20 messages at once, then 5 per second/);
  await c2.ok('enter_queue', { display_name: 'y'.repeat(20) });
});

function graceConfig(seconds) {
  return tempConfig(`[timeouts]\nreconnect_grace_s = ${seconds}\nsession_idle_s = 120\n[limits]\nrate_per_second = 1000\nrate_burst = 1000\n`);
}

test('a client that vanishes without DELETE: its partner is told "disconnected" within the reconnect grace', { timeout: 30_000 }, async (t) => {
  const s = scope();
  const conf = graceConfig(1);
  t.after(async () => { await s.cleanup(); conf.remove(); });
  const d = await s.daemon(['-c', conf.file]);
  const { a, b, roomId } = await matchedPair(s, d.url, { reconnect: false });
  await a.waitStream();
  await b.waitStream();
  const sid = a.sessionId;
  const t0 = Date.now();
  await a.close(); // like mcp-remote or the Inspector CLI exiting: no DELETE
  const ev = await b.waitEvent('partner.disconnected', () => true, 8000);
  const took = Date.now() - t0;
  assert.equal(ev.params.reason, 'disconnected');
  assert.equal(ev.params.room_id, roomId);
  assert.ok(took >= 800 && took < 5000, `partner told after ${took} ms (grace 1 s, idle 120 s)`);
  assert.equal((await rawPost(d.url, sid, { jsonrpc: '2.0', id: 1, method: 'ping' })).status, 404);
  assert.match(d.stderr(), /push stream closed, no reconnect within 1 s/);
});

test('a stream that reconnects within the grace (Last-Event-ID) loses nothing; the partner sees nothing', { timeout: 30_000 }, async (t) => {
  const s = scope();
  const conf = graceConfig(1.5);
  t.after(async () => { await s.cleanup(); conf.remove(); });
  const d = await s.daemon(['-c', conf.file]);
  const a = await rawSession(d.url);
  const b = await s.client(d.url, { name: 'B' });
  await rawCall(d.url, a, 'join_room', { room_id: 'grace' });
  await b.ok('join_room', { room_id: 'grace' });
  let sse = await openSse(d.url, a);
  assert.equal(sse.status, 200);
  await b.ok('send_message', { room_id: 'grace', message: 'one' });
  await waitFor(() => sse.events.length >= 2, 5000, 'two events on the stream');
  const last = sse.events.at(-1).id;
  for (let round = 0; round < 3; round++) {
    sse.abort();
    await sse.closed;
    await b.ok('send_message', { room_id: 'grace', message: `while away ${round}` });
    await sleep(1000); // within the 1.5 s grace
    sse = await openSse(d.url, a, { lastEventId: round === 0 ? last : sse.lastId });
    assert.equal(sse.status, 200, `round ${round}: the session ended within its grace`);
    await waitFor(() => sse.events.some((e) => e.json?.params?.message === `while away ${round}`), 5000, 'missed message');
    sse.lastId = sse.events.at(-1).id;
  }
  await sleep(2000); // past the grace with the stream open
  assert.equal(b.byMethod('partner.disconnected').length, 0, 'the partner was told of a reconnect');
  // A request within the grace keeps a session with no stream, too.
  sse.abort();
  await sse.closed;
  for (let i = 0; i < 4; i++) {
    await sleep(700);
    await rawCall(d.url, a, 'get_status');
  }
  assert.equal(b.byMethod('partner.disconnected').length, 0);
  const st = await b.ok('get_status');
  assert.equal(st.state, 'in_room');
});
