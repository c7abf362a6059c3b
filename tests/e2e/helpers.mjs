// Shared helpers for the SDK end-to-end tests: start/stop mcp-chatd, connect official SDK
// clients, collect the chat notifications, call tools, and talk raw HTTP/SSE when needed.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { existsSync } from 'node:fs';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const MCPCHATD = process.env.MCPCHATD || path.resolve(here, '../../build/mcp-chatd');
export const PROTOCOL_VERSION = '2025-11-25';
export const CHAT_METHODS = ['chatroom.found', 'message.received', 'partner.disconnected', 'queue.update'];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `predicate` (sync or async) until it returns a truthy value; throws after timeoutMs. */
export async function waitFor(predicate, timeoutMs = 5000, what = 'condition', intervalMs = 10) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Rejects when `promise` takes longer than ms. */
export function withTimeout(promise, ms, what = 'operation') {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms); }),
  ]);
}

/** A short account of a failing daemon's stderr: sanitizer summary and first report, else the tail. */
function stderrDigest(stderr) {
  const at = stderr.search(/==\d+==ERROR: (Leak|Address|Undefined)Sanitizer|runtime error:/);
  if (at < 0) return `stderr tail:\n${stderr.slice(-2000)}`;
  const summary = stderr.match(/SUMMARY: .*/g)?.join('\n') ?? '';
  return `${summary}\nfirst sanitizer report:\n${stderr.slice(at, at + 1500)}`;
}

/**
 * Starts the daemon (opts.binary, default MCPCHATD) on 127.0.0.1:0 with extra args; resolves once
 * it printed its ready line.
 * Returns { proc, url, pid, stderr(), stop() }. stop() sends SIGTERM and asserts exit code 0
 * within 5 s (SIGKILL fallback, then the assertion fails).
 */
export async function startDaemon(extraArgs = [], { readyTimeoutMs = 10_000, env = {}, binary = MCPCHATD } = {}) {
  const proc = spawn(binary, ['--listen', '127.0.0.1:0', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ASAN_OPTIONS: process.env.ASAN_OPTIONS ?? 'detect_leaks=1', ...env },
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { stderr += d; if (stderr.length > 4_000_000) stderr = stderr.slice(-2_000_000); });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  let exitInfo = null;
  exited.then((e) => { exitInfo = e; });

  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`mcp-chatd not ready within ${readyTimeoutMs} ms; stderr:\n${stderr}`));
    }, readyTimeoutMs);
    proc.once('error', (err) => { clearTimeout(timer); reject(err); });
    proc.stdout.on('data', (d) => {
      stdout += d;
      const m = stdout.match(/mcp-chatd listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`mcp-chatd exited early (code ${code}, signal ${signal}); stderr:\n${stderr}`));
    });
  });

  let stopped = null;
  const daemon = {
    proc,
    pid: proc.pid,
    url,
    stderr: () => stderr,
    get exitInfo() { return exitInfo; },
    /** SIGTERM by PID; asserts a clean exit (code 0) within 5 s. Idempotent. */
    stop() {
      stopped ??= (async () => {
        if (exitInfo === null) {
          try { process.kill(proc.pid, 'SIGTERM'); } catch { /* already gone */ }
        }
        let timer;
        const result = await Promise.race([
          exited,
          new Promise((r) => { timer = setTimeout(() => r(null), 5000); }),
        ]);
        clearTimeout(timer);
        if (result === null) {
          try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ }
          await exited;
          assert.fail(`mcp-chatd (pid ${proc.pid}) did not exit within 5 s of SIGTERM; stderr tail:\n${stderr.slice(-4000)}`);
        }
        assert.equal(result.signal, null, `mcp-chatd died of signal ${result.signal}; ${stderrDigest(stderr)}`);
        assert.equal(result.code, 0, `mcp-chatd exit code ${result.code} after SIGTERM; ${stderrDigest(stderr)}`);
        return result;
      })();
      return stopped;
    },
  };
  return daemon;
}

