// The chat over MCP 2026-07-28 (the modern, stateless path: no session, a chat_id on every
// call, events read with wait_for_message and acknowledged with `after`), end to end with the
// official TypeScript SDK v2 client (@modelcontextprotocol/client), beside 2025 sessions of
// the v1 SDK. See modern-helpers.mjs for MCPCHAT_PEER2_URL (run against the reference peer2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scope, assertOk, waitFor } from './helpers.mjs';
import {
  MODERN_VERSION, ALL_VERSIONS, CHAT_TOOLS, CHAT_ID_RE, PEER2_URL,
  modernTarget, modernClient, modernChat, roomName, sleep, waitingCalls,
} from './modern-helpers.mjs';

const FAST = ['--rate', '1000000', '--burst', '1000000'];
const RFC3339_MS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const needsDaemon = PEER2_URL ? 'needs the daemon (MCPCHAT_PEER2_URL is set)' : false;
const sansId = ({ chat_id: _id, ...rest }) => rest;
/** The promise's value, or the error it failed with (handled at once: no unhandled rejection). */
const settle = (p) => p.then((v) => v, (e) => (e instanceof Error ? e : new Error(String(e))));
const texts = (events) => events.filter((e) => e.method === 'message.received').map((e) => e.params.message);

/** No HTTP exchange of a modern client used a session: no Mcp-Session-Id either way, no
 * initialize, no GET stream; every request said MCP-Protocol-Version 2026-07-28. */
function assertSessionless(m) {
  assert.ok(m.http.length > 0, `${m.name}: no HTTP exchange recorded`);
  for (const h of m.http) {
    const what = `${m.name}: ${h.method} ${JSON.stringify(h.body)?.slice(0, 120)}`;
    assert.equal(h.method, 'POST', `${what}: a modern client should only POST`);
    assert.equal(h.headers['mcp-session-id'], undefined, `${what}: sent Mcp-Session-Id`);
    assert.equal(h.sessionId ?? null, null, `${what}: the server issued Mcp-Session-Id`);
    assert.notEqual(h.body?.method, 'initialize', `${what}: initialize on the modern path`);
    assert.equal(h.headers['mcp-protocol-version'], MODERN_VERSION, `${what}: MCP-Protocol-Version`);
  }
}

test('modern: tools/list has the six chat tools; server/discover offers 2026-07-28', async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const { url } = await modernTarget(s);
  const m = await modernClient(s, url, { name: 'lister' });
  assert.equal(m.client.getProtocolEra(), 'modern');
  assert.equal(m.client.getNegotiatedProtocolVersion(), MODERN_VERSION);

  const probed = m.client.getDiscoverResult();
  assert.ok(probed, 'the pinned connect kept no server/discover result');
  assert.ok(probed.supportedVersions.includes(MODERN_VERSION), `supportedVersions: ${JSON.stringify(probed.supportedVersions)}`);
  const d = await m.client.discover();
  assert.ok(d.capabilities?.tools, `server/discover capabilities: ${JSON.stringify(d.capabilities)}`);
  if (!PEER2_URL) {
    assert.deepEqual(d.supportedVersions, ALL_VERSIONS);
    assert.deepEqual(Object.keys(d.capabilities).sort(), ['logging', 'prompts', 'resources', 'tools']);
    assert.equal(typeof d.instructions, 'string');
    assert.equal(m.client.getServerVersion()?.name, 'mcp-chatd');
  }

  const { tools } = await m.client.listTools();
  assert.deepEqual(tools.map((x) => x.name).sort(), [...CHAT_TOOLS].sort());
  for (const tool of tools) {
    assert.ok(typeof tool.description === 'string' && tool.description.length > 10, `${tool.name}: description`);
    assert.equal(tool.inputSchema?.type, 'object', `${tool.name}: inputSchema`);
  }
  assertSessionless(m);
});

