// What operators see and do on cluster nodes (issue 15): `nodes` counts each node's chats,
// waiting chats and rooms; `rooms|queues|sessions --cluster` list the whole cluster's state
// from Redis, by handle, never a chat id; `kick` ends a chat that lives on another node (its
// partner hears partner.disconnected reason kicked, its chat_id answers chat_expired) and a
// room's members; /metrics and `status` show the cluster's waiting and rooms and a wake-up
// lag. Three nodes and a redis-server of the test's own, everything stopped by PID; the
// leak check (ctl-helpers) reads every mcpchatctl output and daemon log for chat ids.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './helpers.mjs';
import { ctl, show, ctlOk, ctlJson, parseTable, parseKv, ctlScope, allChatIds, expectNoLeaks } from './ctl-helpers.mjs';
import { connectModern, modernChat, roomName, PEER2_URL } from './modern-helpers.mjs';
import { freePort, startRedis, metric } from './infra.mjs';

const skip = PEER2_URL ? 'runs against the daemon only' : false;
const dirs = [];
const clients = [];
after(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const HANDLE12 = /^[0-9a-f]{12}$/;

async function chatOn(url, name) {
  const c = await connectModern(url, { name: `adm-${name}` });
  clients.push(c);
  const ch = modernChat(c, name);
  return ch;
}

const track = (r) => { allChatIds.add(r.chat_id); return r; };

test('--cluster on a single node: not_cluster; the flag only for queues, rooms, sessions', { skip, timeout: 15_000 }, async (t) => {
  const cs = ctlScope(t);
  const d = await cs.daemon();
  for (const cmd of ['rooms', 'queues', 'sessions']) {
    const r = await ctl([cmd, '--cluster'], { sock: d.sock });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, new RegExp(`^mcpchatctl: mcp-chatd refused ${cmd}: not_cluster: `), show(r));
    // without the flag: as ever
    await ctlOk(d.sock, [cmd]);
    assert.equal((await ctlJson(d.sock, [cmd])).cluster, undefined);
  }
  const bad = await ctl(['status', '--cluster'], { sock: d.sock });
  assert.equal(bad.code, 2, show(bad));
  assert.match(bad.stderr, /--cluster is only for queues, rooms and sessions/);
});

