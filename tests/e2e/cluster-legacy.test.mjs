// 2025 sessions on cluster nodes (issue 15): redis-server + three daemons + haproxy on the
// shipped config, all of the test's own (ephemeral ports, temp dirs, stopped by PID). SDK v1
// sessions through haproxy land on every node and stay there (the NODE. prefix of their id);
// SDK v2 clients of MCP 2026-07-28 go round-robin. They chat with each other across nodes;
// a session's end, a kill -9 of its node and a Redis that restarts empty each tell the
// partner what happened. The SDK v1 contract suite itself (chat.test.mjs) runs against
// such a cluster too, in a child process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scope, waitFor, sleep, startDaemon, assertToolError } from './helpers.mjs';
import { connectModern, modernChat, roomName, PEER2_URL } from './modern-helpers.mjs';
import { freePort, startRedis, startHaproxy, haproxyPath, metric } from './infra.mjs';
import { ctl, show } from './ctl-helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const skip = PEER2_URL ? 'runs against the daemon only' : (haproxyPath() ? false : 'haproxy is not installed');
const s = scope();
let dir, redisPort, redis, nodes, proxy;
const GRACE_S = 2; // a dead node's sessions' partners are told within this (+ the sweep)

async function startNode(name) {
  const ini = path.join(dir, 'cluster.ini');
  const d = await startDaemon(['--redis', `127.0.0.1:${redisPort}`, '--node', name, '--config', ini,
    '--control-socket', path.join(dir, `${name}.sock`)]);
  d.sock = path.join(dir, `${name}.sock`);
  return d;
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(path.join(os.tmpdir(), 'mcpchat-cl-legacy-'));
  redisPort = await freePort();
  redis = await startRedis(redisPort, dir);
  writeFileSync(path.join(dir, 'cluster.ini'),
    `[limits]\nrate_per_second = 2000\nrate_burst = 2000\n[timeouts]\nreconnect_grace_s = ${GRACE_S}\n`);
  nodes = [await startNode('n1'), await startNode('n2'), await startNode('n3')];
  proxy = await startHaproxy(nodes.map((n) => Number(new URL(n.url).port)));
});

after(async () => {
  if (skip) return;
  await s.cleanup();
  await proxy?.stop();
  await Promise.allSettled(nodes.map((n) => n.stop()));
  await redis?.kill();
  rmSync(dir, { recursive: true, force: true });
});

const nodeOf = (c) => c.sessionId.split('.')[0];

/** n SDK v1 sessions through haproxy; returns them (each names its node in its id). */
async function legacyClients(n, name) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await s.client(proxy.url, { name: `${name}${i}` }));
  return out;
}

/** Two v1 sessions on different nodes. */
async function legacyPairOnTwoNodes(name) {
  const cs = await legacyClients(3, name);
  const a = cs[0];
  const b = cs.find((c) => nodeOf(c) !== nodeOf(a));
  assert.ok(b, `all sessions on one node: ${cs.map(nodeOf)}`);
  return { a, b };
}

test('2025 sessions through haproxy spread over all three nodes and stay on theirs', { skip }, async () => {
  const cs = await legacyClients(6, 'spread');
  const where = new Set(cs.map(nodeOf));
  assert.deepEqual([...where].sort(), ['n1', 'n2', 'n3'], `sessions on ${cs.map(nodeOf)}`);
  // every later request of a session reaches its node (else it would answer 404)
  for (const c of cs) assert.equal((await c.ok('get_status')).state, 'idle');
});