test('modern: two 2026-07-28 clients meet by enter_queue, chat both ways, and one leaves', async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const { url } = await modernTarget(s);
  const ma = await modernClient(s, url, { name: 'alice' });
  const mb = await modernClient(s, url, { name: 'bob' });
  const a = modernChat(ma, 'Alice');
  const b = modernChat(mb, 'Bob');

  assert.deepEqual(sansId(await a.enterQueue()), { status: 'waiting', position: 1 });
  const rb = await b.enterQueue();
  assert.deepEqual(sansId(rb), { status: 'matched', room_id: rb.room_id, partner: { display_name: 'Alice' } });
  assert.notEqual(a.chatId, b.chatId, 'the two chats got the same chat_id');

  const foundA = await a.readUntil('chatroom.found');
  assert.deepEqual(foundA.params, { room_id: rb.room_id, partner: { display_name: 'Bob' }, seq: foundA.params.seq });
  assert.equal(a.roomId, rb.room_id);
  const foundB = await b.readUntil('chatroom.found');
  assert.deepEqual(foundB.params.partner, { display_name: 'Alice' });
  const st = await a.status();
  assert.deepEqual(st, { state: 'in_room', room_id: a.roomId, partner: { display_name: 'Bob' }, unread: st.unread });

  // A -> B
  const sent = await a.send('hello Bob');
  assert.equal(typeof sent.message_id, 'string');
  assert.match(sent.timestamp, RFC3339_MS_UTC);
  const gotB = await b.readUntil('message.received');
  assert.deepEqual(gotB.params, {
    room_id: a.roomId, message_id: sent.message_id, message: 'hello Bob',
    sender: { display_name: 'Alice' }, timestamp: sent.timestamp, seq: gotB.params.seq,
  });
  // B -> A, twice
  await b.send('hi Alice');
  await b.send('how are you?');
  await a.readUntil('message.received', (p) => p.message === 'how are you?');
  assert.deepEqual(texts(a.events), ['hi Alice', 'how are you?'], 'A: messages out of order, twice, or echoed');
  assert.deepEqual(texts(b.events), ['hello Bob'], 'B: messages out of order, twice, or echoed');

  // A leaves; B learns it by wait_for_message.
  assert.deepEqual(await a.leave(), { status: 'left' });
  const gone = await b.readUntil('partner.disconnected');
  assert.deepEqual(gone.params, { room_id: a.roomId, reason: 'left', seq: gone.params.seq });
  await mb.err('send_message', b.args({ room_id: b.roomId, message: 'still there?' }), 'room_closed');
  assert.equal((await a.status()).state, 'idle');
  assert.equal((await b.status()).state, 'idle');

  // Every event each side accepted came once, seqs rising.
  for (const c of [a, b]) {
    const seqs = c.events.map((e) => e.params.seq);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), `${c.m.name}: seqs not rising`);
    assert.equal(new Set(seqs).size, seqs.length, `${c.m.name}: an event came twice`);
  }
  // The chat_id went on every call after the first; no session was ever used.
  for (const m of [ma, mb]) {
    const calls = m.http.filter((h) => h.body?.method === 'tools/call');
    assert.equal(calls[0].body.params.arguments.chat_id, undefined);
    for (const h of calls.slice(1)) assert.match(h.body.params.arguments.chat_id ?? '', CHAT_ID_RE, `${m.name}: ${h.body.params.name} without chat_id`);
    assertSessionless(m);
  }
});

test('modern: a 2026-07-28 client and a 2025 session (SDK v1) chat in one named room', { skip: needsDaemon }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const { url } = await modernTarget(s);
  const old = await s.client(url, { name: 'v1' });
  await old.waitStream();
  const m = await modernClient(s, url, { name: 'v2' });
  const neo = modernChat(m, 'Neo');
  const room = roomName('mixed');

  const r1 = await old.ok('join_room', { room_id: room, display_name: 'Old' });
  assert.deepEqual(sansId(r1), { status: 'waiting', room_id: room });
  assert.match(r1.chat_id, CHAT_ID_RE);
  assert.deepEqual(sansId(await neo.joinRoom(room)), { status: 'matched', room_id: room, partner: { display_name: 'Old' } });

  // The 2025 session hears of its partner by push, the modern chat by wait_for_message.
  const found = await old.waitEvent('chatroom.found');
  assert.deepEqual(found.params.partner, { display_name: 'Neo' });
  assert.equal(found.params.room_id, room);
  assert.deepEqual((await neo.readUntil('chatroom.found')).params.partner, { display_name: 'Old' });

  // 2025 -> 2026
  const s1 = await old.ok('send_message', { room_id: room, message: 'from 2025' });
  const got = await neo.readUntil('message.received');
  assert.deepEqual(got.params, {
    room_id: room, message_id: s1.message_id, message: 'from 2025', sender: { display_name: 'Old' },
    timestamp: s1.timestamp, seq: got.params.seq,
  });
  // 2026 -> 2025
  const s2 = await neo.send('from 2026');
  const pushed = await old.waitEvent('message.received');
  assert.deepEqual(pushed.params, {
    room_id: room, message_id: s2.message_id, message: 'from 2026', sender: { display_name: 'Neo' },
    timestamp: s2.timestamp, seq: pushed.params.seq,
  });

  // A chat_id minted in a 2025 session names the same chat on the modern path.
  const viaModern = await m.ok('get_status', { chat_id: r1.chat_id });
  assert.deepEqual(viaModern, { state: 'in_room', room_id: room, partner: { display_name: 'Neo' }, unread: viaModern.unread });

  // The modern side leaves; the 2025 session is told by push, and lives on.
  assert.deepEqual(await neo.leave(), { status: 'left' });
  const gone = await old.waitEvent('partner.disconnected');
  assert.deepEqual(gone.params, { room_id: room, reason: 'left', seq: gone.params.seq });
  assert.equal((await old.ok('get_status')).state, 'idle');
  assert.deepEqual(old.errors, []);
  assertSessionless(m);
});

