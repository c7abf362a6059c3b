// mcpchatctl on cluster nodes (issue 15): `nodes` lists every member from the heartbeats in
// Redis on each node, a cleanly stopped node leaves the list at once, `status` has a cluster
// block with Redis up, Redis gone answers `unavailable` within the command timeout (never a
// hang); a single node refuses `nodes`. No output and no log line shows a chat id
// (ctl-helpers' leak check). A redis-server of the test's own; everything stopped by PID.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './helpers.mjs';
import { ctl, show, ctlOk, ctlJson, parseTable, parseKv, ctlScope, allChatIds, expectNoLeaks } from './ctl-helpers.mjs';
import { connectModern, modernChat, roomName, PEER2_URL } from './modern-helpers.mjs';
import { freePort, startRedis } from './infra.mjs';

const skip = PEER2_URL ? 'runs against the daemon only' : false;
const dirs = [];
after(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

test('nodes on a single node: refused with not_cluster (exit 1); status has no cluster block', { skip, timeout: 15_000 }, async (t) => {
  const cs = ctlScope(t);
  const d = await cs.daemon();
  for (const args of [['nodes'], ['--json', 'nodes']]) {
    const r = await ctl(args, { sock: d.sock });
    assert.equal(r.code, 1, show(r));
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'mcpchatctl: mcp-chatd refused nodes: not_cluster: not a cluster node: [cluster] redis is not set\n', show(r));
  }
  assert.equal('cluster' in await ctlJson(d.sock, ['status']), false);
  const help = await ctlOk(d.sock, ['nodes', '--help']);
  assert.match(help.stdout, /^Usage: mcpchatctl \[OPTION\]\.\.\. nodes\n/);
  const extra = await ctl(['nodes', 'x'], { sock: d.sock });
  assert.equal(extra.code, 2, show(extra));
});

/** Sends text on a fresh control connection, ends it, and returns the answers, parsed. */
function rawLines(sock, text) {
  return new Promise((resolve, reject) => {
    const c = net.connect(sock);
    let data = '';
    const timer = setTimeout(() => { c.destroy(); reject(new Error(`no end of answers: ${data}`)); }, 8000);
    c.setEncoding('utf8');
    c.on('error', reject);
    c.on('data', (d) => { data += d; });
    c.on('end', () => { clearTimeout(timer); resolve(data.trimEnd().split('\n').map((l) => JSON.parse(l))); });
    c.on('connect', () => c.end(text));
  });
}

/** A chat across two nodes, so the nodes have chat state; its chat ids go to the leak check. */
async function chatAcross(urls) {
  const ca = await connectModern(urls[0], { name: 'ctl-a' });
  const cb = await connectModern(urls[1], { name: 'ctl-b' });
  try {
    const a = modernChat(ca, 'Alice');
    const b = modernChat(cb, 'Bob');
    const room = roomName('ctl');
    assert.equal((await a.joinRoom(room)).status, 'waiting');
    assert.equal((await b.joinRoom(room)).status, 'matched');
    allChatIds.add(a.chatId);
    allChatIds.add(b.chatId);
    await a.send('hello');
    await b.readUntil('message.received');
  } finally {
    await Promise.allSettled([ca.close(), cb.close()]);
  }
}

