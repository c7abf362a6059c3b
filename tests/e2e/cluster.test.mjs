// The cluster engine (issue 15) end to end: a redis-server of the test's own (ephemeral
// port, temp dir, no persistence) and three daemons sharing the chat through it; SDK v2
// clients pinned to MCP 2026-07-28 address the nodes alternately, so every call lands on a
// different node than the last. Everything is stopped by PID, every wait is bounded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scope, waitFor, sleep, assertToolError } from './helpers.mjs';
import { connectModern, modernChat, roomName, PEER2_URL } from './modern-helpers.mjs';
import { freePort, startRedis, metric } from './infra.mjs';

const skip = PEER2_URL ? 'runs against the daemon only' : false;
const s = scope();
let dir, redisPort, redis, nodes;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(path.join(os.tmpdir(), 'mcpchat-cluster-'));
  redisPort = await freePort();
  redis = await startRedis(redisPort, dir);
  // A rate limit the 200-message test does not spend half a minute on (per chat, set by the
  // node that runs the send).
  const ini = path.join(dir, 'fast.ini');
  writeFileSync(ini, '[limits]\nrate_per_second = 2000\nrate_burst = 2000\n');
  const common = ['--redis', `127.0.0.1:${redisPort}`, '--config', ini];
  nodes = [
    await s.daemon([...common, '--node', 'n1']),
    await s.daemon([...common, '--node', 'n2']),
    await s.daemon([...common, '--node', 'n3', '--chat-idle-timeout', '2']),
  ];
});