test('modern: a lost or aborted wait_for_message loses nothing; the same after gives the same events', async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const { url } = await modernTarget(s, FAST);
  const ma = await modernClient(s, url, { name: 'reader' });
  const mb = await modernClient(s, url, { name: 'writer' });
  const a = modernChat(ma, 'Reader');
  const b = modernChat(mb, 'Writer');
  const room = roomName('lost');
  await a.joinRoom(room);
  await b.joinRoom(room);
  await a.readUntil('chatroom.found');
  const accepted = [];
  /** Accepts a complete answer to a wait from `after`: its events become read, `next` moves. */
  const accept = (r) => { accepted.push(...r.events); a.next = r.next; };

  // 1. Aborted mid-wait (AbortSignal), before anything came: the messages sent after it wait
  //    for the next call with the same `after`.
  let after = a.next;
  const ac = new AbortController();
  const t0 = Date.now();
  const pending = settle(a.wait(after, 20, { signal: ac.signal }));
  if (PEER2_URL) await sleep(300);
  else await waitFor(async () => (await waitingCalls(url)) === 1, 5000, 'the wait to be parked');
  ac.abort();
  const aborted = await pending;
  assert.ok(aborted instanceof Error && /abort/i.test(`${aborted.name} ${aborted.message}`), `the aborted wait did not fail as aborted: ${aborted}`);
  // Closing the answer's stream cancels the call in the daemon.
  if (!PEER2_URL) await waitFor(async () => (await waitingCalls(url)) === 0, 5000, 'the aborted call to end in the daemon');
  assert.ok(Date.now() - t0 < 5000, 'abort did not end the wait promptly');
  for (const msg of ['m1', 'm2', 'm3']) await b.send(msg);
  const r1 = await a.wait(after, 5);
  assert.deepEqual(texts(r1.events), ['m1', 'm2', 'm3']);
  // A completed answer acknowledges nothing by itself: the same `after` gives it again.
  assert.deepEqual(await a.wait(after, 0), r1, 'the same after gave other events');
  accept(r1);

  // 2. Aborted just as a message was delivered (the answer may be on the wire, or back
  //    already): treated as lost either way; the next call with the same `after` has it.
  after = a.next;
  const ac2 = new AbortController();
  const racing = settle(a.wait(after, 20, { signal: ac2.signal }));
  await sleep(200);
  await b.send('m4');
  ac2.abort();
  await racing;
  await b.send('m5');
  const r2 = await a.wait(after, 5);
  assert.deepEqual(texts(r2.events), ['m4', 'm5']);
  accept(r2);

  // 3. The answer came back complete and was then lost (the fetch failed after reading it).
  after = a.next;
  ma.loseNextWait();
  const lost = settle(a.wait(after, 20));
  await sleep(200);
  await b.send('m6');
  assert.ok((await lost) instanceof Error, 'the wait whose answer was lost did not fail');
  assert.equal(ma.lost.length, 1);
  assert.match(ma.lost[0].text, /m6/, 'the lost answer did not hold m6');
  await b.send('m7');
  const r3 = await a.wait(after, 5);
  assert.deepEqual(texts(r3.events), ['m6', 'm7']);
  assert.deepEqual(await a.wait(after, 0), r3, 'asking again with the same after changed the answer');
  accept(r3);

  // Nothing more once `next` acknowledges it all.
  const rest = await a.wait(a.next, 0);
  assert.deepEqual(rest, { events: [], next: a.next });

  // Every message once, in order, seqs rising.
  assert.deepEqual(texts(accepted), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
  const ids = accepted.map((e) => e.params.message_id);
  assert.equal(new Set(ids).size, ids.length, 'a message came twice');
  for (let i = 1; i < accepted.length; i++) assert.ok(accepted[i].params.seq > accepted[i - 1].params.seq, `seq not rising at ${i}`);
  assert.equal((await a.status()).unread, 0);
  assertSessionless(ma);
});

