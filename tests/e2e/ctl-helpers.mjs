// What the mcpchatctl end-to-end files (ctl.test.mjs, ctl-edges.test.mjs) share: running
// mcpchatctl and parsing its tables, daemons with a control socket, SDK clients with handles,
// the secret marker, and everything a file observed (outputs, daemons, session and chat ids)
// for the check that none of it ever shows a message text or a session id.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import http from 'node:http';
import path from 'node:path';
import assert from 'node:assert/strict';
import { scope, sleep, PROTOCOL_VERSION } from './helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const MCPCHATCTL = path.resolve(process.env.MCPCHATCTL || path.resolve(here, '../../build/mcpchatctl'));

/** Distinctive message text: must never show up in an admin output or a daemon log line. */
export const MARKER = `secret-marker-${randomBytes(8).toString('hex')}`;
export const HANDLE_RE = /^[0-9a-f]{8}$/;

// Everything the file observed, for the privacy checks (the privacy test, each file's after).
export const ctlRuns = [];      // { args, code, stdout, stderr }
export const allDaemons = [];   // daemon objects (their stderr stays readable after stop)
export const allSessionIds = new Set();
export const allChatIds = new Set(); // chat_id of every enter_queue/join_room result
export let markersSent = 0;
/** Counts a message carrying MARKER (markersSent is read-only outside this module). */
export const countMarker = () => { markersSent++; };

// ---- running mcpchatctl ------------------------------------------------------------------

/**
 * Runs mcpchatctl with `args` (prefixed by --socket SOCK when given); resolves
 * { code, signal, stdout, stderr, pid }. Killed after timeoutMs (then code is null).
 * opts.wrap: a command and its args to run mcpchatctl under (e.g. setpriv ...).
 */
export function ctl(args, { sock, timeoutMs = 10_000, wrap = null, cwd, env } = {}) {
  const argv = sock ? ['--socket', sock, ...args] : [...args];
  const [cmd, cmdArgs] = wrap ? [wrap[0], [...wrap.slice(1), MCPCHATCTL, ...argv]] : [MCPCHATCTL, argv];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'], cwd: cwd ?? os.tmpdir(), env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const r = { args: [cmd, ...cmdArgs], code, signal, stdout, stderr, pid: child.pid };
      ctlRuns.push(r);
      resolve(r);
    });
  });
}

export const show = (r) => `mcpchatctl ${r.args.slice(1).join(' ')} → code ${r.code} signal ${r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

/** Runs a command that must succeed with empty stderr; returns the run. */
export async function ctlOk(sock, args, opts = {}) {
  const r = await ctl(args, { sock, ...opts });
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stderr, '', `unexpected stderr: ${show(r)}`);
  return r;
}

/** `--json CMD` parsed. */
export async function ctlJson(sock, args) {
  const r = await ctlOk(sock, ['--json', ...args]);
  try { return JSON.parse(r.stdout); } catch (e) { assert.fail(`--json output is not JSON: ${show(r)}`); }
}

/**
 * Parses a table: the first line is the header with `headers` in order; asserts that every
 * row's columns start at the header's column offsets (two spaces before, no space at the
 * start) and returns the rows as arrays of trimmed cells.
 */
export function parseTable(text, headers, what) {
  assert.ok(text.endsWith('\n'), `${what}: output does not end with a newline`);
  // offsets are in terminal columns: a wide (East Asian) character takes two, so it is
  // followed by a NUL placeholder here, removed again from the cells
  const lines = text.slice(0, -1).split('\n').map((l) => [...l].map((ch) => (isWide(ch.codePointAt(0)) ? `${ch}\0` : ch)).join(''));
  const head = lines[0];
  assert.deepEqual(head.trim().split(/\s+/), headers, `${what}: header line ${JSON.stringify(head)}`);
  const offs = [];
  let from = 0;
  for (const h of headers) {
    const at = head.indexOf(h, from);
    assert.ok(at >= 0, `${what}: header ${h} missing`);
    offs.push(at);
    from = at + h.length;
  }
  assert.equal(offs[0], 0, `${what}: header does not start at column 0`);
  return lines.slice(1).map((line) => {
    assert.notEqual(line[0], ' ', `${what}: row starts with a space: ${JSON.stringify(line)}`);
    for (let i = 1; i < offs.length; i++) {
      assert.equal(line.slice(offs[i] - 2, offs[i]), '  ',
        `${what}: column ${headers[i]} of row ${JSON.stringify(line)} is not aligned with the header ${JSON.stringify(head)}`);
      assert.ok(line.length > offs[i] && line[offs[i]] !== ' ',
        `${what}: column ${headers[i]} of row ${JSON.stringify(line)} does not start at offset ${offs[i]} (header ${JSON.stringify(head)})`);
    }
    assert.equal(line, line.trimEnd(), `${what}: trailing spaces in ${JSON.stringify(line)}`);
    return offs.map((o, i) => line.slice(o, offs[i + 1]).replaceAll('\0', '').trim());
  });
}

export const WIDE = [[0x1100, 0x115f], [0x2e80, 0x303e], [0x3041, 0x33ff], [0x3400, 0x4dbf], [0x4e00, 0x9fff],
  [0xa000, 0xa4cf], [0xac00, 0xd7a3], [0xf900, 0xfaff], [0xfe30, 0xfe4f], [0xff00, 0xff60],
  [0xffe0, 0xffe6], [0x1f300, 0x1f64f], [0x1f900, 0x1f9ff], [0x20000, 0x3fffd]];
export const isWide = (cp) => WIDE.some(([lo, hi]) => cp >= lo && cp <= hi);

/** Parses aligned "key  value" lines into a Map; asserts every value starts at the same column. */
export function parseKv(text, what) {
  const lines = text.trimEnd().split('\n');
  const map = new Map();
  let col = null;
  for (const line of lines) {
    const m = line.match(/^(\S+)( {2,})(\S.*)$/);
    assert.ok(m, `${what}: not a "key  value" line: ${JSON.stringify(line)}`);
    const at = m[1].length + m[2].length;
    col ??= at;
    assert.equal(at, col, `${what}: value of ${m[1]} starts at ${at}, others at ${col}`);
    map.set(m[1], m[3]);
  }
  return map;
}

// ---- daemons and clients -----------------------------------------------------------------

/**
 * A test's resources: daemons with a control socket in a fresh temp dir and --log-level
 * debug, SDK clients whose session ids are remembered; all released in t.after.
 */
export function ctlScope(t) {
  const s = scope();
  const dirs = [];
  t.after(async () => {
    try {
      await s.cleanup();
    } finally {
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    }
  });
  return {
    async daemon(extra = []) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpchat-ctl-'));
      dirs.push(dir);
      const sock = path.join(dir, 'control.sock');
      const d = await s.daemon(['--control-socket', sock, '--log-level', 'debug', ...extra]);
      allDaemons.push(d);
      d.dir = dir;
      d.sock = sock;
      d.port = Number(new URL(d.url).port);
      return d;
    },
    async client(url, opts) {
      const c = await s.client(url, opts);
      assert.ok(c.sessionId, 'the SDK client has no session id');
      allSessionIds.add(c.sessionId);
      const ok = c.ok; // chat ids are credentials too: collect them for the leak check
      c.ok = async (...args) => {
        const r = await ok(...args);
        if (r?.chat_id) allChatIds.add(r.chat_id);
        return r;
      };
      return c;
    },
  };
}

/** Handles currently listed by `sessions --json`. */
export async function handles(sock) {
  const d = await ctlJson(sock, ['sessions']);
  return d.sessions.map((x) => x.handle);
}

/** Connects a client and returns it with its handle (the one new handle in `sessions`). */
export async function clientWithHandle(cs, d, opts) {
  const before = new Set(await handles(d.sock));
  const c = await cs.client(d.url, opts);
  const now = (await handles(d.sock)).filter((h) => !before.has(h));
  assert.equal(now.length, 1, `expected one new handle, got ${JSON.stringify(now)}`);
  assert.match(now[0], HANDLE_RE);
  c.handle = now[0];
  return c;
}

export async function sendSecret(c, roomId, i = 0) {
  const r = await c.ok('send_message', { room_id: roomId, message: `${MARKER} #${i} hello there` });
  markersSent++;
  return r;
}

