// Transport-level checks of mcp-chatd with the official SDK client: initialize, tools/list,
// ping, the GET push stream, DELETE, logging/setLevel.
import { test } from 'node:test';
import http from 'node:http';
import assert from 'node:assert/strict';
import { McpError, EmptyResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { scope, rawPost, rawDelete, openSse, PROTOCOL_VERSION } from './helpers.mjs';

const TOOLS = ['enter_queue', 'join_room', 'send_message', 'wait_for_message', 'leave_chat', 'get_status'];

test('connect negotiates 2025-11-25 and issues a URL-safe session id of >= 128 bits', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const c = await s.client(d.url);
  assert.equal(c.transport.protocolVersion, PROTOCOL_VERSION);
  const sid = c.sessionId;
  assert.match(sid, /^[A-Za-z0-9_-]+$/, `session id not URL-safe: ${sid}`);
  // base64url: 6 bits a character; hex would need 32 characters for 128 bits
  assert.ok(sid.length >= 22, `session id too short for 128 bits: ${sid}`);
  const info = c.client.getServerVersion();
  assert.ok(info?.name, 'serverInfo.name missing');
  assert.ok(c.client.getServerCapabilities()?.tools, 'server does not declare the tools capability');
  // a second session gets a different id
  const c2 = await s.client(d.url);
  assert.notEqual(c2.sessionId, sid);
});

test('tools/list has the six chat tools with descriptions and object input schemas', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const c = await s.client(d.url);
  const { tools } = await c.client.listTools();
  assert.deepEqual(tools.map((x) => x.name).sort(), [...TOOLS].sort());
  for (const tool of tools) {
    assert.equal(typeof tool.description, 'string', `${tool.name}: no description`);
    assert.ok(tool.description.length > 10, `${tool.name}: description too short`);
    assert.equal(tool.inputSchema?.type, 'object', `${tool.name}: inputSchema.type is not object`);
    assert.ok(tool.inputSchema.properties === undefined || typeof tool.inputSchema.properties === 'object');
  }
  const byName = Object.fromEntries(tools.map((x) => [x.name, x]));
  assert.ok(byName.send_message.inputSchema.properties.room_id, 'send_message: no room_id property');
  assert.ok(byName.send_message.inputSchema.properties.message, 'send_message: no message property');
  assert.deepEqual([...(byName.send_message.inputSchema.required ?? [])].sort(), ['message', 'room_id']);
  assert.deepEqual(byName.join_room.inputSchema.required ?? [], ['room_id']);
  assert.deepEqual(byName.leave_chat.inputSchema.required ?? [], ['room_id']);
  assert.ok(!byName.enter_queue.inputSchema.required?.length, 'enter_queue arguments are all optional');
  assert.ok(!byName.get_status.inputSchema.required?.length, 'get_status takes no arguments');
  assert.ok(!byName.wait_for_message.inputSchema.required?.length, 'wait_for_message arguments are optional');
});

test('ping answers with an empty result', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const c = await s.client(d.url);
  assert.deepEqual(await c.client.ping(), {});
  assert.deepEqual(await c.client.ping(), {});
});

test('the SDK opens the GET push stream and server-pushed chatroom.found arrives on it', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const a = await s.client(d.url, { name: 'A' });
  const b = await s.client(d.url, { name: 'B' });
  await a.waitStream();
  await b.waitStream();
  assert.equal((await a.ok('enter_queue', { display_name: 'Ann' })).status, 'waiting');
  const rb = await b.ok('enter_queue', { display_name: 'Ben' });
  assert.equal(rb.status, 'matched');
  const fa = await a.waitEvent('chatroom.found');
  const fb = await b.waitEvent('chatroom.found');
  assert.equal(fa.params.room_id, rb.room_id);
  assert.equal(fb.params.room_id, rb.room_id);
  assert.equal(fa.params.partner.display_name, 'Ben');
  assert.equal(fb.params.partner.display_name, 'Ann');
  // Delivered by the push stream: the SDK only reads notifications from SSE streams, and the
  // tool results came back as application/json. No transport error was reported.
  assert.deepEqual(a.errors.map(String), []);
  assert.deepEqual(b.errors.map(String), []);
});

test('terminateSession (DELETE) ends the session; the old id then gets 404', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const c = await s.client(d.url, { reconnect: false });
  await c.waitStream();
  const sid = c.sessionId;
  await c.client.listTools();
  await c.transport.terminateSession();
  assert.equal(c.transport.sessionId, undefined);
  const post = await rawPost(d.url, sid, { jsonrpc: '2.0', id: 7, method: 'tools/list' });
  assert.equal(post.status, 404, `POST with ended session id: HTTP ${post.status}`);
  const get = await openSse(d.url, sid);
  assert.equal(get.status, 404, `GET with ended session id: HTTP ${get.status}`);
  assert.equal(await rawDelete(d.url, sid), 404, 'second DELETE of the same id');
  // other sessions are unaffected
  const other = await s.client(d.url);
  assert.deepEqual(await other.client.ping(), {});
});

test('a request without Mcp-Session-Id gets 400, an unknown id 404, a bad protocol version 400', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const c = await s.client(d.url);
  const missing = await rawPost(d.url, undefined, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
  assert.equal(missing.status, 400);
  const unknown = await rawPost(d.url, 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', { jsonrpc: '2.0', id: 1, method: 'tools/list' });
  assert.equal(unknown.status, 404);
  const badVersion = await rawPost(d.url, c.sessionId, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'MCP-Protocol-Version': '1999-01-01' });
  assert.equal(badVersion.status, 400);
  const note = await rawPost(d.url, c.sessionId, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 424242 } });
  assert.equal(note.status, 202, 'POST of a notification → 202');
  assert.equal(note.text, '');
});

test('logging/setLevel works', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const c = await s.client(d.url);
  assert.ok(c.client.getServerCapabilities()?.logging, 'server does not declare the logging capability');
  for (const level of ['debug', 'info', 'warning', 'error']) {
    assert.deepEqual(await c.client.setLoggingLevel(level), {});
  }
  // an invalid level is a JSON-RPC error, not a crash
  await assert.rejects(
    c.client.request({ method: 'logging/setLevel', params: { level: 'loud' } }, EmptyResultSchema),
    (err) => err instanceof McpError && err.code === -32602,
  );
  assert.deepEqual(await c.client.ping(), {});
});

test('SIGTERM with live sessions and an open push stream exits 0 promptly', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const c = await s.client(d.url, { reconnect: false });
  await c.waitStream();
  await c.ok('enter_queue', {});
  const started = Date.now();
  await d.stop();
  assert.ok(Date.now() - started < 5000);
});

test('Host or Origin outside the allow-list gets 403 (DNS-rebinding protection)', { timeout: 20_000 }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon();
  const u = new URL(d.url);
  const init = JSON.stringify({
    jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  });
  const post = (headers) => new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: false,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', reject);
    req.end(init);
  });
  assert.equal(await post({ Host: `evil.example:${u.port}` }), 403);
  assert.equal(await post({ Host: u.host, Origin: 'http://evil.example' }), 403);
  assert.equal(await post({ Host: u.host, Origin: `http://${u.host}` }), 200);
  assert.equal(await post({ Host: u.host }), 200);
});