test('modern: a silent chat expires after chat_idle_s; its partner is told "timeout"', async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const { url } = await modernTarget(s, [], { config: '[server]\nlisten = 127.0.0.1:0\n\n[timeouts]\nchat_idle_s = 2\n' });
  const ms = await modernClient(s, url, { name: 'silent' });
  const mp = await modernClient(s, url, { name: 'patient' });
  const silent = modernChat(ms, 'Silent');
  const patient = modernChat(mp, 'Patient');
  const room = roomName('idle');
  await silent.joinRoom(room);
  const lastHeard = Date.now();
  await patient.joinRoom(room);

  // The partner keeps waiting (its waiting calls keep its own chat alive).
  const gone = await patient.readUntil('partner.disconnected', () => true, 12_000);
  const after = Date.now() - lastHeard;
  assert.deepEqual(gone.params, { room_id: room, reason: 'timeout', seq: gone.params.seq });
  assert.ok(after >= 1500, `the silent chat expired after ${after} ms, before chat_idle_s`);

  // The silent chat is gone: its chat_id answers chat_expired on every tool.
  await ms.err('get_status', { chat_id: silent.chatId }, 'chat_expired');
  await ms.err('wait_for_message', { chat_id: silent.chatId, timeout_s: 0 }, 'chat_expired');
  await ms.err('send_message', { chat_id: silent.chatId, room_id: room, message: 'I am back' }, 'chat_expired');
  await ms.err('enter_queue', { chat_id: silent.chatId }, 'chat_expired');
  // The patient one is not; a call whose after covers the event acknowledges it, and a call
  // that waits longer than chat_idle_s keeps its chat alive.
  assert.deepEqual(await patient.wait(patient.next, 0), { events: [], next: patient.next });
  assert.deepEqual(await patient.wait(patient.next, PEER2_URL ? 5 : 4), { events: [], next: patient.next });
  assert.deepEqual(await patient.status(), { state: 'idle', unread: 0 });
});

test('modern: a waiting wait_for_message streams progress to a client that asked, and ends on an event', { skip: needsDaemon }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const { url } = await modernTarget(s, [], { config: '[timeouts]\nsse_keepalive_s = 1\n' });
  const ma = await modernClient(s, url, { name: 'waiter' });
  const mb = await modernClient(s, url, { name: 'talker' });
  const a = modernChat(ma, 'Waiter');
  const b = modernChat(mb, 'Talker');
  const room = roomName('progress');
  await a.joinRoom(room);
  await b.joinRoom(room);
  await a.readUntil('chatroom.found');

  // 4 s of waiting under a 2.5 s request timeout: only the progress notifications (every
  // sse_keepalive_s) keep the SDK from giving up.
  const progress = [];
  const t0 = Date.now();
  const idle = await a.wait(a.next, 4, { onprogress: (p) => progress.push(p), timeout: 2500, resetTimeoutOnProgress: true });
  assert.deepEqual(idle, { events: [], next: a.next });
  assert.ok(Date.now() - t0 >= 3500, `the wait ended after ${Date.now() - t0} ms, before timeout_s`);
  assert.ok(progress.length >= 2, `progress notifications: ${JSON.stringify(progress)}`);
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i].progress > progress[i - 1].progress, 'progress does not grow');
  const waited = ma.http.filter((h) => h.body?.params?.name === 'wait_for_message').at(-1);
  assert.match(waited.contentType ?? '', /^text\/event-stream/, 'a waiting call should answer text/event-stream');
  assert.ok(waited.body.params._meta?.progressToken !== undefined);

  // Without a progress token the keep-alives are comments the SDK skips; an event ends the wait.
  const pending = settle(a.wait(a.next, 20));
  await sleep(1500);
  const sent = await b.send('worth the wait');
  const r = await pending;
  assert.ok(!(r instanceof Error), `the wait failed: ${r}`);
  assert.deepEqual(texts(r.events), ['worth the wait']);
  assert.equal(r.events[0].params.message_id, sent.message_id);
  const raw = await ma.call('get_status', a.args());
  assert.equal(raw._meta?.['io.modelcontextprotocol/serverInfo']?.name, 'mcp-chatd', `result _meta: ${JSON.stringify(raw._meta)}`);
});

