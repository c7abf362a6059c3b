// mcpchatctl against a live mcp-chatd over its control socket: status, sessions, queues, rooms,
// stats, kick, notify, usage errors, and that no admin output or daemon log line ever shows a
// session id or message text (ctl-edges.test.mjs: reload, SO_PEERCRED, hostile text and
// sockets; ctl-helpers.mjs: what both share).
//
// Run: MCPCHATD=... MCPCHATCTL=... node --test e2e/ctl.test.mjs   (from tests/)
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sansChatId, waitFor, sleep } from './helpers.mjs';
import {
  MARKER,
  HANDLE_RE,
  ctlRuns,
  allDaemons,
  allSessionIds,
  allChatIds,
  markersSent,
  countMarker,
  ctl,
  show,
  ctlOk,
  ctlJson,
  parseTable,
  parseKv,
  ctlScope,
  handles,
  clientWithHandle,
  sendSecret,
  rawStatus,
  settle,
  expectNoLeaks,
} from './ctl-helpers.mjs';

// ---- tests -------------------------------------------------------------------------------

test('status: table and --json show version, pid, the real listener port and counts', { timeout: 20_000 }, async (t) => {
  const cs = ctlScope(t);
  const d = await cs.daemon();

  const ver = await ctl(['--version']);
  assert.equal(ver.code, 0, show(ver));
  const version = ver.stdout.match(/^mcpchatctl \(mcp-chat\) (\S+)\n$/)?.[1];
  assert.ok(version, `--version: ${JSON.stringify(ver.stdout)}`);

  const j0 = await ctlJson(d.sock, ['status']);
  for (const k of ['version', 'uptime_s', 'pid', 'listeners', 'sessions', 'waiting', 'rooms', 'streams', 'connections', 'memory']) {
    assert.ok(k in j0, `status --json lacks ${k}: ${JSON.stringify(j0)}`);
  }
  assert.equal(j0.version, version);
  assert.equal(j0.pid, d.pid);
  assert.deepEqual(j0.listeners, [`127.0.0.1:${d.port}`]);
  assert.equal(typeof j0.uptime_s, 'number');
  assert.ok(j0.uptime_s >= 0 && j0.uptime_s < 60);
  for (const k of ['sessions', 'waiting', 'rooms', 'streams', 'connections']) {
    assert.ok(Number.isInteger(j0[k]) && j0[k] >= 0, `status.${k}: ${j0[k]}`);
  }
  assert.equal(j0.sessions, 0);
  assert.equal(j0.waiting, 0);
  assert.equal(j0.rooms, 0);
  assert.ok(j0.memory && Number.isInteger(j0.memory.rss_bytes) && j0.memory.rss_bytes > 0, JSON.stringify(j0.memory));

  // two sessions, one waiting with a stream
  const a = await cs.client(d.url, { name: 'A' });
  const b = await cs.client(d.url, { name: 'B', noStream: true });
  await a.ok('enter_queue', { display_name: 'Alice' });
  await a.waitStream();
  const j1 = await waitFor(async () => { const j = await ctlJson(d.sock, ['status']); return j.streams === 1 && j; }, 5000, 'streams 1');
  assert.equal(j1.sessions, 2);
  assert.equal(j1.waiting, 1);
  assert.equal(j1.rooms, 0);
  assert.ok(j1.connections >= 1, `connections ${j1.connections}`);

  const r = await ctlOk(d.sock, ['status']);
  const kv = parseKv(r.stdout, 'status table');
  assert.equal(kv.get('version'), version);
  assert.equal(kv.get('pid'), String(d.pid));
  assert.equal(kv.get('listeners'), `127.0.0.1:${d.port}`);
  assert.equal(kv.get('sessions'), '2');
  assert.equal(kv.get('waiting'), '1');
  assert.equal(kv.get('rooms'), '0');
  assert.equal(kv.get('streams'), '1');
  assert.match(kv.get('uptime'), /^\d+s$/);
  assert.match(kv.get('memory.rss_bytes'), /^\d+ \(\d+\.\d (KiB|MiB|GiB)\)$/);
  assert.deepEqual([...kv.keys()].slice(0, 5), ['version', 'uptime', 'pid', 'listeners', 'sessions']);
  void b;
});

