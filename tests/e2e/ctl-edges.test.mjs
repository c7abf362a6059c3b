// mcpchatctl at its edges, against a live mcp-chatd over its control socket: reload (good, bad
// and unreadable files, no file), SO_PEERCRED refusal, control characters and wide names in
// tables, a fake control socket, the raw control protocol, quoting in notify and kick, room ids
// starting with "-", keep-alive after a kick. Like ctl.test.mjs, no admin output or daemon log
// line may show a session id or message text (checked after the file, ctl-helpers.mjs).
//
// Run: MCPCHATD=... MCPCHATCTL=... node --test e2e/ctl-edges.test.mjs   (from tests/)
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { waitFor, sleep, rawSession, PROTOCOL_VERSION } from './helpers.mjs';
import {
  allDaemons,
  allSessionIds,
  ctl,
  show,
  ctlOk,
  ctlJson,
  parseTable,
  ctlScope,
  handles,
  clientWithHandle,
  rawStatus,
  writeConf,
  healthz,
  expectNoLeaks,
} from './ctl-helpers.mjs';

// ---- tests -------------------------------------------------------------------------------

test('reload: a good file is applied, a bad or unreadable one refused with FILE:LINE and the running config kept; SIGHUP still works', { timeout: 25_000 }, async (t) => {
  const cs = ctlScope(t);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpchat-reload-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const conf = path.join(dir, 'mcp-chat.conf');
  writeConf(conf);
  const d = await cs.daemon(['-c', conf]);
  assert.equal(await healthz(d), 200);

  // a good file: applied live, the file named, nothing needs a restart
  writeConf(conf, { healthz: 'off' });
  const good = await ctlOk(d.sock, ['reload']);
  assert.equal(good.stdout, `configuration reloaded from ${conf}\n`);
  assert.equal(await healthz(d), 404, '[status] healthz = off was not applied');
  assert.deepEqual(await ctlJson(d.sock, ['reload']), { file: conf, restart_needed: [] });
  await waitFor(() => /<5>configuration reloaded$/m.test(d.stderr()), 3000, 'the reload log line');

  // a key that needs a restart: named in both forms, the rest applied
  writeConf(conf, { healthz: 'on', user: 'nobody' });
  const later = await ctlOk(d.sock, ['reload']);
  assert.equal(later.stdout, `configuration reloaded from ${conf}\nthese need a restart to change: [server] user\n`);
  assert.deepEqual(await ctlJson(d.sock, ['reload']), { file: conf, restart_needed: ['[server] user'] });
  assert.equal(await healthz(d), 200);

  // a bad file: exit 1 with FILE:LINE, the running configuration kept (healthz stays on)
  writeConf(conf, { healthz: 'off', maxSessions: '0' });
  const bad = await ctl(['reload'], { sock: d.sock });
  assert.equal(bad.code, 1, show(bad));
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /^mcpchatctl: mcp-chatd refused reload: reload_failed: /, show(bad));
  assert.ok(bad.stderr.includes(`${conf}:7: bad value for max_sessions in [limits]`), show(bad));
  assert.match(bad.stderr, /the running configuration is kept\n$/, show(bad));
  assert.equal(await healthz(d), 200, 'a file that did not load changed the running configuration');
  const badJson = await ctl(['--json', 'reload'], { sock: d.sock });
  assert.equal(badJson.code, 1, show(badJson));
  assert.equal(badJson.stdout, '');
  assert.ok(badJson.stderr.includes(`${conf}:7: `), show(badJson));
  await waitFor(() => d.stderr().includes(`<3>control: reload: ${conf}:7: bad value for max_sessions`), 3000, 'the error in the log');

  // a file that became unreadable (the daemon holds no capability, so not even root reads
  // mode 000) and one that is gone: exit 1 naming the file, configuration kept
  writeConf(conf, { healthz: 'off' });
  fs.chmodSync(conf, 0o000);
  const unreadable = await ctl(['reload'], { sock: d.sock });
  assert.equal(unreadable.code, 1, show(unreadable));
  assert.ok(unreadable.stderr.includes(`reload_failed: ${conf}: Permission denied`), show(unreadable));
  fs.chmodSync(conf, 0o644);
  fs.renameSync(conf, `${conf}.moved`);
  const gone = await ctl(['reload'], { sock: d.sock });
  assert.equal(gone.code, 1, show(gone));
  assert.ok(gone.stderr.includes(`reload_failed: ${conf}: No such file or directory`), show(gone));
  assert.equal(await healthz(d), 200);
  fs.renameSync(`${conf}.moved`, conf);

  // SIGHUP does the same as before: the good file is applied
  process.kill(d.pid, 'SIGHUP');
  await waitFor(async () => (await healthz(d)) === 404, 3000, 'SIGHUP applying healthz = off');
  assert.equal((await ctlJson(d.sock, ['status'])).pid, d.pid);
});