test('modern: versionNegotiation auto ends on 2026-07-28 against the daemon, without a session', async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const { url } = await modernTarget(s);
  const m = await modernClient(s, url, { name: 'auto', mode: 'auto' });
  assert.equal(m.client.getProtocolEra(), 'modern');
  assert.equal(m.client.getNegotiatedProtocolVersion(), MODERN_VERSION);
  assert.equal(m.transport.sessionId, undefined);
  assert.equal(m.http[0].body?.method, 'server/discover', 'auto did not probe with server/discover first');
  assert.equal(m.http[0].status, 200);

  const ch = modernChat(m, 'Auto');
  await ch.enterQueue();
  assert.equal((await ch.status()).state, 'waiting');
  const call = m.http.find((h) => h.body?.method === 'tools/call');
  assert.equal(call.headers['mcp-method'], 'tools/call');
  assert.equal(call.headers['mcp-name'], 'enter_queue');
  assert.equal(call.body.params._meta?.['io.modelcontextprotocol/protocolVersion'], MODERN_VERSION);
  assertSessionless(m);

  if (!PEER2_URL) {
    // The same v2 client left on 'legacy' gets a 2025 session, as before.
    const legacy = await modernClient(s, url, { name: 'legacy', mode: 'legacy' });
    assert.equal(legacy.client.getProtocolEra(), 'legacy');
    assert.match(legacy.transport.sessionId ?? '', /^[A-Za-z0-9_-]{22,}$/);
    assert.equal((await legacy.ok('get_status')).state, 'idle');
  }
});

test('modern: a call without chat_id is invalid_arguments (field chat_id); an unknown chat_id is chat_expired', async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const { url } = await modernTarget(s);
  const m = await modernClient(s, url, { name: 'errors' });

  const noId = {
    send_message: { room_id: 'nowhere', message: 'hi' },
    wait_for_message: { timeout_s: 0 },
    leave_chat: { room_id: 'nowhere' },
    get_status: {},
  };
  for (const [tool, args] of Object.entries(noId)) {
    const e = await m.err(tool, args, 'invalid_arguments');
    if (!PEER2_URL) assert.equal(e.field, 'chat_id', `${tool}: ${JSON.stringify(e)}`);
  }

  const unknown = 'A'.repeat(22);
  const withUnknown = {
    send_message: { room_id: 'nowhere', message: 'hi' },
    wait_for_message: { timeout_s: 0 },
    leave_chat: { room_id: 'nowhere' },
    get_status: {},
    enter_queue: {},
    join_room: { room_id: 'nowhere' },
  };
  for (const [tool, args] of Object.entries(withUnknown)) await m.err(tool, { chat_id: unknown, ...args }, 'chat_expired');

  // Nothing was minted by those refusals: a fresh enter_queue is first in the queue.
  const ch = modernChat(m, 'Errant');
  const entered = sansId(await ch.enterQueue());
  if (!PEER2_URL) assert.deepEqual(entered, { status: 'waiting', position: 1 });
  // Argument checks name the field as on the 2025 path.
  if (!PEER2_URL) { // (peer2 leaves these to the SDK's schema check: a plain text error)
    const bad = await m.err('send_message', { chat_id: ch.chatId, room_id: 'nowhere', message: '' }, 'invalid_arguments');
    assert.equal(bad.field, 'message');
  }
  assertOk(await m.call('get_status', { chat_id: ch.chatId }), 'get_status');
  assertSessionless(m);
});