test('v1 sessions on two nodes chat by push both ways; leave, DELETE and status as on one node', { skip }, async () => {
  const { a, b } = await legacyPairOnTwoNodes('pair');
  await a.waitStream();
  await b.waitStream();
  const room = roomName('v1');
  assert.equal((await a.ok('join_room', { room_id: room, display_name: 'Alice' })).status, 'waiting');
  const rb = await b.ok('join_room', { room_id: room, display_name: 'Bob' });
  assert.equal(rb.status, 'matched');
  assert.deepEqual(rb.partner, { display_name: 'Alice' });
  const fa = await a.waitEvent('chatroom.found');
  assert.deepEqual(fa.params.partner, { display_name: 'Bob' });
  const texts = Array.from({ length: 50 }, (_, i) => `m${i}`);
  for (const t of texts) await a.ok('send_message', { room_id: room, message: t });
  await b.waitEvent('message.received', (p) => p.message === 'm49');
  const got = b.byMethod('message.received').map((e) => e.params.message);
  assert.deepEqual(got, texts, 'every message once, in order');
  const seqs = b.events.map((e) => e.params.seq);
  assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'the session\'s seqs run 1, 2, 3...');
  await b.ok('send_message', { room_id: room, message: 'back' });
  await a.waitEvent('message.received', (p) => p.message === 'back');
  // delivered by push: nothing unread, for both
  await waitFor(async () => (await b.ok('get_status')).unread === 0, 3000, 'b: unread 0');
  const st = await a.ok('get_status');
  assert.equal(st.state, 'in_room');
  assert.deepEqual(st.partner, { display_name: 'Bob' });
  // DELETE: the partner on the other node hears `disconnected`
  await b.terminate();
  const gone = await a.waitEvent('partner.disconnected');
  assert.equal(gone.params.reason, 'disconnected');
  assert.equal(gone.params.room_id, room);
  assertToolError(await a.call('send_message', { room_id: room, message: 'x' }), 'partner_gone');
});

test('a v1 session (push) and a v2 client (round-robin, wait_for_message) chat across nodes', { skip }, async () => {
  const v1 = (await legacyClients(1, 'mix'))[0];
  await v1.waitStream();
  const m = modernChat(s.track(await connectModern(proxy.url, { name: 'v2@haproxy' })), 'Modern');
  const tag = `mix${process.pid}${Date.now()}`.slice(-20);
  assert.equal((await v1.ok('enter_queue', { display_name: 'Legacy', interests: [tag] })).status, 'waiting');
  const r = await m.enterQueue({ interests: [tag] });
  assert.equal(r.status, 'matched');
  assert.deepEqual(r.partner, { display_name: 'Legacy' });
  await v1.waitEvent('chatroom.found', (p) => p.partner.display_name === 'Modern');
  await m.readUntil('chatroom.found');
  for (let i = 0; i < 20; i++) {
    await m.send(`to-v1 ${i}`);
    await v1.ok('send_message', { room_id: m.roomId, message: `to-v2 ${i}` });
  }
  await v1.waitEvent('message.received', (p) => p.message === 'to-v1 19');
  await m.readUntil('message.received', (p) => p.message === 'to-v2 19');
  assert.deepEqual(v1.byMethod('message.received').map((e) => e.params.message), Array.from({ length: 20 }, (_, i) => `to-v1 ${i}`));
  assert.deepEqual(m.byMethod('message.received').map((e) => e.params.message), Array.from({ length: 20 }, (_, i) => `to-v2 ${i}`));
  // wait_for_message of the v1 session reads the node's copy, with the session's seqs
  const last = v1.events.at(-1).params.seq;
  const w = await v1.ok('wait_for_message', { after: last - 2, timeout_s: 0 });
  assert.deepEqual(w.events.map((e) => e.params.seq), [last - 1, last]);
  assert.deepEqual(w.events.map((e) => e.params.message), ['to-v1 18', 'to-v1 19']);
  await m.leave();
  const left = await v1.waitEvent('partner.disconnected');
  assert.equal(left.params.reason, 'left');
});

test('10 000 messages across nodes, 5 000 each way between a v1 session (push) and a v2 client (round-robin): each once, in order', { skip, timeout: 180_000 }, async () => {
  const v1 = (await legacyClients(1, 'bulk'))[0];
  await v1.waitStream();
  const m = modernChat(s.track(await connectModern(proxy.url, { name: 'bulk-v2', timeoutMs: 20_000 })), 'Bulk');
  const room = roomName('bulk');
  await v1.ok('join_room', { room_id: room, display_name: 'Pusher' });
  assert.equal((await m.joinRoom(room)).status, 'matched');
  await m.readUntil('chatroom.found');
  const N = 5000;
  const expect = (p) => Array.from({ length: N }, (_, i) => `${p}${i}`);
  /** Sends N messages in order, waiting out mailbox_full (the partner's bound). */
  async function sendAll(call, prefix) {
    for (let i = 0; i < N; i++) {
      for (;;) {
        const r = await call(`${prefix}${i}`);
        if (!r.isError) break;
        assert.ok(['mailbox_full', 'rate_limited'].includes(r.structuredContent?.error), JSON.stringify(r.structuredContent));
        await sleep(r.structuredContent.retry_after_ms ?? 20);
      }
    }
  }
  const reader = (async () => {
    const got = [];
    const deadline = Date.now() + 150_000;
    while (got.length < N && Date.now() < deadline) {
      for (const e of await m.read(5)) if (e.method === 'message.received') got.push(e.params.message);
    }
    return got;
  })();
  await Promise.all([
    sendAll((t) => v1.call('send_message', { room_id: room, message: t }), 'a'),
    sendAll((t) => m.m.call('send_message', m.args({ room_id: room, message: t })), 'b'),
  ]);
  assert.deepEqual(await reader, expect('a'), 'v2 got every message of v1 once, in order');
  await waitFor(() => v1.byMethod('message.received').length >= N, 30_000, 'v1: every message pushed');
  await sleep(200);
  assert.deepEqual(v1.byMethod('message.received').map((e) => e.params.message), expect('b'), 'v1 got every message of v2 once, in order');
  const seqs = v1.events.map((e) => e.params.seq);
  assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'v1\'s seqs are 1..n without a gap');
});