test('reload: a daemon started without -c answers that there is no file to reload', { timeout: 15_000 }, async (t) => {
  const cs = ctlScope(t);
  const d = await cs.daemon();
  for (const args of [['reload'], ['--json', 'reload']]) {
    const r = await ctl(args, { sock: d.sock });
    assert.equal(r.code, 1, show(r));
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^mcpchatctl: mcp-chatd refused reload: no_config: mcp-chatd was started without a configuration file \(-c FILE\)/, show(r));
  }
  await waitFor(() => d.stderr().includes('control: reload: no configuration file in use'), 3000, 'the log line');
  assert.equal((await ctlJson(d.sock, ['status'])).pid, d.pid);
});

test('SO_PEERCRED: an unrelated user is refused with forbidden and logged; the daemon\'s group is served', { timeout: 20_000 }, async (t) => {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    t.skip('needs root to run mcpchatctl as another user');
    return;
  }
  const has = spawnSync('setpriv', ['--version'], { stdio: 'ignore' });
  if (has.error || has.status !== 0) {
    t.skip('setpriv (util-linux) is not available');
    return;
  }
  const cs = ctlScope(t);
  const d = await cs.daemon();
  fs.chmodSync(d.dir, 0o777);
  fs.chmodSync(d.sock, 0o666);
  const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
  const r = await ctl(['status'], { sock: d.sock, wrap: nobody, cwd: d.dir });
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /forbidden/, show(r));
  assert.equal(r.stdout, '');
  const line = await waitFor(() => d.stderr().split('\n').find((l) => /control: refused uid 65534\b/.test(l)), 3000, 'refusal warning');
  assert.match(line, /^<4>/, `the refusal is not logged as a warning: ${line}`);
  assert.ok(line.includes(`(pid ${r.pid})`), `the warning does not name the client pid ${r.pid}: ${line}`);

  // also refused for every command, --json included; the daemon never ran them
  const r2 = await ctl(['--json', 'kick', 'abcdef01'], { sock: d.sock, wrap: nobody, cwd: d.dir });
  assert.equal(r2.code, 1, show(r2));
  assert.match(r2.stderr, /forbidden/);
  assert.doesNotMatch(d.stderr(), /control: (status|kick)/);

  // the daemon's group (gid 0 here), as primary or supplementary group, is served
  const primary = await ctl(['status'], { sock: d.sock, wrap: ['setpriv', '--reuid=65534', '--regid=0', '--clear-groups'], cwd: d.dir });
  assert.equal(primary.code, 0, show(primary));
  const supp = await ctl(['status'], { sock: d.sock, wrap: ['setpriv', '--reuid=65534', '--regid=65534', '--groups=0'], cwd: d.dir });
  assert.equal(supp.code, 0, show(supp));

  // root still is, and the daemon is fine
  const ok = await ctlJson(d.sock, ['status']);
  assert.equal(ok.pid, d.pid);
});