test('sessions, queues, rooms: tables and --json after real chat sessions', { timeout: 25_000 }, async (t) => {
  const cs = ctlScope(t);
  const d = await cs.daemon();
  const named = `lobby-${randomBytes(3).toString('hex')}`;

  const a = await clientWithHandle(cs, d, { name: 'A' });
  const b = await clientWithHandle(cs, d, { name: 'B' });
  const c = await clientWithHandle(cs, d, { name: 'C' });
  const q = await clientWithHandle(cs, d, { name: 'Q' });
  const idle = await clientWithHandle(cs, d, { name: 'I', noStream: true });
  const all = [a, b, c, q, idle];
  assert.equal(new Set(all.map((x) => x.handle)).size, 5, 'handles are not unique');

  assert.equal((await a.ok('enter_queue', { display_name: 'Alice', interests: ['rust', 'go'] })).status, 'waiting');
  const rb = await b.ok('enter_queue', { display_name: 'Bob', interests: ['rust'] });
  assert.equal(rb.status, 'matched');
  const roomAB = rb.room_id;
  assert.deepEqual(sansChatId(await c.ok('join_room', { room_id: named, display_name: 'Carol' })), { status: 'waiting', room_id: named });
  assert.equal((await q.ok('enter_queue', { display_name: 'Quinn', interests: ['chess', 'go-board'] })).status, 'waiting');
  for (const x of [a, b, c, q]) await x.waitStream();
  await sendSecret(a, roomAB, 1);
  await sendSecret(b, roomAB, 2);
  await a.waitEvent('message.received');
  await b.waitEvent('message.received');

  // sessions --json
  const sj = await waitFor(async () => {
    const j = await ctlJson(d.sock, ['sessions']);
    return j.sessions.filter((x) => x.stream).length === 4 && j;
  }, 5000, 'four sessions with a stream');
  assert.equal(sj.sessions.length, 5);
  const byHandle = new Map(sj.sessions.map((x) => [x.handle, x]));
  for (const x of sj.sessions) {
    assert.match(x.handle, HANDLE_RE);
    assert.equal(typeof x.idle_s, 'number');
    assert.ok(Number.isInteger(x.mailbox) && x.mailbox >= 0);
    assert.equal(typeof x.stream, 'boolean');
  }
  const want = {
    [a.handle]: { state: 'in_room', room_id: roomAB, stream: true },
    [b.handle]: { state: 'in_room', room_id: roomAB, stream: true },
    [c.handle]: { state: 'waiting', room_id: named, stream: true },
    [q.handle]: { state: 'waiting', room_id: undefined, stream: true },
    [idle.handle]: { state: 'idle', room_id: undefined, stream: false },
  };
  for (const [h, w] of Object.entries(want)) {
    const x = byHandle.get(h);
    assert.ok(x, `sessions --json lacks ${h}`);
    assert.equal(x.state, w.state, `state of ${h}`);
    assert.equal(x.room_id, w.room_id, `room_id of ${h}`);
    assert.equal(x.stream, w.stream, `stream of ${h}`);
    assert.equal(x.era, 'legacy', `era of ${h}`);
    assert.equal(x.protocol, '2025-11-25', `protocol of ${h}`);
    if (w.stream) assert.equal(x.idle_s, 0, `idle_s of ${h} with an open stream`);
  }

  // sessions table
  const st = parseTable((await ctlOk(d.sock, ['sessions'])).stdout,
    ['HANDLE', 'PROTOCOL', 'STATE', 'ROOM', 'IDLE', 'STREAM', 'MAILBOX'], 'sessions table');
  assert.equal(st.length, 5);
  for (const [h, protocol, state, room, idleCell, stream, mailbox] of st) {
    const w = want[h];
    assert.ok(w, `sessions table has unknown handle ${h}`);
    assert.equal(protocol, '2025-11-25', `protocol of ${h}`);
    assert.equal(state, w.state);
    assert.equal(room, w.room_id ?? '-');
    assert.equal(stream, w.stream ? 'yes' : 'no');
    assert.match(idleCell, /^\d+s$/);
    assert.match(mailbox, /^\d+$/);
  }

  // queues --json
  const qj = await ctlJson(d.sock, ['queues']);
  assert.equal(qj.waiting.length, 2, JSON.stringify(qj));
  const qc = qj.waiting.find((x) => x.handle === c.handle);
  const qq = qj.waiting.find((x) => x.handle === q.handle);
  assert.ok(qc && qq, `queues: ${JSON.stringify(qj)}`);
  assert.equal(qc.display_name, 'Carol');
  assert.equal(qc.kind, 'named');
  assert.equal(qc.room_id, named);
  assert.deepEqual(qc.interests, []);
  assert.equal(qq.display_name, 'Quinn');
  assert.equal(qq.kind, 'queue');
  assert.equal(qq.room_id, undefined);
  assert.deepEqual([...qq.interests].sort(), ['chess', 'go-board']);
  for (const x of qj.waiting) assert.ok(typeof x.waited_s === 'number' && x.waited_s >= 0);

  // queues table
  const qt = parseTable((await ctlOk(d.sock, ['queues'])).stdout,
    ['HANDLE', 'NAME', 'WAITED', 'KIND', 'ROOM', 'INTERESTS'], 'queues table');
  const qrows = new Map(qt.map((r) => [r[0], r]));
  assert.equal(qt.length, 2);
  assert.deepEqual(qrows.get(c.handle).filter((_, i) => i !== 2), [c.handle, 'Carol', 'named', named, '-']);
  const qrow = qrows.get(q.handle);
  assert.deepEqual(qrow.filter((_, i) => i !== 2 && i !== 5), [q.handle, 'Quinn', 'queue', '-']);
  assert.deepEqual(qrow[5].split(',').sort(), ['chess', 'go-board']);
  assert.match(qrow[2], /^\d+s$/);

  // rooms --json
  const rj = await ctlJson(d.sock, ['rooms']);
  const rab = rj.rooms.find((x) => x.room_id === roomAB);
  assert.ok(rab, `rooms lacks ${roomAB}: ${JSON.stringify(rj)}`);
  assert.equal(rab.kind, 'queue');
  assert.deepEqual([...rab.members].sort(), ['Alice', 'Bob']);
  assert.equal(rab.messages, 2);
  assert.ok(typeof rab.age_s === 'number' && rab.age_s >= 0);
  const rn = rj.rooms.find((x) => x.room_id === named);
  assert.ok(rn, `rooms lacks the named room ${named}: ${JSON.stringify(rj)}`);
  assert.equal(rn.kind, 'named');
  assert.deepEqual(rn.members, ['Carol']);
  assert.equal(rn.messages, 0);
  assert.equal(rj.rooms.length, 2);

  // rooms table
  const rt = parseTable((await ctlOk(d.sock, ['rooms'])).stdout,
    ['ROOM', 'KIND', 'AGE', 'MESSAGES', 'MEMBERS'], 'rooms table');
  const rrows = new Map(rt.map((r) => [r[0], r]));
  assert.equal(rt.length, 2);
  const rabRow = rrows.get(roomAB);
  assert.equal(rabRow[1], 'queue');
  assert.equal(rabRow[3], '2');
  assert.deepEqual(rabRow[4].split(', ').sort(), ['Alice', 'Bob']);
  assert.match(rabRow[2], /^\d+s$/);
  assert.deepEqual(rrows.get(named).filter((_, i) => i !== 2), [named, 'named', '0', 'Carol']);

  // status agrees
  const sj2 = await ctlJson(d.sock, ['status']);
  assert.equal(sj2.sessions, 5);
  assert.equal(sj2.waiting, 2);
  assert.equal(sj2.streams, 4);
});

