// A cluster as one server under test: a redis-server of its own (ephemeral port, temp dir,
// no persistence), three daemons sharing it (n1, n2, n3) and haproxy on the shipped config in
// front of them. It looks like startDaemon's result ({ url, pid, stop(), stderr() }), so a
// suite written for one daemon runs unchanged against the cluster: with
// MCPCHAT_E2E_CLUSTER=1, scope().daemon() starts one of these (tests/e2e/cluster-sdk.test.mjs
// runs the SDK v1 chat suite that way). haproxy keeps each 2025 session on the node named by
// its id's prefix and spreads new sessions round-robin, so a pair's two sessions sit on
// different nodes.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDaemon } from './helpers.mjs';
import { freePort, startRedis, startHaproxy } from './infra.mjs';

/** Starts the cluster with extraArgs on every node; resolves once haproxy answers. */
export async function startClusterTarget(extraArgs = [], opts = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mcpchat-ctarget-'));
  const port = await freePort();
  const redis = await startRedis(port, dir);
  const nodes = [];
  let haproxy = null;
  try {
    for (const name of ['n1', 'n2', 'n3']) {
      nodes.push(await startDaemon(['--redis', `127.0.0.1:${port}`, '--node', name, ...extraArgs], opts));
    }
    haproxy = await startHaproxy(nodes.map((n) => Number(new URL(n.url).port)));
  } catch (err) {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    await redis.kill();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let stopped = null;
  return {
    url: haproxy.url,
    pid: nodes[0].pid,
    nodes,
    redisPort: port,
    stderr: () => nodes.map((n) => n.stderr()).join('\n'),
    /** haproxy first (no new requests), then every node (each must exit 0), then redis. */
    stop() {
      stopped ??= (async () => {
        await haproxy.stop();
        const results = await Promise.allSettled(nodes.map((n) => n.stop()));
        await redis.kill();
        rmSync(dir, { recursive: true, force: true });
        const failed = results.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
      })();
      return stopped;
    },
  };
}
