// The shipped haproxy example in front of a cluster: three daemons sharing the chat through a
// redis-server of the test's own, SDK v2 clients pinned to MCP 2026-07-28 talking to haproxy
// only. Round-robin spreads every call over the nodes, so a chat's calls land on all three;
// the chat goes on as on one daemon. Everything is stopped by PID, every wait is bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scope } from './helpers.mjs';
import { connectModern, modernChat, roomName, PEER2_URL } from './modern-helpers.mjs';
import { haproxyPath, freePort, startRedis, startHaproxy, metric } from './infra.mjs';

const skip = PEER2_URL ? 'runs against the daemon only' : !haproxyPath() ? 'haproxy is not installed' : false;

test('haproxy round-robin in front of a cluster: 2026-07-28 chats go on whichever node answers', { timeout: 60_000, skip }, async (t) => {
  const s = scope();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mcpchat-lb-cluster-'));
  const redisPort = await freePort();
  const redis = await startRedis(redisPort, dir);
  t.after(async () => { await s.cleanup(); await redis.kill(); rmSync(dir, { recursive: true, force: true }); });
  const ini = path.join(dir, 'fast.ini');
  writeFileSync(ini, '[limits]\nrate_per_second = 1000\nrate_burst = 1000\n');
  const nodes = [];
  for (const n of ['n1', 'n2', 'n3']) nodes.push(await s.daemon(['--redis', `127.0.0.1:${redisPort}`, '--node', n, '--config', ini]));
  const lb = await startHaproxy(nodes.map((d) => Number(new URL(d.url).port)));
  s.onCleanup(() => lb.stop());
  const before = await Promise.all(nodes.map((d) => metric(d.url, 'mcpchat_cluster_calls_total')));

  const a = modernChat(s.track(await connectModern(lb.url, { name: 'lb-a' })), 'Ada');
  const b = modernChat(s.track(await connectModern(lb.url, { name: 'lb-b' })), 'Bo');
  const room = roomName('lb');
  assert.equal((await a.joinRoom(room)).status, 'waiting');
  assert.equal((await b.joinRoom(room)).status, 'matched');
  for (let i = 0; i < 30; i++) {
    const [from, to] = i % 2 ? [b, a] : [a, b];
    await from.send(`lb message ${i}`);
    await to.readUntil('message.received', (p) => p.message === `lb message ${i}`);
  }
  for (const c of [a, b]) {
    const texts = c.events.filter((e) => e.method === 'message.received').map((e) => e.params.message);
    assert.deepEqual(texts, [...new Set(texts)], 'a message read twice');
  }
  await a.leave();
  await b.readUntil('partner.disconnected', (p) => p.reason === 'left');
  // Round-robin put calls on every node, and no request carried a session.
  const after = await Promise.all(nodes.map((d) => metric(d.url, 'mcpchat_cluster_calls_total')));
  after.forEach((v, i) => assert.ok(v - before[i] >= 5, `node n${i + 1} took ${v - before[i]} calls`));
});