test('tables: control characters in user text are shown as ?, wide names stay aligned', { timeout: 20_000 }, async (t) => {
  const cs = ctlScope(t);
  const d = await cs.daemon();
  const utf8 = { LC_ALL: 'C.UTF-8' };
  const x = await clientWithHandle(cs, d, { name: 'X' });
  const y = await clientWithHandle(cs, d, { name: 'Y' });
  const z = await clientWithHandle(cs, d, { name: 'Z' });
  const evil = '\u001b[31mRed\u0007';
  const r = await x.call('enter_queue', { display_name: evil });
  if (r.isError) {
    // the daemon may refuse control characters in names; then nothing can reach a terminal
    assert.equal(r.structuredContent?.error, 'invalid_arguments', JSON.stringify(r));
  }
  const wideRoom = `wide-${randomBytes(3).toString('hex')}`;
  await y.ok('join_room', { room_id: wideRoom, display_name: '漢字名前' });
  await z.ok('join_room', { room_id: `accent-${randomBytes(3).toString('hex')}`, display_name: 'Zoë' });

  for (const cmd of ['queues', 'rooms', 'sessions']) {
    for (const json of [false, true]) {
      const out = (await ctlOk(d.sock, json ? ['--json', cmd] : [cmd], { env: utf8 })).stdout;
      assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f]/.test(out), `${cmd}${json ? ' --json' : ''} printed a control character: ${JSON.stringify(out)}`);
    }
  }
  const qj = await ctlJson(d.sock, ['queues']);
  const qt = parseTable((await ctlOk(d.sock, ['queues'], { env: utf8 })).stdout,
    ['HANDLE', 'NAME', 'WAITED', 'KIND', 'ROOM', 'INTERESTS'], 'queues table');
  const row = (h) => qt.find((rw) => rw[0] === h);
  if (!r.isError) {
    assert.equal(qj.waiting.find((w) => w.handle === x.handle)?.display_name, evil, '--json should carry the name, escaped');
    assert.equal(row(x.handle)?.[1], '?[31mRed?');
  }
  assert.equal(row(y.handle)?.[1], '漢字名前');
  assert.equal(row(z.handle)?.[1], 'Zoë');
  const rt = parseTable((await ctlOk(d.sock, ['rooms'], { env: utf8 })).stdout,
    ['ROOM', 'KIND', 'AGE', 'MESSAGES', 'MEMBERS'], 'rooms table');
  assert.equal(rt.find((rw) => rw[0] === wideRoom)?.[4], '漢字名前');
});

