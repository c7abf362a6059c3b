// Helpers for the MCP 2026-07-28 ("modern", stateless) end-to-end tests with the official
// TypeScript SDK v2 client (@modelcontextprotocol/client): no session, a chat is named by the
// chat_id that enter_queue / join_room return, and events are read with wait_for_message,
// whose `after` acknowledges every event up to it.
//
// MCPCHAT_PEER2_URL=http://127.0.0.1:PORT/mcp runs the modern tests against a running
// reference peer2 (shared/peer2, `node peer2.mjs --port 0 --chat-idle-timeout 3`) instead of
// the daemon, to check the tests themselves; tests that need the daemon are skipped then.
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { assertOk, assertToolError, withTimeout, sleep } from './helpers.mjs';

export const MODERN_VERSION = '2026-07-28';
export const ALL_VERSIONS = ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26'];
export const CHAT_TOOLS = ['enter_queue', 'join_room', 'send_message', 'wait_for_message', 'leave_chat', 'get_status'];
export const PEER2_URL = process.env.MCPCHAT_PEER2_URL || '';
/** The daemon mints 22 base64url characters (128 bits); peer2 mints 32. */
export const CHAT_ID_RE = PEER2_URL ? /^[A-Za-z0-9_-]{16,64}$/ : /^[A-Za-z0-9_-]{22}$/;

let uniq = 0;
/** A room name no other test uses. */
export const roomName = (tag = 'room') => `${tag}-${process.pid}-${Date.now().toString(36)}-${++uniq}`;

/**
 * The server under test for a modern test: a daemon started in scope `s` with `extraArgs`
 * (and, when `config` is given, a temporary INI file passed with --config), or the peer2
 * reference when MCPCHAT_PEER2_URL is set. Returns { url, daemon? }.
 */
export async function modernTarget(s, extraArgs = [], { config } = {}) {
  if (PEER2_URL) return { url: PEER2_URL };
  const args = [...extraArgs];
  if (config !== undefined) {
    const dir = mkdtempSync(path.join(tmpdir(), 'mcpchat-modern-'));
    const file = path.join(dir, 'mcp-chatd.ini');
    writeFileSync(file, config);
    args.push('--config', file);
    s.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  }
  const daemon = await s.daemon(args);
  return { url: daemon.url, daemon };
}

/**
 * Connects an SDK v2 client. opts.mode: the versionNegotiation mode (default: pinned to
 * 2026-07-28). Every HTTP exchange is recorded in `m.http` ({method, headers, body, status,
 * contentType}); `m.loseNextWait()` makes the next wait_for_message answer arrive at the
 * client in full and then be thrown away (the fetch fails as if the connection dropped);
 * `m.loseNext(tool)` does the same to the next call of any tool.
 */
export async function connectModern(url, { name = 'modern', mode = { pin: MODERN_VERSION }, timeoutMs = 5000 } = {}) {
  const http = [];
  let loseNext = null; // the tool whose next answer is thrown away
  const lost = [];
  const fetchFn = async (input, init = {}) => {
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    let body = null;
    if (typeof init.body === 'string') { try { body = JSON.parse(init.body); } catch { body = init.body; } }
    const rec = { method: init.method ?? 'GET', headers, body, status: null, contentType: null };
    http.push(rec);
    const res = await fetch(input, init);
    rec.status = res.status;
    rec.contentType = res.headers.get('content-type');
    rec.sessionId = res.headers.get('mcp-session-id');
    if (loseNext && body?.method === 'tools/call' && body.params?.name === loseNext) {
      loseNext = null;
      const text = await res.text(); // the whole answer reached the client...
      lost.push({ status: res.status, text });
      throw new TypeError('fetch failed (test: the answer was lost on the way)'); // ...and was lost
    }
    return res;
  };
  const client = new Client({ name, version: '1.0.0' }, { versionNegotiation: { mode } });
  const errors = [];
  client.onerror = (e) => errors.push(e);
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: fetchFn });
  await withTimeout(client.connect(transport), timeoutMs, `${name}: connect`);
  let closed = false;
  const m = {
    name, client, transport, http, errors, lost,
    /** Raw CallToolResult. opts: SDK RequestOptions (signal, timeout, onprogress, ...). */
    call: (tool, args = {}, opts = {}) => client.callTool({ name: tool, arguments: args }, { timeout: 15_000, ...opts }),
    ok: async (tool, args = {}, opts) => assertOk(await m.call(tool, args, opts), `${name}: ${tool}(${JSON.stringify(args).slice(0, 200)})`),
    err: async (tool, args, code, opts) => assertToolError(await m.call(tool, args, opts), code, `${name}: ${tool}(${JSON.stringify(args).slice(0, 200)})`),
    loseNextWait() { loseNext = 'wait_for_message'; },
    loseNext(tool) { loseNext = tool; },
    async close() {
      if (closed) return;
      closed = true;
      await withTimeout(client.close(), 3000, `${name}: close`).catch(() => {});
    },
  };
  return m;
}