/** mcp-chatd-fixtures (the conformance fixtures build), or why its tests are skipped. */
const FIXTURES = process.env.MCPCHATD_FIXTURES;
export const FIXTURES_SKIP = FIXTURES && existsSync(FIXTURES) ? false : 'mcp-chatd-fixtures not built (-DMCPCHAT_CONFORMANCE_FIXTURES=ON)';

/** A mcp-chatd-fixtures --conformance-fixtures of the test's own, stopped after it. */
export async function fixturesDaemon(t) {
  const d = await startDaemon(['--conformance-fixtures'], { binary: FIXTURES });
  t.after(() => d.stop());
  return d;
}

/** The text blocks of a tool result, joined. */
export const textOf = (r) => r.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');

/**
 * Connects an official SDK client to `url`. Collects every chat notification into
 * `c.events` (array of {method, params}); `c.byMethod(m)` filters.
 * opts.noStream: the transport's fetch answers the GET push stream with 405 locally, so the
 * session never has a push stream (the SDK treats 405 as "no SSE offered").
 * opts.reconnect false: a dropped GET stream is not reopened.
 */
export async function connectClient(url, { name = 'e2e', noStream = false, reconnect = true, wrapFetch } = {}) {
  const events = [];
  const getStreams = [];
  // opts.wrapFetch(fetch) returns the fetch the transport uses (to delay or drop answers).
  const baseFetch = wrapFetch ? wrapFetch(globalThis.fetch) : globalThis.fetch;
  const fetchFn = async (input, init = {}) => {
    if ((init.method ?? 'GET') === 'GET') {
      if (noStream) return new Response(null, { status: 405 });
      const res = await baseFetch(input, init);
      getStreams.push({ status: res.status, at: Date.now() });
      return res;
    }
    return baseFetch(input, init);
  };
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: fetchFn,
    reconnectionOptions: reconnect
      ? { initialReconnectionDelay: 100, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1.5, maxRetries: 2 }
      : { initialReconnectionDelay: 100, maxReconnectionDelay: 100, reconnectionDelayGrowFactor: 1, maxRetries: 0 },
  });
  const client = new Client({ name, version: '1.0.0' }, { capabilities: {} });
  const errors = [];
  client.onerror = (err) => errors.push(err);
  client.fallbackNotificationHandler = async (n) => { events.push({ method: n.method, params: n.params }); };
  await withTimeout(client.connect(transport), 5000, 'client.connect');
  let closed = false;
  const c = {
    client,
    transport,
    events,
    errors,
    getStreams,
    get sessionId() { return transport.sessionId; },
    byMethod: (m) => events.filter((e) => e.method === m),
    /** Waits for the first event of `method` matching `pred`. */
    waitEvent: (method, pred = () => true, timeoutMs = 5000) =>
      waitFor(() => events.find((e) => e.method === method && pred(e.params)), timeoutMs, `${name}: ${method}`),
    /** Waits until the session's GET push stream answered 200. */
    waitStream: (timeoutMs = 5000) => waitFor(() => getStreams.some((g) => g.status === 200), timeoutMs, `${name}: GET stream`),
    /** Calls a tool; returns the raw CallToolResult. */
    call: (tool, args = {}, timeoutMs = 10_000) =>
      client.callTool({ name: tool, arguments: args }, undefined, { timeout: timeoutMs }),
    /** Calls a tool, asserts success and that the text item mirrors structuredContent. */
    ok: async (tool, args = {}, timeoutMs = 10_000) => {
      const r = await c.call(tool, args, timeoutMs);
      return assertOk(r, `${tool}(${JSON.stringify(args).slice(0, 200)})`);
    },
    /** Calls a tool, asserts a chat refusal with `code`; returns structuredContent. */
    err: async (tool, args, code, timeoutMs = 10_000) => {
      const r = await c.call(tool, args, timeoutMs);
      return assertToolError(r, code, `${tool}(${JSON.stringify(args).slice(0, 200)})`);
    },
    /** Terminates (DELETE) the session, then closes the transport. */
    async terminate() {
      await transport.terminateSession();
      await c.close();
    },
    async close() {
      if (closed) return;
      closed = true;
      await client.close().catch(() => {});
    },
  };
  return c;
}

