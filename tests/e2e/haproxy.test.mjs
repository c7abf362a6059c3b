// The shipped haproxy example (packaging/haproxy-mcp-chat.cfg) in front of three daemons
// named n1..n3: 2025 sessions (ids "NODE.RANDOM") stay on their node, stream and all; modern
// requests go round-robin. The daemons share nothing yet (no Redis: issue 15 builds that), so
// the chat itself is only checked between sessions on one node. The config file is used as
// shipped, with only its ports rewritten. haproxy is started by the test and stopped by PID.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scope, waitFor, rawPost, withTimeout } from './helpers.mjs';
import { haproxyPath, startHaproxy, metric } from './infra.mjs';

const initBody = (id) => ({
  jsonrpc: '2.0', id, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'lb', version: '1' } },
});
const modernMeta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
const modernHeaders = (method, name) => ({
  'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': method, ...(name ? { 'Mcp-Name': name } : {}),
});

test('haproxy example: 2025 sessions stay on their node (NODE.RANDOM ids), modern requests go round-robin', {
  timeout: 60_000, skip: haproxyPath() ? false : 'haproxy is not installed',
}, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const nodes = [];
  for (const name of ['n1', 'n2', 'n3']) nodes.push(await s.daemon(['--node', name]));
  const lb = await startHaproxy(nodes.map((d) => Number(new URL(d.url).port)));
  s.onCleanup(() => lb.stop());

  // Sessions started through the balancer land on every node and are named after it.
  const sids = [];
  for (let i = 0; i < 12; i++) {
    const r = await rawPost(lb.url, null, initBody(i + 1));
    assert.equal(r.status, 200, r.text);
    const sid = r.headers.get('mcp-session-id');
    assert.match(sid, /^n[123]\.[A-Za-z0-9_-]{32}$/);
    sids.push(sid);
  }
  for (const n of ['n1', 'n2', 'n3']) assert.ok(sids.some((x) => x.startsWith(`${n}.`)), `no session on ${n}`);

  // Every later request of a session reaches its node (another would answer 404).
  for (const sid of sids) {
    for (let k = 0; k < 3; k++) {
      const r = await rawPost(lb.url, sid, { jsonrpc: '2.0', id: 100 + k, method: 'tools/call', params: { name: 'get_status', arguments: {} } });
      assert.equal(r.status, 200, `${sid.slice(0, 3)}: ${r.text}`);
      assert.equal(r.json.result.structuredContent.state, 'idle');
    }
  }

  // Two sessions of one node chat through the balancer, push stream included.
  const byNode = sids.filter((x) => x.startsWith('n1.'));
  assert.ok(byNode.length >= 2, 'round-robin put fewer than two sessions on n1');
  const [a, b] = byNode;
  const ac = new AbortController();
  const res = await fetch(lb.url, {
    headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': b, 'MCP-Protocol-Version': '2025-11-25' }, signal: ac.signal,
  });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  let streamed = '';
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ done: true }));
      if (done) return;
      streamed += Buffer.from(value).toString('utf8');
    }
  })();
  const call = (sid, name, args) => rawPost(lb.url, sid, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: args } });
  assert.equal((await call(a, 'join_room', { room_id: 'lb-room', display_name: 'A' })).json.result.structuredContent.status, 'waiting');
  assert.equal((await call(b, 'join_room', { room_id: 'lb-room', display_name: 'B' })).json.result.structuredContent.status, 'matched');
  const sent = await call(a, 'send_message', { room_id: 'lb-room', message: 'through haproxy' });
  assert.ok(sent.json.result.structuredContent.message_id, sent.text);
  await waitFor(() => streamed.includes('through haproxy'), 5000, 'the message on B\'s push stream through haproxy');
  ac.abort();
  await withTimeout(pump, 3000, 'stream end');

  // DELETE through the balancer ends the session on its node.
  const del = await fetch(lb.url, { method: 'DELETE', headers: { 'Mcp-Session-Id': sids[0], 'MCP-Protocol-Version': '2025-11-25' } });
  assert.equal(del.status, 200);
  const after = await rawPost(lb.url, sids[0], { jsonrpc: '2.0', id: 9, method: 'ping' });
  assert.equal(after.status, 404);

  // Modern requests carry no session: round-robin spreads them over every node.
  const before = await Promise.all(nodes.map((d) => metric(d.url, 'mcpchat_requests_total')));
  for (let i = 0; i < 9; i++) {
    const r = await rawPost(lb.url, null, { jsonrpc: '2.0', id: 300 + i, method: 'tools/list', params: { _meta: modernMeta } }, modernHeaders('tools/list'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.result.resultType, 'complete');
    assert.equal(r.headers.get('mcp-session-id'), null);
  }
  const grown = await Promise.all(nodes.map(async (d, i) => (await metric(d.url, 'mcpchat_requests_total')) - before[i]));
  for (const [i, g] of grown.entries()) assert.ok(g >= 1, `node n${i + 1} served no modern request (${grown})`);
});