test('stats: sessions, matches, messages_relayed and refusals.rate_limited move', { timeout: 25_000 }, async (t) => {
  const cs = ctlScope(t);
  const d = await cs.daemon(); // default limits: 20 burst, 5/s
  const s0 = await ctlJson(d.sock, ['stats']);
  for (const k of ['sessions_started', 'sessions_ended', 'matches', 'messages_relayed', 'bytes_in', 'bytes_out', 'requests']) {
    assert.ok(Number.isInteger(s0[k]) && s0[k] >= 0, `stats.${k}: ${JSON.stringify(s0)}`);
  }
  assert.equal(typeof s0.refusals, 'object');
  assert.equal(s0.refusals.rate_limited, 0);
  assert.equal(s0.sessions_started, 0);
  assert.equal(s0.matches, 0);
  assert.equal(s0.messages_relayed, 0);

  const a = await cs.client(d.url, { name: 'A' });
  const b = await cs.client(d.url, { name: 'B' });
  await a.ok('enter_queue', { display_name: 'Alice' });
  const { room_id: roomId } = await b.ok('enter_queue', { display_name: 'Bob' });
  for (let i = 0; i < 3; i++) await sendSecret(a, roomId, i);
  const s1 = await ctlJson(d.sock, ['stats']);
  assert.equal(s1.sessions_started, 2);
  assert.equal(s1.sessions_ended, 0);
  assert.equal(s1.matches, 1);
  assert.equal(s1.messages_relayed, 3);
  assert.ok(s1.bytes_in > s0.bytes_in, 'bytes_in did not move');
  assert.ok(s1.bytes_out > s0.bytes_out, 'bytes_out did not move');

  // past the burst of 20: some sends are refused with rate_limited
  let sent = 3;
  let refused = 0;
  for (let i = 0; i < 30; i++) {
    const r = await b.call('send_message', { room_id: roomId, message: `${MARKER} burst ${i}` });
    countMarker();
    if (r.isError) {
      assert.equal(r.structuredContent?.error, 'rate_limited', JSON.stringify(r));
      refused++;
    } else {
      sent++;
    }
  }
  assert.ok(refused >= 1, 'the default burst of 20 was never hit');
  const s2 = await ctlJson(d.sock, ['stats']);
  assert.equal(s2.refusals.rate_limited, refused);
  assert.equal(s2.messages_relayed, sent);

  // table agrees
  const kv = parseKv((await ctlOk(d.sock, ['stats'])).stdout, 'stats table');
  assert.equal(kv.get('sessions_started'), '2');
  assert.equal(kv.get('matches'), '1');
  assert.equal(kv.get('messages_relayed'), String(sent));
  assert.equal(kv.get('refusals.rate_limited'), String(refused));
  assert.deepEqual([...kv.keys()].slice(0, 4), ['sessions_started', 'sessions_ended', 'matches', 'messages_relayed']);

  // a session ends (DELETE) and a new one starts
  await a.terminate();
  await settle();
  await cs.client(d.url, { name: 'C' });
  const s3 = await ctlJson(d.sock, ['stats']);
  assert.equal(s3.sessions_ended, 1);
  assert.equal(s3.sessions_started, 3);
});