test('a v1 session without a push stream reads by wait_for_message; the mailbox bound holds across nodes', { skip }, async () => {
  const cs = [];
  for (let i = 0; i < 3; i++) cs.push(await s.client(proxy.url, { name: `poll${i}`, noStream: true }));
  const a = cs[0];
  const b = cs.find((c) => nodeOf(c) !== nodeOf(a));
  const room = roomName('poll');
  await a.ok('join_room', { room_id: room });
  await b.ok('join_room', { room_id: room });
  // 256 unread events at most (chatroom.found is one of them): the 256th message is refused
  let sent = 0;
  for (;;) {
    const r = await a.call('send_message', { room_id: room, message: `p${sent}` });
    if (r.isError) {
      assertToolError(r, 'mailbox_full');
      break;
    }
    sent++;
    assert.ok(sent <= 300, 'the mailbox bound never held');
  }
  assert.equal(sent, 255);
  assert.equal((await b.ok('get_status')).unread, 256);
  const seen = [];
  let after = 0;
  while (seen.length < sent) {
    const r = await b.ok('wait_for_message', { after, timeout_s: 2 });
    seen.push(...r.events.filter((e) => e.method === 'message.received').map((e) => e.params.message));
    after = r.next;
  }
  assert.deepEqual(seen, Array.from({ length: sent }, (_, i) => `p${i}`));
  // read = delivered: the partner may send again at once (acknowledged in Redis in turn)
  await waitFor(async () => !(await a.call('send_message', { room_id: room, message: 'again' })).isError, 3000, 'send after reading');
  const r = await b.ok('wait_for_message', { after, timeout_s: 5 });
  assert.equal(r.events[0].params.message, 'again');
});

test('kill -9 of the node holding a v1 session: its partner is told `disconnected` within the grace; the node restarts clean', { skip, timeout: 60_000 }, async () => {
  const v1 = (await legacyClients(3, 'victim')).find((c) => nodeOf(c) === 'n3');
  assert.ok(v1, 'no session landed on n3');
  const m = modernChat(s.track(await connectModern(nodes[0].url, { name: 'survivor@n1' })), 'Survivor');
  const room = roomName('kill');
  await v1.ok('join_room', { room_id: room, display_name: 'Doomed' });
  assert.equal((await m.joinRoom(room)).status, 'matched');
  await m.readUntil('chatroom.found');
  const victim = nodes[2];
  process.kill(victim.pid, 'SIGKILL');
  await waitFor(() => victim.exitInfo !== null, 3000, 'n3 gone');
  const t0 = Date.now();
  const told = await m.readUntil('partner.disconnected', () => true, (GRACE_S + 8) * 1000);
  const took = Date.now() - t0;
  assert.equal(told.params.reason, 'disconnected');
  assert.ok(took < (GRACE_S + 3) * 1000, `told after ${took} ms`);
  // restarted with the same name: heartbeats again, serves sessions again
  nodes[2] = await startNode('n3');
  await proxy.stop();
  proxy = await startHaproxy(nodes.map((n) => Number(new URL(n.url).port)));
  const fresh = await legacyClients(3, 'reborn');
  assert.ok(fresh.some((c) => nodeOf(c) === 'n3'), 'no session on the restarted n3');
  const nodesRun = await ctl(['nodes', '--json'], { sock: nodes[0].sock });
  assert.equal(nodesRun.code, 0, show(nodesRun));
  const n3 = JSON.parse(nodesRun.stdout).nodes.find((n) => n.name === 'n3');
  assert.equal(n3.state, 'running');
});