test('three nodes: counts, cluster listings, kick across nodes, metrics', { skip, timeout: 90_000 }, async (t) => {
  const cs = ctlScope(t);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpchat-cluster-admin-'));
  dirs.push(dir);
  const port = await freePort();
  const redis = await startRedis(port, dir);
  t.after(() => redis.kill());
  // Waiters with interests hold out for an hour: nothing matches behind the test's back.
  const conf = path.join(dir, 'mcp-chat.conf');
  fs.writeFileSync(conf, '[timeouts]\ninterest_fallback_s = 3600\n');
  const common = ['-c', conf, '--redis', `127.0.0.1:${port}`];
  const nodes = [];
  for (const name of ['n1', 'n2', 'n3']) nodes.push(await cs.daemon([...common, '--node', name]));
  const byName = { n1: nodes[0], n2: nodes[1], n3: nodes[2] };

  // A pair in a random room across n1 and n2 (Alice waited on n1), a named room across n2 and
  // n3, a waiter with interests on n3 and a named waiter on n1.
  const alice = await chatOn(byName.n1.url, 'Alice');
  const bob = await chatOn(byName.n2.url, 'Bob');
  track(await alice.enterQueue({ interests: ['zz-none'] }));
  // Alice holds out for her interest; Bob takes anyone: she is the only waiter, but held.
  // So pair them in a named room instead, and keep the queue for Carol below.
  const carol = await chatOn(byName.n3.url, 'Carol');
  const dave = await chatOn(byName.n2.url, 'Dave');
  const erin = await chatOn(byName.n3.url, 'Erin');
  const fay = await chatOn(byName.n1.url, 'Fay');
  const pairRoom = roomName('pair');
  track(await bob.joinRoom(pairRoom));
  track(await erin.joinRoom(pairRoom));
  const lonely = roomName('lonely');
  track(await fay.joinRoom(lonely));
  track(await carol.enterQueue({ interests: ['chess', 'go'] }));
  track(await dave.enterQueue());
  // Dave (n2, open) and Carol (held for chess/go) do not match yet; Alice neither.
  assert.equal((await dave.status()).state, 'waiting');
  // Erin waits (on n3) before Bob sends: n3 gets a wake-up, whose lag it measures (again, a
  // little later each time, should the wait not have subscribed yet on a slow machine).
  await erin.readUntil('chatroom.found');
  let sent = 0;
  for (let i = 1; i <= 5; i++) {
    const before = erin.byMethod('message.received').length;
    const heard = (async () => {
      while (erin.byMethod('message.received').length === before) await erin.read(3);
    })();
    await new Promise((r) => setTimeout(r, 300 * i));
    await bob.send(`hello ${i}`);
    sent++;
    await heard;
    if ((await ctlJson(byName.n3.sock, ['status'])).cluster.wakeup_lag_ms >= 0) break;
  }

  // nodes: the per-node counts (by the node each chat began on).
  await waitFor(async () => (await ctlJson(byName.n1.sock, ['nodes'])).nodes.length === 3, 5000, 'three heartbeats');
  const nj = await ctlJson(byName.n3.sock, ['nodes']);
  const counts = Object.fromEntries(nj.nodes.map((m) => [m.name, [m.chats, m.waiting, m.rooms]]));
  assert.deepEqual(counts, { n1: [2, 2, 0], n2: [2, 1, 1], n3: [2, 1, 1] }, JSON.stringify(nj));
  assert.equal(nj.truncated, false);
  const nrows = parseTable((await ctlOk(byName.n2.sock, ['nodes'])).stdout,
    ['NAME', 'ADDRESS', 'AGE', 'STATE', 'CHATS', 'WAITING', 'ROOMS', 'VERSION', 'PID'], 'nodes');
  assert.deepEqual(nrows.map((r) => [r[0], r[4], r[5], r[6]]), [['n1', '2', '2', '0'], ['n2', '2', '1', '1'], ['n3', '2', '1', '1']]);

  // sessions --cluster: every chat, by handle, with node, era, state, room.
  const sj = await ctlJson(byName.n2.sock, ['sessions', '--cluster']);
  assert.equal(sj.cluster, true);
  assert.equal(sj.truncated, false);
  const sess = Object.fromEntries(sj.sessions.map((s) => [s.display_name, s]));
  assert.deepEqual(Object.keys(sess).sort(), ['Alice', 'Bob', 'Carol', 'Dave', 'Erin', 'Fay']);
  for (const s of sj.sessions) {
    assert.match(s.handle, HANDLE12, JSON.stringify(s));
    assert.equal(s.era, 'modern');
    assert.ok(s.idle_s >= 0 && s.idle_s < 30, JSON.stringify(s));
  }
  assert.equal(new Set(sj.sessions.map((s) => s.handle)).size, 6, 'handles are unique');
  assert.deepEqual([sess.Alice.node, sess.Bob.node, sess.Carol.node, sess.Fay.node], ['n1', 'n2', 'n3', 'n1']);
  assert.deepEqual([sess.Bob.state, sess.Bob.room_id, sess.Erin.state], ['in_room', pairRoom, 'in_room']);
  assert.deepEqual([sess.Alice.state, sess.Alice.room_id, sess.Fay.state, sess.Fay.room_id], ['waiting', undefined, 'waiting', lonely]);
  const srows = parseTable((await ctlOk(byName.n1.sock, ['sessions', '--cluster'])).stdout,
    ['HANDLE', 'NAME', 'NODE', 'ERA', 'STATE', 'ROOM', 'IDLE'], 'sessions --cluster');
  assert.equal(srows.length, 6);
  // Local sessions (no --cluster) on a cluster node: this node's own, as before (none: modern
  // chats live in Redis).
  assert.equal((await ctlJson(byName.n1.sock, ['sessions'])).cluster, undefined);

  // queues --cluster: the random queue in order, then the named waiters.
  const qj = await ctlJson(byName.n3.sock, ['queues', '--cluster']);
  assert.deepEqual(qj.waiting.map((w) => [w.display_name, w.kind, w.node]),
    [['Alice', 'queue', 'n1'], ['Carol', 'queue', 'n3'], ['Dave', 'queue', 'n2'], ['Fay', 'named', 'n1']]);
  assert.deepEqual(qj.waiting[1].interests, ['chess', 'go']);
  assert.deepEqual(qj.waiting[2].interests, []);
  assert.equal(qj.waiting[3].room_id, lonely);
  assert.equal(qj.waiting[0].handle, sess.Alice.handle);
  const qrows = parseTable((await ctlOk(byName.n3.sock, ['queues', '--cluster'])).stdout,
    ['HANDLE', 'NAME', 'NODE', 'WAITED', 'KIND', 'ROOM', 'INTERESTS'], 'queues --cluster');
  assert.deepEqual(qrows.map((r) => r[1]), ['Alice', 'Carol', 'Dave', 'Fay']);

  // rooms --cluster: the pair's room (1 message) and the lonely named room.
  const rj = await ctlJson(byName.n1.sock, ['rooms', '--cluster']);
  const rooms = Object.fromEntries(rj.rooms.map((r) => [r.room_id, r]));
  assert.deepEqual(Object.keys(rooms).sort(), [lonely, pairRoom].sort());
  assert.deepEqual(rooms[pairRoom].members, ['Bob', 'Erin']);
  assert.deepEqual(rooms[pairRoom].handles, [sess.Bob.handle, sess.Erin.handle]);
  assert.equal(rooms[pairRoom].messages, sent);
  assert.equal(rooms[pairRoom].kind, 'named');
  assert.deepEqual(rooms[lonely].members, ['Fay']);
  const rrows = parseTable((await ctlOk(byName.n1.sock, ['rooms', '--cluster'])).stdout,
    ['ROOM', 'KIND', 'AGE', 'MESSAGES', 'MEMBERS', 'HANDLES'], 'rooms --cluster');
  assert.equal(rrows.length, 2);

  // status and /metrics: the cluster's figures, on every node.
  await waitFor(async () => (await ctlJson(byName.n2.sock, ['status'])).cluster.chats === 6, 6000, 'figures read');
  const st = await ctlJson(byName.n2.sock, ['status']);
  assert.equal(st.cluster.waiting, 4, JSON.stringify(st.cluster)); // 3 in the queue, Fay
  assert.equal(st.cluster.rooms, 1);
  assert.deepEqual([st.waiting, st.rooms], [4, 1]);
  assert.ok(st.cluster.figures_age_s >= 0 && st.cluster.figures_age_s < 6);
  // Erin's node heard a wake-up (Bob's message): its lag is measured.
  const st3 = await ctlJson(byName.n3.sock, ['status']);
  assert.ok(st3.cluster.wakeup_lag_ms >= 0 && st3.cluster.wakeup_lag_ms < 1000, JSON.stringify(st3.cluster));
  assert.ok(st3.cluster.wakeup_lag_max_ms >= 0, JSON.stringify(st3.cluster));
  const kv = parseKv((await ctlOk(byName.n1.sock, ['status'])).stdout, 'status');
  assert.equal(kv.get('cluster.chats'), '6');
  for (const d of nodes) {
    await waitFor(async () => await metric(d.url, 'mcpchat_waiting') === 4, 6000, 'mcpchat_waiting');
    assert.equal(await metric(d.url, 'mcpchat_rooms'), 1);
    assert.equal(await metric(d.url, 'mcpchat_cluster_chats'), 6);
  }
  assert.ok(await metric(byName.n3.url, 'mcpchat_cluster_wakeup_lag_seconds_count') >= 1);

  // kick on n1 of Erin's chat (it began on n3; Bob waits on n2): Bob hears kicked.
  const bobWait = bob.readUntil('partner.disconnected', undefined, 10_000);
  await new Promise((r) => setTimeout(r, 200));
  const k = await ctlOk(byName.n1.sock, ['kick', sess.Erin.handle, '--reason', 'spam']);
  assert.equal(k.stdout, `kicked 1 session: ${sess.Erin.handle}\n`);
  const disc = await bobWait;
  assert.equal(disc.params.reason, 'kicked');
  assert.equal(disc.params.room_id, pairRoom);
  await erin.m.err('get_status', { chat_id: erin.chatId }, 'chat_expired');
  // A second kick: nobody by that handle any more.
  const again = await ctl(['kick', sess.Erin.handle], { sock: byName.n2.sock });
  assert.equal(again.code, 1, show(again));
  assert.match(again.stderr, /refused kick: not_found: /);

  // kick of a room on another node: both members; the handles in the answer.
  const gina = await chatOn(byName.n3.url, 'Gina');
  track(await gina.joinRoom(lonely));
  await fay.readUntil('chatroom.found');
  const kr = await ctlJson(byName.n2.sock, ['kick', lonely]);
  assert.equal(kr.kicked.length, 2);
  assert.equal(kr.kicked[0], sess.Fay.handle);
  assert.match(kr.kicked[1], HANDLE12);
  await fay.m.err('get_status', { chat_id: fay.chatId }, 'chat_expired');
  await gina.m.err('get_status', { chat_id: gina.chatId }, 'chat_expired');
  const left = await ctlJson(byName.n3.sock, ['sessions', '--cluster']);
  assert.deepEqual(left.sessions.map((x) => x.display_name).sort(), ['Alice', 'Bob', 'Carol', 'Dave']);
  assert.deepEqual((await ctlJson(byName.n3.sock, ['rooms', '--cluster'])).rooms, []);
  // A 2025 session on n2 (its chat is of era legacy), kicked from n3 through Redis: its
  // partner on n1 hears kicked, and n2 ends the session on hearing the chat's end.
  const hal = await cs.client(byName.n2.url, { name: 'v1-hal' });
  const ivy = await cs.client(byName.n1.url, { name: 'v1-ivy' });
  const v1room = roomName('legacy');
  await hal.ok('join_room', { room_id: v1room, display_name: 'Hal' });
  await ivy.ok('join_room', { room_id: v1room, display_name: 'Ivy' });
  await hal.waitEvent('chatroom.found');
  const lj = await ctlJson(byName.n3.sock, ['sessions', '--cluster']);
  const halRow = lj.sessions.find((x) => x.display_name === 'Hal');
  assert.deepEqual([halRow.era, halRow.node, halRow.state, halRow.room_id], ['legacy', 'n2', 'in_room', v1room]);
  const localHandles = async (d) => (await ctlJson(d.sock, ['sessions'])).sessions.map((x) => x.handle);
  assert.ok((await localHandles(byName.n2)).includes(halRow.handle), 'the cluster handle is the session handle');
  assert.deepEqual((await ctlJson(byName.n3.sock, ['kick', halRow.handle])).kicked, [halRow.handle]);
  const v1gone = await ivy.waitEvent('partner.disconnected', () => true, 5000);
  assert.equal(v1gone.params.reason, 'kicked');
  await waitFor(async () => !(await localHandles(byName.n2)).includes(halRow.handle), 5000, 'the session ended on its node');

  // Unknown target in the cluster: not_found, naming --cluster.
  const none = await ctl(['kick', 'nobody'], { sock: byName.n3.sock });
  assert.equal(none.code, 1, show(none));
  assert.match(none.stderr, /not_found: .*--cluster/);
});

after(() => expectNoLeaks());