test('kick: a handle, a room, an unknown target; --reason; partners told; ids answer 404', { timeout: 25_000 }, async (t) => {
  const cs = ctlScope(t);
  const d = await cs.daemon();
  const a = await clientWithHandle(cs, d, { name: 'A' });
  const b = await clientWithHandle(cs, d, { name: 'B' });
  await a.ok('enter_queue', { display_name: 'Alice' });
  const { room_id: roomAB } = await b.ok('enter_queue', { display_name: 'Bob' });
  await a.waitStream();
  await b.waitStream();
  await sendSecret(a, roomAB, 1);

  // kick one handle with a reason
  const r1 = await ctlOk(d.sock, ['kick', a.handle, '--reason', 'spamming the room']);
  await settle();
  assert.equal(r1.stdout, `kicked 1 session: ${a.handle}\n`);
  const ev = await b.waitEvent('partner.disconnected');
  assert.equal(ev.params.room_id, roomAB);
  assert.equal(ev.params.reason, 'kicked');
  assert.equal(typeof ev.params.seq, 'number');
  assert.equal(await rawStatus(d.url, a.sessionId), 404, 'the kicked session still answers');
  assert.equal(await rawStatus(d.url, b.sessionId), 200, 'the partner lost its session');
  assert.equal((await b.ok('get_status')).state, 'idle');
  assert.ok(!(await handles(d.sock)).includes(a.handle), 'the kicked handle is still listed');
  await waitFor(() => d.stderr().includes(`session ${a.handle} kicked by an admin: spamming the room`), 3000, 'kick reason in the log');
  // kicking it again: not found
  const again = await ctl(['kick', a.handle], { sock: d.sock });
  assert.equal(again.code, 1, show(again));
  assert.match(again.stderr, /not_found/);

  // kick a room: both members end
  const c = await clientWithHandle(cs, d, { name: 'C' });
  const e = await clientWithHandle(cs, d, { name: 'E' });
  await c.ok('enter_queue', { display_name: 'Carol' });
  const { room_id: roomCE } = await e.ok('enter_queue', { display_name: 'Eve' });
  await sendSecret(e, roomCE, 2);
  const r2 = await ctl(['--json', 'kick', '--', roomCE], { sock: d.sock });
  await settle();
  assert.equal(r2.code, 0, show(r2));
  assert.deepEqual(JSON.parse(r2.stdout).kicked.sort(), [c.handle, e.handle].sort());
  assert.equal(await rawStatus(d.url, c.sessionId), 404);
  assert.equal(await rawStatus(d.url, e.sessionId), 404);
  const left = await handles(d.sock);
  assert.ok(!left.includes(c.handle) && !left.includes(e.handle), `still listed: ${left}`);
  assert.ok(!(await ctlJson(d.sock, ['rooms'])).rooms.some((x) => x.room_id === roomCE), 'the kicked room is still open');

  // kick a named room with one waiter (table output)
  const f = await clientWithHandle(cs, d, { name: 'F' });
  const named = `solo-${randomBytes(3).toString('hex')}`;
  await f.ok('join_room', { room_id: named, display_name: 'Frank' });
  const r3 = await ctlOk(d.sock, ['kick', named, '--reason', 'closing']);
  await settle();
  assert.equal(r3.stdout, `kicked 1 session: ${f.handle}\n`);
  assert.equal(await rawStatus(d.url, f.sessionId), 404);

  // unknown targets
  for (const target of ['zz-no-such-target', '00000000x']) {
    const r = await ctl(['kick', target], { sock: d.sock });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /not_found/, show(r));
    assert.equal(r.stdout, '');
  }
  // b is untouched through all this
  assert.deepEqual(await handles(d.sock), [b.handle]);
  const st = await ctlJson(d.sock, ['stats']);
  assert.equal(st.sessions_ended, 4);
});