test('kick of a v1 session on its node: the partner on another node hears `kicked`; the session is gone', { skip }, async () => {
  const { a, b } = await legacyPairOnTwoNodes('kick');
  const room = roomName('kick');
  await a.ok('join_room', { room_id: room });
  await b.ok('join_room', { room_id: room });
  await a.waitEvent('chatroom.found');
  // an admin of b's node kicks its sessions (handles only: admins never see chat ids)
  const holder = nodes[Number(nodeOf(b).slice(1)) - 1];
  const sess = await ctl(['sessions', '--json'], { sock: holder.sock });
  assert.equal(sess.code, 0, show(sess));
  for (const { handle } of JSON.parse(sess.stdout).sessions) {
    const k = await ctl(['kick', handle], { sock: holder.sock });
    assert.equal(k.code, 0, show(k));
  }
  const gone = await a.waitEvent('partner.disconnected', () => true, 5000);
  assert.equal(gone.params.reason, 'kicked');
  const r = await b.call('get_status').catch((e) => e);
  assert.ok(r instanceof Error || r.isError, 'the kicked session still answers');
});

test('Redis restarted empty: open v1 sessions are re-asserted (partner gone told), then chat again', { skip, timeout: 60_000 }, async () => {
  const { a, b } = await legacyPairOnTwoNodes('epoch');
  const room = roomName('ep');
  await a.ok('join_room', { room_id: room });
  await b.ok('join_room', { room_id: room });
  await a.waitEvent('chatroom.found');
  await b.waitEvent('chatroom.found');
  await redis.kill();
  redis = await startRedis(redisPort, dir);
  // each side learns its room is gone, from its own node
  const ga = await a.waitEvent('partner.disconnected', () => true, 15_000);
  const gb = await b.waitEvent('partner.disconnected', () => true, 15_000);
  assert.equal(ga.params.room_id, room);
  assert.equal(gb.params.room_id, room);
  assert.equal((await a.ok('get_status')).state, 'idle');
  // the same sessions chat again, their seqs going on
  const room2 = roomName('ep2');
  await waitFor(async () => !(await a.call('join_room', { room_id: room2 })).isError, 10_000, 'join after the restart');
  assert.equal((await b.ok('join_room', { room_id: room2 })).status, 'matched');
  await a.ok('send_message', { room_id: room2, message: 'after the flood' });
  const m = await b.waitEvent('message.received', (p) => p.message === 'after the flood');
  const seqs = b.events.map((e) => e.params.seq);
  assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'seqs keep rising');
  assert.equal(new Set(seqs).size, seqs.length, 'no seq twice');
  assert.ok(m.params.seq > gb.params.seq);
  assert.ok((await metric(nodes[0].url, 'mcpchat_cluster_epoch_changes_total')) >= 1);
});

test('the SDK v1 contract suite (chat.test.mjs) and the log and progress notes (uses.test.mjs) pass against three nodes behind haproxy', { skip, timeout: 280_000 }, async () => {
  const child = spawn(process.execPath, ['--test', '--test-concurrency=1', path.join(here, 'chat.test.mjs'), path.join(here, 'uses.test.mjs')], {
    // Not a subtest of this run: a runner of its own (NODE_TEST_CONTEXT would make it one).
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT')), MCPCHAT_E2E_CLUSTER: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), 270_000);
  const code = await new Promise((r) => child.once('close', r));
  clearTimeout(timer);
  const pass = Number(out.match(/^# pass (\d+)/m)?.[1] ?? -1);
  const fail = Number(out.match(/^# fail (\d+)/m)?.[1] ?? -1);
  const failed = out.split('\n').filter((l) => l.startsWith('not ok')).join('\n');
  assert.equal(code, 0, `chat.test.mjs or uses.test.mjs on the cluster failed:\n${failed}\n${out.slice(-3000)}`);
  assert.equal(fail, 0);
  assert.ok(pass >= 24, `only ${pass} tests passed (20 of chat.test.mjs, 4 of uses.test.mjs)`);
  void sleep;
});
