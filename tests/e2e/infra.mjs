// Infrastructure the end-to-end tests start for themselves: free loopback ports, a
// redis-server without persistence in a temporary directory, and haproxy on the shipped
// example config (packaging/haproxy-mcp-chat.cfg) with only its ports rewritten. Each is
// stopped by PID; every wait is bounded.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './helpers.mjs';

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

/**
 * redis-server on port in dir, without persistence; opts.aof: with an append-only file
 * (appendfsync always: a reply means the write is on disk), so a restart in the same dir
 * finds the state again. Returns { pid, kill(signal), stop() } (by PID).
 */
export async function startRedis(port, dir, { aof = false } = {}) {
  const persistence = aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    ...persistence, '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let exitInfo = null;
  const exited = new Promise((r) => proc.once('exit', (code, signal) => { exitInfo = { code, signal }; r(exitInfo); }));
  /** The exit, or null after ms (the timer cleared either way: nothing keeps node running). */
  const exitWithin = (ms) => {
    let timer;
    return Promise.race([exited, new Promise((r) => { timer = setTimeout(() => r(null), ms); })]).finally(() => clearTimeout(timer));
  };
  await waitFor(() => pingRedis(port), 5000, 'redis-server answering PING', 50);
  return {
    pid: proc.pid,
    get exitInfo() { return exitInfo; },
    /** Sends signal (default SIGKILL); waits up to 3 s for an exit (none for SIGSTOP). */
    async kill(signal = 'SIGKILL') {
      try { process.kill(proc.pid, signal); } catch { /* gone */ }
      await exitWithin(3000);
    },
    /** A clean shutdown (SIGTERM: the AOF is flushed), waited for by PID; SIGKILL after 5 s. */
    async stop() {
      try { process.kill(proc.pid, 'SIGTERM'); } catch { /* gone */ }
      if (await exitWithin(5000) === null) {
        process.kill(proc.pid, 'SIGKILL');
        await exited;
        assert.fail(`redis-server (pid ${proc.pid}) did not exit within 5 s of SIGTERM`);
      }
      return exitInfo;
    },
  };
}

/** RESP2 encoders for the fake Redis. */
const bulk = (v) => (v === null ? '$-1\r\n' : `$${Buffer.byteLength(v)}\r\n${v}\r\n`);
const arr = (items) => `*${items.length}\r\n${items.join('')}`;
let nineMib = null; // over the client's 8 MiB reply cap (made when first needed)

/** Whole commands (arrays of bulk strings, as a client sends them) from the front of buf:
 * { cmds, rest }; a command not complete yet stays in rest. */
function parseCommands(buf) {
  const cmds = [];
  let at = 0;
  const line = (from) => { const e = buf.indexOf('\r\n', from); return e < 0 ? null : { text: buf.toString('latin1', from, e), next: e + 2 }; };
  for (;;) {
    const head = line(at);
    if (!head) break;
    if (head.text[0] !== '*') throw new Error(`fake redis: not a command: ${head.text.slice(0, 40)}`);
    const n = Number(head.text.slice(1));
    let pos = head.next;
    const args = [];
    for (let i = 0; i < n; i++) {
      const h = line(pos);
      if (!h) break;
      const len = Number(h.text.slice(1));
      if (buf.length < h.next + len + 2) break;
      args.push(buf.toString('utf8', h.next, h.next + len));
      pos = h.next + len + 2;
    }
    if (args.length < n) break;
    cmds.push(args);
    at = pos;
  }
  return { cmds, rest: buf.subarray(at) };
}

/**
 * A fake Redis on 127.0.0.1:port, for fault tests. It answers what a cluster node sends on its
 * own (FUNCTION LOAD, SET [NX] / GET, HSET / HDEL / HGETALL, TIME, PING, (UN)SUBSCRIBE) the
 * way Redis does, so the node believes it is up; FCALL (every tool call and timer script;
 * EVALSHA too) is answered as `mode` says:
 *   hang      accepts and reads, never answers anything
 *   wrongtype an integer where a script's array reply belongs (a malformed script reply)
 *   garbage   bytes that are no RESP at all
 *   hugebulk  a bulk string of 1 GiB announced, then 9 MiB of it (over the client's cap)
 * setMode() switches and drops every open connection (the node connects again). Returns
 * { port, setMode(m), commands (name -> count), connections (accepted), close() }.
 */
export async function startFakeRedis(port, mode = 'hang') {
  const kv = new Map();
  const sockets = new Set();
  const fake = { port, mode, commands: new Map(), connections: 0 };
  const answer = (sock, args) => {
    const name = args[0].toUpperCase();
    fake.commands.set(name, (fake.commands.get(name) ?? 0) + 1);
    if (fake.mode === 'hang') return;
    switch (name) {
      case 'PING': return sock.write('+PONG\r\n');
      case 'SCRIPT': return sock.write(bulk(createHash('sha1').update(args[2] ?? '').digest('hex')));
      case 'FUNCTION': return sock.write(bulk(/^#!lua name=(\w+)/.exec(args[2] ?? '')?.[1] ?? 'lib'));
      case 'SET':
        if (args.includes('NX') && kv.has(args[1])) return sock.write('$-1\r\n');
        kv.set(args[1], args[2]);
        return sock.write('+OK\r\n');
      case 'GET': return sock.write(bulk(kv.get(args[1]) ?? null));
      case 'HSET': case 'HDEL': return sock.write(':1\r\n');
      case 'HGETALL': return sock.write('*0\r\n');
      case 'TIME': {
        const us = BigInt(Date.now()) * 1000n;
        return sock.write(arr([bulk(String(us / 1000000n)), bulk(String(us % 1000000n))]));
      }
      case 'SUBSCRIBE': case 'UNSUBSCRIBE':
        return sock.write(arr([bulk(name.toLowerCase()), bulk(args[1]), ':1\r\n']));
      case 'EVALSHA': case 'FCALL':
        if (fake.mode === 'wrongtype') return sock.write(':42\r\n');
        if (fake.mode === 'garbage') return sock.write('?garbage \x01\x02 not RESP\r\n');
        if (fake.mode === 'hugebulk') {
          sock.write('$1073741824\r\n');
          return sock.write(nineMib ??= Buffer.alloc(9 << 20, 0x78));
        }
        return sock.write('-ERR fake redis: no scripts here\r\n');
      default: return sock.write(`-ERR fake redis: unknown command '${name}'\r\n`);
    }
  };
  const server = net.createServer((sock) => {
    fake.connections++;
    sockets.add(sock);
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const { cmds, rest } = parseCommands(buf);
      buf = Buffer.from(rest);
      for (const c of cmds) answer(sock, c);
    });
    sock.on('error', () => {});
    sock.on('close', () => sockets.delete(sock));
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve); });
  fake.setMode = (m) => { fake.mode = m; for (const s of sockets) s.destroy(); };
  fake.close = () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); });
  return fake;
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