test('mcpchatctl against a fake control socket: request lines, timeout, broken answers, cleaned errors', { timeout: 20_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpchat-fake-'));
  const sock = path.join(dir, 'fake.sock');
  const lines = [];
  let answer = null; // (line) => string to send and close, or null to stay silent
  const conns = new Set();
  const srv = net.createServer((c) => {
    conns.add(c);
    c.on('close', () => conns.delete(c));
    c.on('error', () => {});
    let buf = '';
    c.setEncoding('utf8');
    c.on('data', (chunk) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      lines.push(line);
      const a = answer?.(line);
      if (a !== undefined && a !== null) c.end(a);
    });
  });
  await new Promise((resolve) => srv.listen(sock, resolve));
  t.after(async () => {
    for (const c of conns) c.destroy();
    await new Promise((resolve) => srv.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const ok = (data) => () => `${JSON.stringify({ ok: true, data })}\n`;

  // the request lines follow the protocol
  answer = ok({});
  const cases = [
    [['status'], { cmd: 'status', args: {} }],
    [['kick', 'abcd1234', '--reason', 'why not'], { cmd: 'kick', args: { target: 'abcd1234', reason: 'why not' } }],
    [['notify', 'abcd1234', 'custom/m'], { cmd: 'notify', args: { target: 'abcd1234', method: 'custom/m' } }],
    [['notify', '--all', 'custom/m', '{"a":[1,2]}'], { cmd: 'notify', args: { all: true, method: 'custom/m', params: { a: [1, 2] } } }],
  ];
  for (const [args, want] of cases) {
    const n = lines.length;
    await ctl(args, { sock });
    assert.equal(lines.length, n + 1, `no request for ${args.join(' ')}`);
    assert.deepEqual(JSON.parse(lines.at(-1)), want);
  }

  // a daemon that never answers: exit 3 after --timeout, naming the path
  answer = null;
  const t0 = Date.now();
  const silent = await ctl(['--timeout', '0.5', 'sessions'], { sock });
  const took = Date.now() - t0;
  assert.equal(silent.code, 3, show(silent));
  assert.ok(took < 3000, `--timeout 0.5 took ${took} ms`);
  assert.ok(silent.stderr.includes(sock), show(silent));
  assert.match(silent.stderr, /no answer/);

  // closed without an answer, half an answer, not a control response: exit 3
  for (const [a, re] of [[() => '', /without answering/], [() => '{"ok":true,', /middle of its answer/], [() => 'hello\n', /not a control response/]]) {
    answer = a;
    const r = await ctl(['status'], { sock });
    assert.equal(r.code, 3, show(r));
    assert.match(r.stderr, re, show(r));
    assert.ok(r.stderr.includes(sock), show(r));
  }

  // a refusal is exit 1 with code and message; control characters never reach the terminal
  answer = () => `${JSON.stringify({ ok: false, error: { code: 'forbidden\u001b[2J', message: 'go away \u001b]0;pwned\u0007' } })}\n`;
  const refused = await ctl(['status'], { sock });
  assert.equal(refused.code, 1, show(refused));
  assert.match(refused.stderr, /refused status: forbidden\?\[2J: go away \?\]0;pwned\?/);
  assert.doesNotMatch(refused.stderr, /[\u0000-\u0009\u000b-\u001f]/);

  // a table cell with control characters, durations formatted
  answer = ok({ sessions: [{ handle: 'abcd1234', protocol: '2026-07-28', era: 'modern', state: 'in_room', room_id: '\u001b[31mX', idle_s: 3700, stream: false, mailbox: 2 }] });
  const tab = await ctlOk(sock, ['sessions']);
  const rows = parseTable(tab.stdout, ['HANDLE', 'PROTOCOL', 'STATE', 'ROOM', 'IDLE', 'STREAM', 'MAILBOX'], 'fake sessions');
  assert.deepEqual(rows, [['abcd1234', '2026-07-28', 'in_room', '?[31mX', '1h01m', 'no', '2']]);

  // a request over 64 KiB is refused locally, before connecting
  const n = lines.length;
  const big = await ctl(['notify', '--all', 'custom/m', JSON.stringify({ x: 'a'.repeat(70_000) })], { sock });
  assert.equal(big.code, 2, show(big));
  assert.equal(lines.length, n, 'the oversized request was sent');
});

test('raw control protocol: pipelined requests in order, error codes, connection kept; too_large answered once then closed', { timeout: 20_000 }, async (t) => {
  const cs = ctlScope(t);
  const d = await cs.daemon();
  /** Sends `data` on one connection; resolves the answer lines once `n` arrived or the peer closed. */
  const converse = (data, n, ms = 3000) => new Promise((resolve, reject) => {
    const c = net.createConnection(d.sock);
    let out = '';
    let closed = false;
    const done = () => { clearTimeout(timer); c.destroy(); resolve({ lines: out.split('\n').filter(Boolean).map((l) => JSON.parse(l)), closed, raw: out }); };
    const timer = setTimeout(done, ms);
    c.setEncoding('utf8');
    c.on('error', (e) => { if (e.code === 'EPIPE' || e.code === 'ECONNRESET') return; clearTimeout(timer); reject(e); });
    c.on('data', (x) => { out += x; if (n && out.split('\n').filter(Boolean).length >= n) setTimeout(done, 300); });
    c.on('end', () => { closed = true; done(); });
    c.on('connect', () => c.write(data));
  });
  const reqs = [
    '{"cmd":"status"}', '{"cmd":"nope"}', 'not json', '{"cmd":"kick","args":{}}', '{}',
    '{"cmd":"status","args":[]}', '{"cmd":"notify","args":{"all":true,"method":"m","params":[]}}',
    '{"cmd":"sessions","extra":1}', '{"cmd":"sessions"}\r',
  ];
  const r = await converse(`${reqs.join('\n')}\n`, reqs.length);
  assert.equal(r.closed, false, 'the connection was closed after errors');
  assert.equal(r.lines.length, reqs.length, r.raw);
  const codes = r.lines.map((l) => (l.ok ? 'ok' : l.error.code));
  assert.deepEqual(codes, ['ok', 'unknown_command', 'bad_request', 'bad_arguments', 'bad_request',
    'bad_request', 'bad_arguments', 'bad_request', 'ok']);
  assert.equal(r.lines[0].data.pid, d.pid);
  assert.deepEqual(r.lines[8].data, { sessions: [] });
  for (const l of r.lines.filter((x) => !x.ok)) assert.ok(l.error.message.length > 0);

  // one line over 64 KiB: one too_large answer, then the daemon closes the connection
  const big = `{"cmd":"notify","args":{"all":true,"method":"m","params":{"x":"${'a'.repeat(70_000)}"}}}\n`;
  const b = await converse(big, 0);
  assert.equal(b.closed, true, 'the connection stayed open after too_large');
  assert.deepEqual(b.lines.map((l) => l.error?.code), ['too_large'],
    `expected exactly one too_large answer, got ${b.lines.length}: ${b.raw.slice(0, 500)}`);
  // the daemon still serves
  assert.equal((await ctlJson(d.sock, ['status'])).pid, d.pid);
});

test('notify: a method with a quote or backslash reaches the push stream intact (or is refused)', { timeout: 20_000 }, async (t) => {
  const cs = ctlScope(t);
  const d = await cs.daemon();
  const a = await clientWithHandle(cs, d, { name: 'A' });
  await a.waitStream();
  const method = 'custom/say "hi" \\o/';
  const r = await ctl(['notify', a.handle, method, '{"k":1}'], { sock: d.sock });
  if (r.code !== 0) {
    // refusing such a method name is fine: locally (2) or by the daemon (1, bad_arguments)
    assert.ok(r.code === 2 || (r.code === 1 && /bad_arguments/.test(r.stderr)), show(r));
    return;
  }
  assert.equal(r.stdout, 'delivered to 1 session\n');
  await ctlOk(d.sock, ['notify', a.handle, 'custom/after']);
  await a.waitEvent('custom/after');
  assert.deepEqual(a.errors.map(String), [],
    `notify was accepted (delivered 1) but the push stream carried something the client could not parse; method ${JSON.stringify(method)}`);
  const ev = a.events.find((e) => e.method === method);
  assert.ok(ev, `the notification was accepted (delivered 1) but the client never got it; events: ${JSON.stringify(a.events)}`);
  assert.equal(ev.params.k, 1);
});

test('kick --reason: 200 characters (multi-byte) are accepted and logged whole', { timeout: 20_000 }, async (t) => {
  const cs = ctlScope(t);
  const d = await cs.daemon();
  const a = await clientWithHandle(cs, d, { name: 'A' });
  const reason = '€'.repeat(200);
  const r = await ctlOk(d.sock, ['kick', a.handle, '--reason', reason]);
  assert.equal(r.stdout, `kicked 1 session: ${a.handle}\n`);
  const line = await waitFor(() => d.stderr().split('\n').find((l) => l.includes(`session ${a.handle} kicked`)), 3000, 'kick log line');
  assert.ok(!line.includes('\ufffd'), `the logged reason is not valid UTF-8 (cut inside a character): ...${line.slice(-20)}`);
  assert.ok(line.endsWith(`: ${reason}`), `the logged reason is cut short: ${[...line.split(': ').at(-1)].length} of 200 characters`);
  // 201 characters are refused before connecting
  const over = await ctl(['kick', a.handle, '--reason', '€'.repeat(201)], { sock: d.sock });
  assert.equal(over.code, 2, show(over));
});

test('a room id starting with "-" can be kicked after --', { timeout: 15_000 }, async (t) => {
  const cs = ctlScope(t);
  const d = await cs.daemon();
  const a = await clientWithHandle(cs, d, { name: 'A' });
  const room = `-dash-${randomBytes(3).toString('hex')}`;
  await a.ok('join_room', { room_id: room, display_name: 'Dash' });
  const r = await ctlOk(d.sock, ['kick', '--', room]);
  assert.equal(r.stdout, `kicked 1 session: ${a.handle}\n`);
  assert.equal(await rawStatus(d.url, a.sessionId), 404);
});

test('keep-alive: when a session is kicked, its push stream connection is not closed without Connection: close', { timeout: 15_000 }, async (t) => {
  const cs = ctlScope(t);
  const d = await cs.daemon();
  const sid = await rawSession(d.url);
  allSessionIds.add(sid);
  const sock = net.createConnection({ host: '127.0.0.1', port: d.port });
  t.after(() => sock.destroy());
  let data = '';
  let ended = false;
  sock.setEncoding('latin1');
  sock.on('data', (x) => { data += x; });
  sock.on('end', () => { ended = true; });
  sock.on('close', () => { ended = true; });
  sock.on('error', () => { ended = true; });
  await new Promise((resolve) => sock.once('connect', resolve));
  sock.write(`GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:${d.port}\r\nAccept: text/event-stream\r\n`
    + `Mcp-Session-Id: ${sid}\r\nMCP-Protocol-Version: ${PROTOCOL_VERSION}\r\n\r\n`);
  await waitFor(() => data.includes('\r\n\r\n'), 5000, 'the stream response head');
  const head = data.slice(0, data.indexOf('\r\n\r\n'));
  assert.match(head, /^HTTP\/1\.1 200 /, head);
  const announcedClose = /^connection:\s*close\s*$/im.test(head);
  assert.match(head, /^transfer-encoding:\s*chunked\s*$/im, head);

  const [h] = await handles(d.sock);
  await ctlOk(d.sock, ['kick', h]);
  await waitFor(() => data.endsWith('0\r\n\r\n') || ended, 5000, 'the end of the stream');
  await sleep(300);
  if (announcedClose) return; // the client knew not to reuse the connection
  assert.equal(ended, false,
    'the daemon closed the push stream connection after its last chunk although the response head '
    + `did not say "Connection: close" (a pooling client reuses it and its next request fails):\n${head}`);
  // and the connection really is reusable: a request on it gets an answer
  data = '';
  sock.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${d.port}\r\nContent-Type: application/json\r\n`
    + `Accept: application/json, text/event-stream\r\nMcp-Session-Id: ${sid}\r\nMCP-Protocol-Version: ${PROTOCOL_VERSION}\r\n`
    + 'Content-Length: 40\r\n\r\n{"jsonrpc":"2.0","id":1,"method":"ping"}');
  await waitFor(() => /^HTTP\/1\.1 \d{3} /.test(data) || ended, 5000, 'an answer on the reused connection');
  assert.match(data, /^HTTP\/1\.1 404 /, `the kicked session's id on the reused connection: ${data.slice(0, 200)}`);
});

after(() => {
  // every daemon this file started was stopped by its test's cleanup
  for (const d of allDaemons) assert.notEqual(d.exitInfo, null, `mcp-chatd ${d.pid} still running`);
  // and, as the privacy test checks for ctl.test.mjs: nothing this file saw shows a secret
  expectNoLeaks();
});
