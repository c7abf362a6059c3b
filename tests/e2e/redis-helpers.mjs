// A redis-server of a test's own (ephemeral port, temp dir, no persistence), stopped by PID;
// shared by the cluster suites.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { waitFor, sleep } from './helpers.mjs';

export const freePort = () => new Promise((resolve, reject) => {
  const s = net.createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

export const pingRedis = (port) => new Promise((resolve) => {
  const c = net.connect(port, '127.0.0.1');
  let data = '';
  c.setTimeout(500, () => { c.destroy(); resolve(false); });
  c.on('error', () => resolve(false));
  c.on('connect', () => c.write('PING\r\n'));
  c.on('data', (d) => { data += d; if (data.includes('PONG')) { c.end(); resolve(true); } });
});

/** redis-server on port in dir, without persistence; returns { pid, kill() } (by PID). */
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