/**
 * A get_status POST with this session id on a fresh connection (no keep-alive pool: the
 * daemon closes a session's stream connection without announcing it, see the keep-alive
 * test below); resolves the HTTP status.
 */
export function rawStatus(url, sid) {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'get_status', arguments: {} } });
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST', agent: false,
      headers: {
        'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
        'MCP-Protocol-Version': PROTOCOL_VERSION, 'Mcp-Session-Id': sid, 'Content-Length': Buffer.byteLength(body),
      },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.setTimeout(5000, () => req.destroy(new Error('rawStatus timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * After a session ends, the daemon ends its push stream's chunked body and closes that
 * connection although the response did not say `Connection: close`; a pooled fetch may pick
 * the dying socket for its next request ("fetch failed"). Until that is fixed, give the
 * client side a moment to see the close before the next request of the same process.
 */
export const settle = () => sleep(150);

/** A configuration file for a test daemon: the given [status] and [limits] lines. */
export function writeConf(file, { healthz = 'on', maxSessions = '100000', user = '' } = {}) {
  const lines = [
    '# written by ctl.test.mjs', // 1
    '[server]', //                  2
    `user = ${user}`, //            3
    '[status]', //                  4
    `healthz = ${healthz}`, //      5
    '[limits]', //                  6
    `max_sessions = ${maxSessions}`, // 7
  ];
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

/** HTTP status of GET /healthz on the daemon. */
export async function healthz(d) {
  const res = await fetch(new URL('/healthz', d.url));
  await res.text();
  return res.status;
}

/**
 * No mcpchatctl output and no line of a daemon's log (stopped, every one) shows message text,
 * a message marker, a session id or a chat id; every daemon logged a control request.
 */
export function expectNoLeaks() {
  const leaks = (text) => {
    const found = [];
    if (text.includes(MARKER)) found.push('message text');
    if (text.includes('secret-marker-')) found.push('a message marker');
    for (const sid of allSessionIds) if (text.includes(sid)) found.push(`session id ${sid}`);
    for (const cid of allChatIds) if (text.includes(cid)) found.push(`chat id ${cid}`);
    return found;
  };
  for (const r of ctlRuns) {
    const found = leaks(r.stdout + r.stderr);
    assert.deepEqual(found, [], `mcpchatctl output shows ${found.join(', ')}: ${show(r)}`);
  }
  for (const d of allDaemons) {
    const log = d.stderr();
    assert.ok(log.includes('control:'), `the daemon log of ${d.pid} shows no control request:\n${log.slice(0, 2000)}`);
    for (const line of log.split('\n')) {
      const found = leaks(line);
      assert.deepEqual(found, [], `daemon ${d.pid} log line shows ${found.join(', ')}: ${line}`);
    }
  }
}
