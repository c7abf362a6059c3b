// Input from the client (issue 16), with the official SDKs against mcp-chatd-fixtures (the
// conformance fixtures build; skipped when the tree was built without it): an elicitation
// answered by an SDK v1 client (2025: elicitation/create sent on the call's own stream, the
// client's POSTed answer matched to it), and an input_required round trip driven by the SDK
// v2 client (2026-07-28: the result asks, the client retries with inputResponses and the
// sealed requestState). The chat itself asks nobody (README: where the chat uses them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { FIXTURES_SKIP, fixturesDaemon, textOf, withTimeout } from './helpers.mjs';
import { MODERN_VERSION } from './modern-helpers.mjs';

const skip = FIXTURES_SKIP;

test('2025: an elicitation answered by an SDK v1 client reaches the tool, once', { skip, timeout: 30_000 }, async (t) => {
  const d = await fixturesDaemon(t);
  const asked = [];
  const client = new ClientV1({ name: 'elicit-v1', version: '1' }, { capabilities: { elicitation: {} } });
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    asked.push(req.params);
    return { action: 'accept', content: { username: 'ada', email: 'ada@example.org' } };
  });
  await withTimeout(client.connect(new TransportV1(new URL(d.url))), 5000, 'connect');
  t.after(() => client.close());
  const r = await client.callTool({ name: 'test_elicitation', arguments: { message: 'Who are you?' } });
  assert.notEqual(r.isError, true, JSON.stringify(r));
  assert.equal(asked.length, 1);
  assert.equal(asked[0].message, 'Who are you?');
  assert.match(textOf(r), /ada/);
  // a client that declared no elicitation is never asked: the tool says so instead
  const plain = new ClientV1({ name: 'plain-v1', version: '1' }, { capabilities: {} });
  await withTimeout(plain.connect(new TransportV1(new URL(d.url))), 5000, 'connect');
  t.after(() => plain.close());
  const refused = await plain.callTool({ name: 'test_elicitation', arguments: { message: 'x' } }).catch((e) => e);
  assert.ok(refused instanceof Error || refused.isError, `answered ${JSON.stringify(refused)}`);
});

test('2026-07-28: an input_required round trip driven by the SDK v2 client, and a forged requestState refused', { skip, timeout: 30_000 }, async (t) => {
  const d = await fixturesDaemon(t);
  const asked = [];
  const client = new ClientV2({ name: 'elicit-v2', version: '1' },
    { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: MODERN_VERSION } } });
  client.setRequestHandler('elicitation/create', async (req) => {
    asked.push(req.params);
    return { action: 'accept', content: { username: 'grace', email: 'grace@example.org' } };
  });
  await withTimeout(client.connect(new TransportV2(new URL(d.url))), 5000, 'connect');
  t.after(() => client.close());
  const r = await client.callTool({ name: 'test_elicitation', arguments: { message: 'Name?' } });
  assert.notEqual(r.isError, true, JSON.stringify(r));
  assert.equal(asked.length, 1, 'the client was asked once');
  assert.equal(asked[0].message, 'Name?');
  assert.match(textOf(r), /grace/);

  // By hand: the first answer is input_required with a sealed state; a state changed by one
  // character is refused (-32602), the unchanged one with the answers completes.
  const post = (body) => fetch(d.url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': MODERN_VERSION, 'Mcp-Method': 'tools/call', 'Mcp-Name': 'test_elicitation' },
    body: JSON.stringify(body),
  }).then(async (res) => {
    const text = await res.text();
    const data = text.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).at(-1);
    return { status: res.status, json: JSON.parse(data ?? text) };
  });
  const meta = { 'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
    'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
    'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' } };
  const call = (extra = {}) => post({ jsonrpc: '2.0', id: 7, method: 'tools/call',
    params: { name: 'test_elicitation', arguments: { message: 'm' }, _meta: meta, ...extra } });
  const first = await call();
  assert.equal(first.json.result?.resultType, 'input_required', JSON.stringify(first.json));
  const { inputRequests, requestState } = first.json.result;
  const key = Object.keys(inputRequests)[0];
  const answers = { [key]: { action: 'accept', content: { username: 'raw', email: 'r@example.org' } } };
  const forged = requestState.slice(0, -2) + (requestState.at(-2) === 'A' ? 'B' : 'A') + requestState.at(-1);
  const bad = await call({ inputResponses: answers, requestState: forged });
  assert.equal(bad.json.error?.code, -32602, JSON.stringify(bad.json));
  const good = await call({ inputResponses: answers, requestState });
  assert.notEqual(good.json.result?.resultType, 'input_required', JSON.stringify(good.json));
  assert.match(JSON.stringify(good.json.result.content), /raw/);
  // the same state once more (a replay): refused, the tool does not run again
  const again = await call({ inputResponses: answers, requestState });
  assert.equal(again.json.error?.code, -32602, JSON.stringify(again.json));
  assert.match(again.json.error.message, /used already/);
});