test('notify: one handle, --all (delivered = sessions), params plus seq; bad JSON is a usage error', { timeout: 25_000 }, async (t) => {
  const cs = ctlScope(t);
  const d = await cs.daemon();
  const a = await clientWithHandle(cs, d, { name: 'A' });
  const b = await clientWithHandle(cs, d, { name: 'B' });
  const p = await clientWithHandle(cs, d, { name: 'P', noStream: true }); // polls instead
  await a.waitStream();
  await b.waitStream();
  await a.ok('enter_queue', { display_name: 'Alice' });
  const { room_id: roomAB } = await b.ok('enter_queue', { display_name: 'Bob' });
  await sendSecret(a, roomAB, 1);

  const params = { text: 'maintenance at 05:00', level: 3, nested: { ok: true } };
  const r1 = await ctlOk(d.sock, ['notify', a.handle, 'custom/ping', JSON.stringify(params)]);
  assert.equal(r1.stdout, 'delivered to 1 session\n');
  const ev = await a.waitEvent('custom/ping');
  const { seq, ...rest } = ev.params;
  assert.deepEqual(rest, params);
  assert.ok(Number.isInteger(seq) && seq > 0, `seq ${seq}`);
  await sleep(150);
  assert.equal(b.byMethod('custom/ping').length, 0, 'the notification reached another session');

  // without JSON: params are {} plus seq
  await ctlOk(d.sock, ['notify', b.handle, 'custom/bare']);
  const bare = await b.waitEvent('custom/bare');
  assert.deepEqual(Object.keys(bare.params), ['seq']);

  // --all reaches every session, with or without a push stream
  const sessions = (await ctlJson(d.sock, ['status'])).sessions;
  assert.equal(sessions, 3);
  const r2 = await ctl(['--json', 'notify', '--all', 'custom/all', '{"n":2}'], { sock: d.sock });
  assert.equal(r2.code, 0, show(r2));
  assert.deepEqual(JSON.parse(r2.stdout), { delivered: sessions, mailbox_full: 0 });
  const ea = await a.waitEvent('custom/all');
  const eb = await b.waitEvent('custom/all');
  assert.equal(ea.params.n, 2);
  assert.equal(eb.params.n, 2);
  assert.ok(ea.params.seq > seq, 'seq did not rise');
  const polled = await p.ok('wait_for_message', { timeout_s: 2 });
  const pe = polled.events.find((x) => x.method === 'custom/all');
  assert.ok(pe, `the polling session did not get it: ${JSON.stringify(polled)}`);
  assert.equal(pe.params.n, 2);
  // the table form
  const r3 = await ctlOk(d.sock, ['notify', '--all', 'custom/again']);
  assert.equal(r3.stdout, 'delivered to 3 sessions\n');

  // refusals and usage errors
  const unknown = await ctl(['notify', 'ffffffff0', 'custom/x'], { sock: d.sock });
  assert.equal(unknown.code, 1, show(unknown));
  assert.match(unknown.stderr, /not_found/);
  const missing = path.join(d.dir, 'not-there.sock');
  for (const bad of ['{bad', '[1,2]', '"text"', '42', '']) {
    // exit 2 even with a socket that does not exist: the daemon is never contacted
    const r = await ctl(['notify', a.handle, 'custom/x', bad], { sock: missing });
    assert.equal(r.code, 2, `notify with params ${JSON.stringify(bad)}: ${show(r)}`);
    assert.match(r.stderr, /JSON object/);
    assert.doesNotMatch(r.stderr, /cannot connect/);
  }
  const badAll = await ctl(['notify', '--all', 'custom/x', '{bad'], { sock: missing });
  assert.equal(badAll.code, 2, show(badAll));
  const before = (d.stderr().match(/control: notify/g) ?? []).length;
  const badReal = await ctl(['notify', a.handle, 'custom/x', '{"unterminated":'], { sock: d.sock });
  assert.equal(badReal.code, 2, show(badReal));
  await sleep(100);
  assert.equal((d.stderr().match(/control: notify/g) ?? []).length, before, 'bad JSON reached the daemon');
  await sleep(100);
  assert.equal(a.byMethod('custom/x').length, 0);
});