/** The daemon's mcpchat_waiting_calls gauge from /metrics (loopback is in [status] allow by default). */
export async function waitingCalls(mcpUrl) {
  const res = await fetch(mcpUrl.replace(/\/mcp$/, '/metrics'));
  const text = await res.text();
  assert.equal(res.status, 200, `/metrics: HTTP ${res.status}`);
  const m = text.match(/^mcpchat_waiting_calls (\d+)$/m);
  assert.ok(m, 'no mcpchat_waiting_calls in /metrics');
  return Number(m[1]);
}

/** connectModern, closed by the scope's cleanup. */
export async function modernClient(s, url, opts) {
  return s.track(await connectModern(url, opts));
}

/**
 * One chat on a modern client: `chatId`, `roomId`, and a reading cursor `next` that every
 * read passes explicitly as `after`. `events` holds every event the chat accepted, in order.
 */
export function modernChat(m, displayName) {
  const ch = {
    m, displayName, chatId: undefined, roomId: undefined, next: 0, events: [],
    /** Records chat_id (checked) and room_id from an enter_queue / join_room result. */
    adopt(r) {
      assert.match(r?.chat_id ?? '', CHAT_ID_RE, `${m.name}: no chat_id in ${JSON.stringify(r)}`);
      if (ch.chatId !== undefined) assert.equal(r.chat_id, ch.chatId, `${m.name}: chat_id changed`);
      ch.chatId = r.chat_id;
      if (r.room_id) ch.roomId = r.room_id;
      return r;
    },
    args: (extra = {}) => ({ ...(ch.chatId !== undefined ? { chat_id: ch.chatId } : {}), ...extra }),
    async enterQueue(extra = {}) {
      return ch.adopt(await m.ok('enter_queue', ch.args({ display_name: displayName, ...extra })));
    },
    async joinRoom(roomId) {
      const r = ch.adopt(await m.ok('join_room', ch.args({ room_id: roomId, display_name: displayName })));
      assert.equal(r.room_id, roomId);
      return r;
    },
    send: (message) => m.ok('send_message', ch.args({ room_id: ch.roomId, message })),
    leave: () => m.ok('leave_chat', ch.args({ room_id: ch.roomId })),
    status: () => m.ok('get_status', ch.args()),
    /** wait_for_message with explicit after; checks the answer's shape; does not move `next`. */
    async wait(after, timeout_s = 5, opts = {}) {
      const r = await m.ok('wait_for_message', ch.args({ after, timeout_s }), { timeout: (timeout_s + 10) * 1000, ...opts });
      assertWaitShape(r, after, `${m.name}: wait_for_message(after=${after})`);
      return r;
    },
    /** Reads once from `next`, accepts the events and moves `next`; returns the new events. */
    async read(timeout_s = 5, opts) {
      const r = await ch.wait(ch.next, timeout_s, opts);
      ch.events.push(...r.events);
      ch.next = r.next;
      const found = r.events.find((e) => e.method === 'chatroom.found');
      if (found && !ch.roomId) ch.roomId = found.params.room_id;
      return r.events;
    },
    /** Reads until an accepted event of `method` matches `pred`; returns it. */
    async readUntil(method, pred = () => true, timeoutMs = 8000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = ch.events.find((e) => e.method === method && pred(e.params));
        if (hit) return hit;
        const left = deadline - Date.now();
        if (left <= 0) assert.fail(`${m.name}: no ${method} within ${timeoutMs} ms; events: ${JSON.stringify(ch.events).slice(0, 1500)}`);
        await ch.read(Math.max(0, Math.min(2, Math.floor(left / 1000))));
      }
    },
    byMethod: (method) => ch.events.filter((e) => e.method === method),
  };
  return ch;
}

/** A wait_for_message answer: {events:[{method, params:{seq,...}}], next}, seqs rising after `after`, next = last seq. */
export function assertWaitShape(r, after, what) {
  assert.ok(Array.isArray(r.events), `${what}: no events array: ${JSON.stringify(r)}`);
  assert.ok(Number.isInteger(r.next), `${what}: next is not an integer: ${JSON.stringify(r)}`);
  let prev = after ?? -1;
  for (const e of r.events) {
    assert.equal(typeof e.method, 'string', `${what}: event without method`);
    assert.ok(Number.isInteger(e.params?.seq), `${what}: event without seq: ${JSON.stringify(e)}`);
    assert.ok(e.params.seq > prev, `${what}: seq ${e.params.seq} not after ${prev}: ${JSON.stringify(r.events.map((x) => x.params.seq))}`);
    prev = e.params.seq;
  }
  if (r.events.length) assert.equal(r.next, r.events.at(-1).params.seq, `${what}: next is not the last event's seq`);
  else if (after !== undefined) assert.equal(r.next, after, `${what}: no events, but next moved from ${after}`);
}

export { sleep };