/** enter_queue/join_room results carry the chat's chat_id (22 base64url characters): checks
 * it and returns the rest, for deepEqual against the contract's shape. */
export function sansChatId(r) {
  assert.match(r?.chat_id ?? '', /^[A-Za-z0-9_-]{22}$/, `no chat_id in ${JSON.stringify(r)}`);
  const { chat_id: _id, ...rest } = r;
  return rest;
}

/** Asserts a successful tool result: structuredContent present and content[0].text is the same JSON. */
export function assertOk(r, what = 'tool call') {
  assert.notEqual(r.isError, true, `${what} failed: ${JSON.stringify(r)}`);
  assert.ok(r.structuredContent && typeof r.structuredContent === 'object', `${what}: no structuredContent: ${JSON.stringify(r)}`);
  assert.ok(Array.isArray(r.content) && r.content.length >= 1, `${what}: no content`);
  assert.equal(r.content[0].type, 'text', `${what}: content[0] is not text`);
  assert.deepEqual(JSON.parse(r.content[0].text), r.structuredContent, `${what}: text content differs from structuredContent`);
  return r.structuredContent;
}

/** Asserts a tool-level error with structuredContent.error === code and a human sentence in content[0].text. */
export function assertToolError(r, code, what = 'tool call') {
  assert.equal(r.isError, true, `${what}: expected isError with ${code}, got ${JSON.stringify(r)}`);
  assert.ok(r.structuredContent && typeof r.structuredContent === 'object', `${what}: no structuredContent: ${JSON.stringify(r)}`);
  assert.equal(r.structuredContent.error, code, `${what}: wrong error code: ${JSON.stringify(r.structuredContent)}`);
  assert.equal(r.content?.[0]?.type, 'text', `${what}: content[0] is not text`);
  const text = r.content[0].text;
  assert.ok(typeof text === 'string' && text.length > 0, `${what}: empty error text`);
  let isJson = false;
  try { JSON.parse(text); isJson = true; } catch { /* a sentence */ }
  assert.ok(!isJson, `${what}: error text should be a sentence, got JSON: ${text}`);
  assert.match(text, /[A-Za-z]{2,}.*\s.*[A-Za-z]{2,}/, `${what}: error text is not a sentence: ${text}`);
  return r.structuredContent;
}

/**
 * Tracks resources created in a test and releases them in an `after`/`t.after` hook:
 * clients are closed (without DELETE), daemons are stopped and their exit asserted.
 */
export function scope() {
  const clients = [];
  const daemons = [];
  const aborts = [];
  const closers = [];
  const finals = [];
  return {
    /** A daemon; with MCPCHAT_E2E_CLUSTER=1 a whole cluster behind haproxy (cluster-target.mjs). */
    async daemon(args, opts) {
      const d = process.env.MCPCHAT_E2E_CLUSTER === '1'
        ? await (await import('./cluster-target.mjs')).startClusterTarget(args, opts)
        : await startDaemon(args, opts);
      daemons.push(d);
      return d;
    },
    async client(url, opts) { const c = await connectClient(url, opts); clients.push(c); return c; },
    abortController() { const a = new AbortController(); aborts.push(a); return a; },
    /** Tracks any object with close() (e.g. an SDK v2 client); closed with the clients. */
    track(closeable) { closers.push(closeable); return closeable; },
    /** Runs fn after the daemons stopped (e.g. to remove a temporary config file). */
    onCleanup(fn) { finals.push(fn); },
    async cleanup() {
      for (const a of aborts) a.abort();
      await Promise.allSettled([...clients, ...closers].map((c) => withTimeout(c.close(), 3000, 'client.close')));
      const results = await Promise.allSettled(daemons.map((d) => d.stop()));
      for (const fn of finals) { try { await fn(); } catch { /* best effort */ } }
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}

/** Two connected clients matched via enter_queue; returns { a, b, roomId }. */
export async function matchedPair(s, url, { nameA = 'Alice', nameB = 'Bob', ...opts } = {}) {
  const a = await s.client(url, { name: nameA, ...opts });
  const b = await s.client(url, { name: nameB, ...opts });
  const ra = await a.ok('enter_queue', { display_name: nameA });
  assert.equal(ra.status, 'waiting');
  const rb = await b.ok('enter_queue', { display_name: nameB });
  assert.equal(rb.status, 'matched');
  return { a, b, roomId: rb.room_id };
}

// ---- raw HTTP / SSE ------------------------------------------------------------------------

/** Raw initialize + initialized over fetch; returns the session id. */
export async function rawSession(url) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
    body: JSON.stringify({
      jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }),
  });
  assert.equal(res.status, 200, `initialize: HTTP ${res.status}`);
  const sid = res.headers.get('mcp-session-id');
  assert.ok(sid, 'initialize: no Mcp-Session-Id');
  await res.text();
  const r2 = await rawPost(url, sid, { jsonrpc: '2.0', method: 'notifications/initialized' });
  assert.equal(r2.status, 202);
  return sid;
}