after(async () => {
  if (skip) return;
  await s.cleanup();
  await redis?.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** A modern client per node; call i of a chat goes to node (start + i) % nodes. */
async function clientsFor(name, which = [0, 1]) {
  return Promise.all(which.map(async (i) => s.track(await connectModern(nodes[i].url, { name: `${name}@n${i + 1}` }))));
}

/** A chat whose calls alternate between the clients given. */
function roaming(clients, displayName) {
  let i = 0;
  const proxy = {};
  for (const k of ['call', 'ok', 'err']) proxy[k] = (...a) => clients[i++ % clients.length][k](...a);
  proxy.name = `${displayName}(roaming)`;
  return modernChat(proxy, displayName);
}

async function pair(kind, ca, cb) {
  const a = roaming(ca, 'Alice');
  const b = roaming(cb, 'Bob');
  if (kind === 'queue') {
    const tag = `t${process.pid}${Date.now()}`.slice(-20);
    const ra = await a.enterQueue({ interests: [tag] });
    assert.equal(ra.status, 'waiting');
    assert.equal(ra.position >= 1, true);
    const rb = await b.enterQueue({ interests: [tag] });
    assert.equal(rb.status, 'matched');
  } else {
    const room = roomName('cl');
    assert.equal((await a.joinRoom(room)).status, 'waiting');
    assert.equal((await b.joinRoom(room)).status, 'matched');
  }
  await a.readUntil('chatroom.found');
  await b.readUntil('chatroom.found');
  assert.equal(a.roomId, b.roomId);
  return { a, b };
}

test('matched via enter_queue and via join_room across nodes; chat both ways, every call on another node', { skip }, async () => {
  for (const kind of ['queue', 'room']) {
    const ca = await clientsFor(`a-${kind}`, [0, 1]);
    const cb = await clientsFor(`b-${kind}`, [2, 0]);
    const { a, b } = await pair(kind, ca, cb);
    await a.send('hello from a');
    await b.send('hello from b');
    const mb = await b.readUntil('message.received', (p) => p.message === 'hello from a');
    const ma = await a.readUntil('message.received', (p) => p.message === 'hello from b');
    assert.equal(mb.params.sender.display_name, 'Alice');
    assert.equal(ma.params.sender.display_name, 'Bob');
    const st = await a.status();
    assert.equal(st.state, 'in_room');
    assert.equal(st.room_id, a.roomId);
    assert.equal(st.partner.display_name, 'Bob');
    await a.leave();
    const gone = await b.readUntil('partner.disconnected');
    assert.equal(gone.params.reason, 'left');
  }
});

test('wait_for_message on one node is woken by a send on another within well under a second', { skip }, async () => {
  const ca = await clientsFor('wa', [0]);
  const cb = await clientsFor('wb', [1]);
  const { a, b } = await pair('room', ca, cb);
  for (let i = 0; i < 3; i++) {
    const waiting = b.wait(b.next, 10);
    await sleep(300); // the wait is parked on node 2, subscribed
    const t0 = Date.now();
    await a.send(`ping ${i}`);
    const r = await waiting;
    const lag = Date.now() - t0;
    assert.equal(r.events.length, 1, JSON.stringify(r));
    assert.equal(r.events[0].params.message, `ping ${i}`);
    assert.ok(lag < 500, `woken after ${lag} ms`);
    b.events.push(...r.events);
    b.next = r.next;
  }
});

const metricOf = (i, name) => metric(nodes[i].url, name);
/** The sum over the nodes of a counter in /metrics. */
const clusterSum = async (name) => (await Promise.all(nodes.map((_, i) => metricOf(i, name)))).reduce((x, y) => x + y, 0);

test('200 messages across nodes, each delivered exactly once and in order; the nodes\' counters add up', { skip }, async () => {
  const ca = await clientsFor('ma', [0, 1]);
  const cb = await clientsFor('mb', [1, 0]);
  const matchesBefore = await clusterSum('mcpchat_matches_total');
  const relayedBefore = await clusterSum('mcpchat_messages_relayed_total');
  const { a, b } = await pair('queue', ca, cb);
  const N = 200;
  const reader = (async () => {
    const got = [];
    const deadline = Date.now() + 60_000;
    while (got.length < N && Date.now() < deadline) {
      for (const e of await b.read(5)) if (e.method === 'message.received') got.push(e.params.message);
    }
    return got;
  })();
  for (let i = 0; i < N; i++) {
    for (;;) {
      const r = await a.m.call('send_message', a.args({ room_id: a.roomId, message: `m${i}` }));
      if (!r.isError) break;
      // The partner's mailbox is bounded: a full one refuses until the reader catches up.
      assert.ok(['rate_limited', 'mailbox_full'].includes(r.structuredContent?.error), JSON.stringify(r.structuredContent));
      await sleep(r.structuredContent.retry_after_ms ?? 50);
    }
  }
  const got = await reader;
  assert.deepEqual(got, Array.from({ length: N }, (_, i) => `m${i}`));
  // Each node counts what its own calls did, so the sums are the cluster's (one node alone
  // counts the same way): one match, N messages relayed.
  assert.equal(await clusterSum('mcpchat_matches_total') - matchesBefore, 1);
  assert.equal(await clusterSum('mcpchat_messages_relayed_total') - relayedBefore, N);
});

test('a silent chat expires and its partner on another node learns timeout', { skip }, async () => {
  const [short] = await clientsFor('short', [2]); // n3: chats idle out after 2 s
  const [long] = await clientsFor('long', [0]);
  const room = roomName('idle');
  const silent = modernChat(short, 'Silent');
  const partner = modernChat(long, 'Partner');
  await silent.joinRoom(room);
  await partner.joinRoom(room);
  const gone = await partner.readUntil('partner.disconnected', () => true, 10_000);
  assert.equal(gone.params.reason, 'timeout');
  await silent.m.err('get_status', { chat_id: silent.chatId }, 'chat_expired');
});


test('a waiting call whose client went away stops listening', { skip }, async () => {
  const [ca] = await clientsFor('aa', [0]);
  const [cb] = await clientsFor('ab', [1]);
  const { b } = await pair('room', [ca], [cb]);
  // chats with a wait = listened - lingering (kept a few seconds after their last wait)
  const waiters = async () => (await metricOf(1, 'mcpchat_cluster_chats_listened')) - (await metricOf(1, 'mcpchat_cluster_chats_lingering'));
  const before = await waiters();
  const ac = new AbortController();
  const waiting = b.m.call('wait_for_message', b.args({ after: b.next, timeout_s: 60 }), { signal: ac.signal, timeout: 70_000 });
  await waitFor(async () => (await waiters()) === before + 1, 3000, 'the wait subscribed', 50);
  ac.abort();
  await waiting.catch(() => {});
  // noticed at the next touch tick (at most 5 s); the subscription then lingers for a next
  // wait that does not come, and goes at a later tick
  await waitFor(async () => (await waiters()) === before, 8000, 'the wait ended', 100);
  await waitFor(async () => (await metricOf(1, 'mcpchat_cluster_chats_lingering')) === 0
    && (await metricOf(1, 'mcpchat_cluster_chats_listened')) === before, 15_000, 'unsubscribed', 200);
});

test('a chat read in a loop stays subscribed between waits (no SUBSCRIBE per message), and wakes on time', { skip }, async () => {
  const [ca] = await clientsFor('la', [0]);
  const [cb] = await clientsFor('lb', [1]);
  const { a, b } = await pair('room', [ca], [cb]);
  const reusedBefore = await metricOf(1, 'mcpchat_cluster_linger_reused_total');
  const skippedBefore = await metricOf(1, 'mcpchat_cluster_reads_skipped_total');
  const bellBefore = await metricOf(1, 'mcpchat_cluster_doorbell_answers_total');
  const owedBefore = await metricOf(1, 'mcpchat_cluster_acks_owed_total');
  for (let i = 0; i < 5; i++) {
    const waiting = b.wait(b.next, 10);
    await sleep(150);
    await a.send(`loop ${i}`);
    const r = await waiting;
    assert.deepEqual(r.events.map((e) => e.params.message), [`loop ${i}`]);
    b.events.push(...r.events);
    b.next = r.next;
  }
  assert.ok((await metricOf(1, 'mcpchat_cluster_linger_reused_total')) - reusedBefore >= 4, 'the subscription was not kept between waits');
  // neither the next wait (its after is what the subscription heard of) nor the wake-up (the
  // doorbell carries the event) read the stream
  assert.ok((await metricOf(1, 'mcpchat_cluster_reads_skipped_total')) - skippedBefore >= 4, 'waits read the stream again');
  assert.ok((await metricOf(1, 'mcpchat_cluster_doorbell_answers_total')) - bellBefore >= 4, 'wake-ups read the stream');
  // and a parked wait made no round trip of its own: its ack went with the answer's
  assert.ok((await metricOf(1, 'mcpchat_cluster_acks_owed_total')) - owedBefore >= 3, 'parked waits acknowledged on their own');
  // one that ends without an answer (its timeout) still acknowledges: nothing is left unread
  const idle = await b.wait(b.next, 1);
  assert.deepEqual(idle.events, []);
  assert.equal((await b.m.ok('get_status', { chat_id: b.chatId })).unread, 0, 'the timed-out wait did not acknowledge');
  // an event answered from its doorbell moved the chat's cursor: a wait without after (from
  // the cursor), on either node, does not give it again
  const waiting = b.wait(b.next, 10);
  await sleep(150);
  await a.send('by the doorbell');
  const rb = await waiting;
  assert.deepEqual(rb.events.map((e) => e.params.message), ['by the doorbell']);
  b.next = rb.next;
  for (const node of [1, 0]) {
    const [c] = await clientsFor(`lc${node}`, [node]);
    const r0 = await c.ok('wait_for_message', { chat_id: b.chatId, timeout_s: 0 });
    assert.deepEqual(r0.events, [], `node ${node}: a wait from the cursor repeated an event`);
  }
  // events that ring while nobody waits (the subscription lingering) are the next wait's:
  // answered from what the lingering subscription kept of their doorbells, not read, and the
  // `ack` moved the cursor past them, so a wait from the cursor on either node has nothing
  const keptBefore = await metricOf(1, 'mcpchat_cluster_kept_answers_total');
  for (const m of ['while away', 'and again', 'third']) await a.send(m);
  await sleep(200);
  const r = await b.wait(b.next, 5);
  assert.deepEqual(r.events.map((e) => e.params.message), ['while away', 'and again', 'third']);
  assert.equal((await metricOf(1, 'mcpchat_cluster_kept_answers_total')) - keptBefore, 1, 'the wait read the stream');
  b.next = r.next;
  for (const node of [1, 0]) {
    const [c] = await clientsFor(`lk${node}`, [node]);
    const r0 = await c.ok('wait_for_message', { chat_id: b.chatId, timeout_s: 0 });
    assert.deepEqual(r0.events, [], `node ${node}: a wait from the cursor repeated a kept event`);
  }
});

test('log notifications on a cluster: a request with a _meta logLevel gets the single node\'s notes, one without gets none', { skip }, async () => {
  const [ca] = await clientsFor('ga', [0]);
  const [cb] = await clientsFor('gb', [1]);
  const got = [];
  cb.client.setNotificationHandler('notifications/message', (n) => { got.push(n.params.data); });
  const { a, b } = await pair('room', [ca], [cb]);
  const meta = { 'io.modelcontextprotocol/logLevel': 'info' };
  const wait = cb.client.callTool({ name: 'wait_for_message', arguments: { chat_id: b.chatId, after: b.next, timeout_s: 10 }, _meta: meta }, { timeout: 20_000 });
  await sleep(200);
  await a.send('noted');
  const r = await wait;
  assert.equal(r.structuredContent.events.length, 1);
  b.next = r.structuredContent.next;
  const sent = await cb.client.callTool({ name: 'send_message', arguments: { chat_id: b.chatId, room_id: b.roomId, message: 'back' }, _meta: meta }, { timeout: 10_000 });
  assert.equal(sent.isError, undefined);
  assert.deepEqual(got, ['1 new message from your partner', "Message delivered to your partner's mailbox"]);
  // timeout_s 0 on a chat the node listens to answers at once (it never parks)
  const t0 = Date.now();
  await b.wait(b.next, 0);
  assert.ok(Date.now() - t0 < 2000, `a wait with timeout_s 0 took ${Date.now() - t0} ms`);
  assert.equal(got.length, 2, 'a request without a logLevel got notes');
  assert.ok(!JSON.stringify(got).includes('noted') && !JSON.stringify(got).includes(b.chatId));
});

test('a Redis that hangs: calls answer unavailable within the command timeout, the loop keeps serving', { skip }, async () => {
  const [ca] = await clientsFor('ha', [0]);
  const [cb] = await clientsFor('hb', [1]);
  const { a, b } = await pair('room', [ca], [cb]);
  process.kill(redis.pid, 'SIGSTOP');
  try {
    const t0 = Date.now();
    const r = await a.m.call('send_message', a.args({ room_id: a.roomId, message: 'into the void' }));
    assert.ok(r.isError, `a send answered ok with Redis hung: ${JSON.stringify(r.structuredContent)}`);
    assert.equal(r.structuredContent.error, 'unavailable');
    assert.ok(Date.now() - t0 < 5000, `answered after ${Date.now() - t0} ms`);
    const h = await fetch(nodes[0].url.replace(/\/mcp$/, '/healthz'));
    assert.equal(h.status, 200); // the loop is not stalled
  } finally {
    process.kill(redis.pid, 'SIGCONT');
  }
  await waitFor(async () => (await metricOf(0, 'mcpchat_redis_up')) === 1, 10_000, 'node 1 reconnected', 100);
  await b.read(0); // whatever the timed-out send did, the chat goes on
  await a.send('after the hang');
  await b.readUntil('message.received', (p) => p.message === 'after the hang');
});

test('a node stopped while calls wait on it answers them and exits cleanly', { skip }, async () => {
  const extra = await s.daemon(['--redis', `127.0.0.1:${redisPort}`, '--node', 'n4']);
  const cx = s.track(await connectModern(extra.url, { name: 'x@n4' }));
  const [cy] = await clientsFor('y', [0]);
  const room = roomName('stop');
  const x = modernChat(cx, 'X');
  const y = modernChat(cy, 'Y');
  await x.joinRoom(room);
  await y.joinRoom(room);
  await x.read(2);
  const waits = [0, 1, 2].map(() => cx.call('wait_for_message', x.args({ after: x.next, timeout_s: 30 }), { timeout: 40_000 })
    .then((r) => r, (e) => ({ thrown: e })));
  await sleep(300);
  const t0 = Date.now();
  await extra.stop(); // asserts exit code 0 (ASan included) within 5 s
  assert.ok(Date.now() - t0 < 4000, `stopped after ${Date.now() - t0} ms`);
  for (const r of await Promise.all(waits)) {
    if (r.thrown) continue; // the connection closed with the stop
    assert.ok(!r.isError || r.structuredContent?.error === 'unavailable', JSON.stringify(r));
    if (!r.isError) assert.deepEqual(r.structuredContent.events, []);
  }
  // The chat lives on in Redis: another node serves it.
  const moved = modernChat(s.track(await connectModern(nodes[1].url, { name: 'x@n2' })), 'X');
  moved.chatId = x.chatId;
  moved.next = x.next;
  moved.roomId = x.roomId;
  await y.send('still here');
  await moved.readUntil('message.received', (p) => p.message === 'still here');
});

test('redis-server killed: calls answer unavailable, never a false send; restarted: works again', { skip }, async () => {
  const ca = await clientsFor('ka', [0, 1]);
  const cb = await clientsFor('kb', [1, 0]);
  const { a, b } = await pair('room', ca, cb);
  await redis.kill();
  for (let i = 0; i < 4; i++) {
    const r = await a.m.call('send_message', a.args({ room_id: a.roomId, message: `lost ${i}` }));
    assert.ok(r.isError, `a send answered ok with Redis down: ${JSON.stringify(r.structuredContent)}`);
    assert.equal(r.structuredContent.error, 'unavailable');
    assert.ok(r.structuredContent.retry_after_ms > 0);
  }
  const w = await b.m.call('wait_for_message', b.args({ after: b.next, timeout_s: 1 }));
  assert.equal(w.structuredContent?.error, 'unavailable');
  const metrics = await (await fetch(nodes[0].url.replace(/\/mcp$/, '/metrics'))).text();
  assert.match(metrics, /^mcpchat_redis_up 0$/m);
  redis = await startRedis(redisPort, dir);
  await waitFor(async () => {
    const t = await (await fetch(nodes[0].url.replace(/\/mcp$/, '/metrics'))).text()
      + await (await fetch(nodes[1].url.replace(/\/mcp$/, '/metrics'))).text();
    return (t.match(/^mcpchat_redis_up 1$/mg) || []).length === 2;
  }, 10_000, 'both nodes reconnected', 100);
  const again = await pair('room', await clientsFor('ra', [0, 1]), await clientsFor('rb', [1, 0]));
  await again.a.send('back');
  await again.b.readUntil('message.received', (p) => p.message === 'back');
  const m = await (await fetch(nodes[1].url.replace(/\/mcp$/, '/metrics'))).text();
  assert.match(m, /^mcpchat_redis_commands_failed_total \d+$/m);
  assert.match(m, /^mcpchat_cluster_wakeups_total \d+$/m);
});