test('notify to a full mailbox is refused and reported, for one handle and with --all', { timeout: 25_000 }, async (t) => {
  const cs = ctlScope(t);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpchat-full-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const conf = path.join(dir, 'mcp-chat.conf');
  fs.writeFileSync(conf, '[limits]\nmailbox_events = 16\n');
  const d = await cs.daemon(['-c', conf]);
  const p = await clientWithHandle(cs, d, { name: 'P', noStream: true }); // reads nothing
  const q = await clientWithHandle(cs, d, { name: 'Q', noStream: true });
  for (let i = 0; i < 16; i++) await ctlOk(d.sock, ['notify', p.handle, 'custom/fill', `{"i":${i}}`]);
  const full = await ctl(['notify', p.handle, 'custom/more'], { sock: d.sock });
  assert.equal(full.code, 1, show(full));
  assert.match(full.stderr, /mailbox_full/);
  assert.match(full.stderr, /read them first/);
  const all = await ctl(['--json', 'notify', '--all', 'custom/all'], { sock: d.sock });
  assert.equal(all.code, 0, show(all));
  assert.deepEqual(JSON.parse(all.stdout), { delivered: 1, mailbox_full: 1 });
  const table = await ctlOk(d.sock, ['notify', '--all', 'custom/all2']);
  assert.equal(table.stdout, 'delivered to 1 session; refused for 1 with a full mailbox (unread events)\n');
  assert.equal((await p.ok('get_status')).unread, 16);
  await p.err('enter_queue', {}, 'mailbox_full');
  // Reading makes room again: the next notify is delivered.
  const got = await p.ok('wait_for_message', { timeout_s: 0 });
  assert.deepEqual(got.events.map((e) => e.params.i), [...Array(16).keys()]);
  assert.equal((await ctlOk(d.sock, ['notify', p.handle, 'custom/more'])).stdout, 'delivered to 1 session\n');
  assert.equal((await q.ok('get_status')).unread, 2);
});

