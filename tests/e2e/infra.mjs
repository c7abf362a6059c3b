// Infrastructure the end-to-end tests start for themselves: free loopback ports, a
// redis-server without persistence in a temporary directory, and haproxy on the shipped
// example config (packaging/haproxy-mcp-chat.cfg) with only its ports rewritten. Each is
// stopped by PID; every wait is bounded.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor, sleep } from './helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const SHIPPED = path.resolve(here, '../../packaging/haproxy-mcp-chat.cfg');

/** The haproxy binary, or null when it is not installed. */
export function haproxyPath() {
  try { return execFileSync('sh', ['-c', 'command -v haproxy || ls /usr/sbin/haproxy'], { encoding: 'utf8' }).trim(); } catch { return null; }
}

/** A free loopback port (bound then released: redis-server and haproxy need a number up front). */
export const freePort = () => new Promise((resolve, reject) => {
  const s = net.createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

const pingRedis = (port) => new Promise((resolve) => {
  const c = net.connect(port, '127.0.0.1');
  let data = '';
  c.setTimeout(500, () => { c.destroy(); resolve(false); });
  c.on('error', () => resolve(false));
  c.on('connect', () => c.write('PING\r\n'));
  c.on('data', (d) => { data += d; if (data.includes('PONG')) { c.end(); resolve(true); } });
});

/** redis-server on port in dir, without persistence; returns { pid, kill(signal) } (by PID). */
export async function startRedis(port, dir) {
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((r) => proc.once('exit', r));
  await waitFor(() => pingRedis(port), 5000, 'redis-server answering PING', 50);
  return {
    pid: proc.pid,
    async kill(signal = 'SIGKILL') {
      try { process.kill(proc.pid, signal); } catch { /* gone */ }
      await Promise.race([exited, sleep(3000)]);
    },
  };
}

/** haproxy on the shipped config in front of the given daemon ports (n1, n2, n3 in order);
 * returns { url, stop() } (stop by PID, then the temporary directory goes). */
export async function startHaproxy(backendPorts) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mcpchat-haproxy-'));
  const port = await freePort();
  let cfg = readFileSync(SHIPPED, 'utf8').replace('bind 127.0.0.1:8800', `bind 127.0.0.1:${port}`);
  backendPorts.forEach((p, i) => { cfg = cfg.replace(`127.0.0.1:880${i + 1}`, `127.0.0.1:${p}`); });
  assert.doesNotMatch(cfg, /127\.0\.0\.1:880\d/, 'a port of the shipped config was not rewritten');
  const file = path.join(dir, 'haproxy.cfg');
  writeFileSync(file, cfg);
  const proc = spawn(haproxyPath(), ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  const url = `http://127.0.0.1:${port}/mcp`;
  await waitFor(async () => {
    try { await fetch(url, { method: 'OPTIONS' }); return true; } catch { return false; }
  }, 5000, `haproxy listening (${stderr.slice(-300)})`);
  return {
    url,
    async stop() {
      try { process.kill(proc.pid, 'SIGTERM'); } catch { /* gone */ }
      const r = await Promise.race([exited, new Promise((res) => setTimeout(() => res(null), 3000))]);
      if (r === null) { process.kill(proc.pid, 'SIGKILL'); await exited; }
      rmSync(dir, { recursive: true, force: true });
      return stderr;
    },
  };
}

/** One counter or gauge from a daemon's /metrics (NaN when absent). */
export async function metric(mcpUrl, name) {
  const text = await (await fetch(mcpUrl.replace(/\/mcp$/, '/metrics'))).text();
  const m = text.match(new RegExp(`^${name} ([0-9.]+)`, 'm'));
  return m ? Number(m[1]) : NaN;
}