/** Raw POST with a session id; returns { status, headers, json } (json parsed from JSON or the first SSE data line). */
export async function rawPost(url, sid, body, extraHeaders = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': PROTOCOL_VERSION, ...(sid ? { 'Mcp-Session-Id': sid } : {}), ...extraHeaders,
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  const ct = res.headers.get('content-type') ?? '';
  if (ct.includes('text/event-stream')) {
    const data = text.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim());
    const parsed = data.map((d) => { try { return JSON.parse(d); } catch { return null; } }).filter(Boolean);
    json = parsed.find((m) => 'id' in m && ('result' in m || 'error' in m)) ?? parsed.at(-1) ?? null;
  } else if (text) {
    try { json = JSON.parse(text); } catch { json = null; }
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** Raw tools/call; returns the CallToolResult (asserts a JSON-RPC result). */
let rawId = 1000;
export async function rawCall(url, sid, name, args = {}) {
  const r = await rawPost(url, sid, { jsonrpc: '2.0', id: ++rawId, method: 'tools/call', params: { name, arguments: args } });
  assert.equal(r.status, 200, `raw ${name}: HTTP ${r.status} ${r.text}`);
  assert.ok(r.json?.result, `raw ${name}: no result: ${r.text}`);
  return r.json.result;
}

/**
 * Opens the session's GET push stream with raw fetch and parses SSE events as they come.
 * Returns { status, events: [{id, event, data, json}], abort(), closed: Promise }.
 */
export async function openSse(url, sid, { lastEventId, signal } = {}) {
  const ac = new AbortController();
  if (signal) signal.addEventListener('abort', () => ac.abort(), { once: true });
  const headers = { Accept: 'text/event-stream', 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': PROTOCOL_VERSION };
  if (lastEventId !== undefined) headers['Last-Event-ID'] = String(lastEventId);
  const res = await fetch(url, { method: 'GET', headers, signal: ac.signal });
  const stream = { status: res.status, headers: res.headers, events: [], abort: () => ac.abort(), closed: null };
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => {});
    stream.closed = Promise.resolve();
    return stream;
  }
  stream.closed = (async () => {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body) {
        buf += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = { id: undefined, event: 'message', data: '' };
          const dataLines = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            let value = colon < 0 ? '' : line.slice(colon + 1);
            if (value.startsWith(' ')) value = value.slice(1);
            if (field === 'id') ev.id = value;
            else if (field === 'event') ev.event = value;
            else if (field === 'data') dataLines.push(value);
          }
          if (dataLines.length === 0) continue; // comment / keep-alive / retry-only block
          ev.data = dataLines.join('\n');
          try { ev.json = JSON.parse(ev.data); } catch { ev.json = null; }
          stream.events.push(ev);
        }
      }
    } catch { /* aborted */ }
  })();
  return stream;
}

/** Raw DELETE of a session. */
export async function rawDelete(url, sid) {
  const res = await fetch(url, { method: 'DELETE', headers: { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': PROTOCOL_VERSION } });
  await res.text();
  return res.status;
}