test('usage errors exit 2, unknown command 2, missing socket 3, --help 0', { timeout: 25_000 }, async (t) => {
  const cs = ctlScope(t);
  const d = await cs.daemon();
  const usage = [
    [],
    ['frobnicate'],
    ['status', 'extra'],
    ['sessions', 'x'],
    ['kick'],
    ['kick', 'a', 'b'],
    ['kick', 'x'.repeat(65)],
    ['kick', 'abc', '--reason', 'r'.repeat(201)],
    ['notify'],
    ['notify', 'abc'],
    ['notify', '--all'],
    ['notify', 'abc', 'm', '{}', 'extra'],
    ['notify', 'abc', 'm'.repeat(129)],
    ['--reason', 'why', 'status'],
    ['--all', 'stats'],
    ['--timeout', '0', 'status'],
    ['--timeout', 'soon', 'status'],
    ['--bogus', 'status'],
    ['-q', 'status'],
    ['status', '--socket'],
    ['help', 'nosuchcommand'],
    ['help', 'kick', 'notify'],
    ['reload', 'now'],
    ['--reason', 'x', 'reload'],
  ];
  for (const args of usage) {
    const r = await ctl(args, { sock: d.sock });
    assert.equal(r.code, 2, show(r));
    assert.equal(r.stdout, '', show(r));
    assert.match(r.stderr, /^mcpchatctl: .*--help'\n$/, `usage error should be one line pointing to --help: ${show(r)}`);
  }
  const unk = await ctl(['frobnicate'], { sock: d.sock });
  assert.match(unk.stderr, /unknown command 'frobnicate'/);
  // none of these reached the daemon
  assert.doesNotMatch(d.stderr(), /control: (kick|notify|status|stats|sessions|reload)/);

  // missing socket: exit 3 naming the path
  const missing = path.join(d.dir, 'no', 'such.sock');
  for (const args of [['status'], ['--json', 'sessions'], ['kick', 'abcdef01']]) {
    const r = await ctl(args, { sock: missing });
    assert.equal(r.code, 3, show(r));
    assert.ok(r.stderr.includes(missing), `the message does not name ${missing}: ${show(r)}`);
    assert.equal(r.stdout, '');
  }
  // a path that is not a socket
  const plain = path.join(d.dir, 'plain-file');
  fs.writeFileSync(plain, '');
  const np = await ctl(['status'], { sock: plain });
  assert.equal(np.code, 3, show(np));
  assert.ok(np.stderr.includes(plain), show(np));

  // help
  for (const cmd of ['status', 'queues', 'rooms', 'sessions', 'kick', 'notify', 'stats', 'reload', 'help']) {
    const r = await ctl([cmd, '--help'], { sock: missing });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, cmd === 'help' ? /^Usage: mcpchatctl / : new RegExp(`^Usage: mcpchatctl .*${cmd}`), show(r));
    assert.equal(r.stderr, '');
    const h = await ctl(['help', cmd]);
    assert.equal(h.code, 0, show(h));
  }
  for (const args of [['--help'], ['-h'], ['help'], ['--version'], ['-V']]) {
    const r = await ctl(args);
    assert.equal(r.code, 0, show(r));
    assert.ok(r.stdout.length > 0);
  }
  const full = await ctl(['--help']);
  for (const cmd of ['status', 'queues', 'rooms', 'sessions', 'kick', 'notify', 'stats', 'reload']) assert.match(full.stdout, new RegExp(`\\n  ${cmd}`));
  assert.match(full.stdout, /Exit status: 0 done, 1 mcp-chatd refused, 2 usage error, 3 cannot reach mcp-chatd/);

  // options after the command and short forms work against the live daemon
  const j = await ctl(['status', '-j', '-s', d.sock]);
  assert.equal(j.code, 0, show(j));
  assert.equal(JSON.parse(j.stdout).pid, d.pid);
});