test('nodes and status on three cluster nodes; a stopped node leaves; Redis gone: unavailable, no hang', { skip, timeout: 60_000 }, async (t) => {
  const cs = ctlScope(t);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpchat-cluster-ctl-'));
  dirs.push(dir);
  const port = await freePort();
  const redis = await startRedis(port, dir);
  t.after(() => redis.kill());
  const common = ['--redis', `127.0.0.1:${port}`];
  const nodes = [];
  for (const name of ['n2', 'n1', 'n3']) nodes.push(await cs.daemon([...common, '--node', name]));
  const [n2, n1, n3] = nodes;
  const names = () => ['n1', 'n2', 'n3'];

  // Every node lists every member, sorted by name, running, at its bound address.
  for (const d of nodes) {
    await waitFor(async () => (await ctlJson(d.sock, ['nodes'])).nodes.length === 3, 5000, 'three heartbeats');
    const j = await ctlJson(d.sock, ['nodes']);
    assert.deepEqual(j.nodes.map((m) => m.name), names());
    for (const m of j.nodes) {
      const own = { n1, n2, n3 }[m.name];
      assert.equal(m.address, `127.0.0.1:${own.port}`, JSON.stringify(m));
      assert.equal(m.state, 'running', JSON.stringify(m));
      assert.equal(m.pid, own.pid);
      assert.ok(m.heartbeat_age_s >= 0 && m.heartbeat_age_s < 6, JSON.stringify(m));
      assert.deepEqual(Object.keys(m).sort(), ['address', 'chats', 'heartbeat_age_s', 'name', 'pid', 'rooms', 'state', 'version', 'waiting']);
    }
    assert.equal(j.truncated, false);
    const rows = parseTable((await ctlOk(d.sock, ['nodes'])).stdout,
      ['NAME', 'ADDRESS', 'AGE', 'STATE', 'CHATS', 'WAITING', 'ROOMS', 'VERSION', 'PID'], 'nodes');
    assert.deepEqual(rows.map((r) => [r[0], r[3]]), names().map((n) => [n, 'running']));
  }

  await chatAcross([n1.url, n2.url]);

  // status: the cluster block, Redis up.
  const st = await ctlJson(n1.sock, ['status']);
  assert.equal(st.cluster.node, 'n1');
  assert.equal(st.cluster.redis, 'up');
  assert.ok(typeof st.cluster.rtt_ms === 'number' && st.cluster.rtt_ms >= 0, JSON.stringify(st.cluster));
  for (const k of ['commands_failed', 'epoch_changes', 'sweeps', 'wakeups']) {
    assert.ok(Number.isInteger(st.cluster[k]) && st.cluster[k] >= 0, `${k}: ${JSON.stringify(st.cluster)}`);
  }
  assert.ok(st.cluster.heartbeat_age_s >= 0 && st.cluster.heartbeat_age_s < 6, JSON.stringify(st.cluster));
  const kv = parseKv((await ctlOk(n2.sock, ['status'])).stdout, 'status');
  assert.equal(kv.get('cluster.node'), 'n2');
  assert.equal(kv.get('cluster.redis'), 'up');
  // Pipelined, the peer done sending: the deferred answers keep their place.
  const lines = await rawLines(n1.sock, '{"cmd":"nodes"}\n{"cmd":"status"}\n{"cmd":"bogus"}\n{"cmd":"nodes"}\n');
  assert.deepEqual(lines.map((l) => (l.ok ? Object.keys(l.data)[0] === 'nodes' ? 'nodes' : 'status' : l.error.code)),
    ['nodes', 'status', 'unknown_command', 'nodes']);
  // A caller gone before the answer: the daemon carries on.
  const gone = net.connect(n1.sock);
  await new Promise((r) => gone.once('connect', r));
  gone.end('{"cmd":"nodes"}\n');
  gone.destroy();
  assert.equal((await ctlJson(n1.sock, ['nodes'])).nodes.length, 3);

  // A clean stop removes the heartbeat: gone from the list at once.
  await n3.stop();
  for (const d of [n1, n2]) assert.deepEqual((await ctlJson(d.sock, ['nodes'])).nodes.map((m) => m.name), ['n1', 'n2']);

  // Redis gone: a clear refusal within the command timeout, never a hang; status says so.
  await redis.kill('SIGSTOP');
  const t0 = Date.now();
  const hung = await ctl(['nodes'], { sock: n1.sock, timeoutMs: 8000 });
  assert.equal(hung.code, 1, show(hung));
  assert.match(hung.stderr, /^mcpchatctl: mcp-chatd refused nodes: unavailable: /, show(hung));
  assert.ok(Date.now() - t0 < 4500, `took ${Date.now() - t0} ms`);
  process.kill(redis.pid, 'SIGCONT');
  await redis.kill();
  await waitFor(async () => (await ctlJson(n1.sock, ['status'])).cluster.redis !== 'up', 5000, 'redis not up');
  const down = await ctl(['--json', 'nodes'], { sock: n1.sock });
  assert.equal(down.code, 1, show(down));
  assert.match(down.stderr, /refused nodes: unavailable: /, show(down));
  const st2 = await ctlJson(n2.sock, ['status']);
  assert.notEqual(st2.cluster.redis, 'up');
});

after(() => expectNoLeaks());
