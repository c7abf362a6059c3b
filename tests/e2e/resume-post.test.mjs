// POST streams that can be resumed (issue 16: SSE polling, MCP 2025-11-25, SEP-1699), against
// mcp-chatd-fixtures (skipped when the tree was built without it): the fixture tool
// test_reconnection has the server close its POST stream after the priming event; the official
// SDK v1 client waits the stream's retry and reconnects with GET + Last-Event-ID, and gets the
// answer there. The same by hand: the priming event, the answer on the resuming GET (once),
// ids that name no resumable stream refused with 400 (not 404: the session is still there).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { FIXTURES_SKIP, fixturesDaemon, textOf, withTimeout } from './helpers.mjs';

const skip = FIXTURES_SKIP;

test('SDK v1: the answer of a call whose POST stream the server closed comes on the resuming GET', { skip, timeout: 30_000 }, async (t) => {
  const d = await fixturesDaemon(t);
  const client = new Client({ name: 'resume-v1', version: '1' }, { capabilities: {} });
  const transport = new StreamableHTTPClientTransport(new URL(d.url));
  await withTimeout(client.connect(transport), 5000, 'connect');
  t.after(() => client.close());
  const tokens = [];
  const r = await withTimeout(client.callTool({ name: 'test_reconnection', arguments: {} }, undefined,
    { onresumptiontoken: (tok) => tokens.push(tok) }), 10_000, 'test_reconnection');
  assert.notEqual(r.isError, true, JSON.stringify(r));
  assert.match(textOf(r), /Reconnection test completed/);
  assert.ok(tokens.length >= 1, 'no event id seen');
  assert.match(tokens[0], /^\d+-0$/, 'the priming event comes first');
  // the session goes on as usual
  const again = await client.callTool({ name: 'test_simple_text', arguments: {} });
  assert.match(textOf(again), /simple text/);
});

const HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };

async function session(url) {
  const init = await fetch(url, {
    method: 'POST', headers: HEADERS,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
  });
  assert.equal(init.status, 200);
  const sid = init.headers.get('mcp-session-id');
  await init.text();
  const h = { ...HEADERS, 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' };
  const n = await fetch(url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  assert.equal(n.status, 202);
  return h;
}

// "id: X\n...data: Y" frames of an SSE body.
function frames(body) {
  return body.split('\n\n').filter((f) => f.trim()).map((f) => {
    const o = {};
    for (const line of f.split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) o[line.slice(0, i)] = line.slice(i + 1).replace(/^ /, '');
    }
    return o;
  });
}

test('by hand: priming event with retry, the answer on GET Last-Event-ID once, bad ids 400', { skip, timeout: 30_000 }, async (t) => {
  const d = await fixturesDaemon(t);
  const h = await session(d.url);
  const post = await fetch(d.url, { method: 'POST', headers: h,
    body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'test_reconnection', arguments: {} } }) });
  assert.equal(post.status, 200);
  assert.match(post.headers.get('content-type'), /text\/event-stream/);
  const primed = frames(await post.text());
  assert.equal(primed.length, 1, 'the POST stream ends after the priming event');
  assert.match(primed[0].id, /^\d+-0$/);
  assert.equal(primed[0].data, '');
  assert.ok(Number(primed[0].retry) > 0);
  const get = { Accept: 'text/event-stream', 'Mcp-Session-Id': h['Mcp-Session-Id'], 'MCP-Protocol-Version': '2025-11-25' };
  const resumed = await fetch(d.url, { headers: { ...get, 'Last-Event-ID': primed[0].id } });
  assert.equal(resumed.status, 200);
  const events = frames(await resumed.text()).filter((f) => f.data);
  assert.equal(events.length, 1, JSON.stringify(events));
  assert.equal(events[0].id, primed[0].id.replace(/-0$/, '-1'));
  const msg = JSON.parse(events[0].data);
  assert.equal(msg.id, 9);
  assert.match(msg.result.content[0].text, /Reconnection test completed/);
  // read once: the same id again, an unknown stream, a malformed id: 400, the session lives
  for (const id of [primed[0].id, '999-0', '1-x']) {
    const r = await fetch(d.url, { headers: { ...get, 'Last-Event-ID': id } });
    assert.equal(r.status, 400, `Last-Event-ID ${id}`);
    const body = await r.json();
    assert.ok(body.error.message.length > 10);
  }
  const ping = await fetch(d.url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id: 10, method: 'ping' }) });
  assert.equal(ping.status, 200);
  assert.deepEqual((await ping.json()).result, {});
});