test('privacy: no mcpchatctl output and no daemon log line shows message text or a session id', { timeout: 25_000 }, async (t) => {
  // one more full round on a fresh daemon, every command in both forms, while secrets flow
  await (async () => {
    const cs = ctlScope(t);
    const d = await cs.daemon();
    const a = await clientWithHandle(cs, d, { name: 'A' });
    const b = await clientWithHandle(cs, d, { name: 'B' });
    const c = await clientWithHandle(cs, d, { name: 'C', noStream: true });
    await a.ok('enter_queue', { display_name: 'Alice', interests: ['privacy'] });
    const { room_id: roomId } = await b.ok('enter_queue', { display_name: 'Bob', interests: ['privacy'] });
    await c.ok('join_room', { room_id: `priv-${randomBytes(3).toString('hex')}`, display_name: 'Carol' });
    for (let i = 0; i < 4; i++) await sendSecret(i % 2 ? a : b, roomId, 100 + i);
    await a.waitEvent('message.received');
    for (const cmd of ['status', 'sessions', 'queues', 'rooms', 'stats']) {
      await ctlOk(d.sock, [cmd]);
      await ctlOk(d.sock, ['--json', cmd]);
    }
    await ctlOk(d.sock, ['notify', '--all', 'custom/p', '{"k":"v"}']);
    await ctlOk(d.sock, ['notify', c.handle, 'custom/q']);
    await ctl(['kick', 'no-such-room'], { sock: d.sock });
    await ctlOk(d.sock, ['kick', '--reason', 'privacy check', '--', roomId]); // a room id may start with '-'
    await ctlOk(d.sock, ['--json', 'kick', c.handle]);
    await ctlOk(d.sock, ['sessions']);
    // the session ids did reach the daemon and the messages were relayed
    assert.equal((await ctlJson(d.sock, ['stats'])).messages_relayed, 4);
  })();
  // stop every daemon of this test before reading logs (t.after would be too late)
  await Promise.allSettled(allDaemons.map((d) => d.stop())); // exit codes are asserted by each test's cleanup

  assert.ok(markersSent >= 4, 'no secret messages were sent');
  assert.ok(allSessionIds.size >= 3, 'no session ids were collected');
  assert.ok(allChatIds.size >= 3, 'no chat ids were collected');
  assert.ok(ctlRuns.length >= 20, `only ${ctlRuns.length} mcpchatctl runs`);
  assert.ok(allDaemons.length >= 2);
  expectNoLeaks();
});

after(() => {
  // every daemon this file started was stopped by its test's cleanup
  for (const d of allDaemons) assert.notEqual(d.exitInfo, null, `mcp-chatd ${d.pid} still running`);
});
