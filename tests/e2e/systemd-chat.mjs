// A chat through the packaged daemon under systemd, with the official SDK client, for
// tests/systemd.sh (not a node --test file: the shell drives the daemon in between).
//
//   node e2e/systemd-chat.mjs URL READY_FILE [WAIT_S]
//
// Two clients open push streams, are matched through enter_queue and exchange one message each
// way carrying a unique marker. Then it writes READY_FILE (JSON: room_id, session_ids, marker)
// for the shell, which checks mcpchatctl and reloads and finally runs `systemctl stop`, and
// waits up to WAIT_S seconds (default 120) for one of the two to be told partner.disconnected
// with reason "disconnected" (the daemon ends the sessions one by one: the first one's partner
// hears it, the second one's session just ends). Exit status 0 when it was, 1 otherwise.
import fs from 'node:fs';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connectClient, waitFor, withTimeout } from './helpers.mjs';

const [url, readyFile, waitArg] = process.argv.slice(2);
if (!url || !readyFile) {
  console.error('usage: node e2e/systemd-chat.mjs URL READY_FILE [WAIT_S]');
  process.exit(2);
}
const waitMs = Number(waitArg ?? 120) * 1000;
const marker = `nspawn-marker-${randomBytes(8).toString('hex')}`;
const say = (m) => console.log(`systemd-chat: ${m}`);

const clients = [];
async function main() {
  const a = await connectClient(url, { name: 'Ada', reconnect: false });
  clients.push(a);
  const b = await connectClient(url, { name: 'Bob', reconnect: false });
  clients.push(b);
  assert.ok(a.sessionId && b.sessionId, 'no session ids');
  await a.waitStream();
  await b.waitStream();

  assert.equal((await a.ok('enter_queue', { display_name: 'Ada', interests: ['systemd'] })).status, 'waiting');
  const m = await b.ok('enter_queue', { display_name: 'Bob', interests: ['systemd'] });
  assert.equal(m.status, 'matched', JSON.stringify(m));
  const roomId = m.room_id;
  const found = await a.waitEvent('chatroom.found', (p) => p.room_id === roomId);
  assert.equal(found.params.partner.display_name, 'Bob');

  const toBob = `${marker} hello Bob`;
  const toAda = `${marker} hello Ada`;
  await a.ok('send_message', { room_id: roomId, message: toBob });
  const gotB = await b.waitEvent('message.received', (p) => p.room_id === roomId);
  assert.equal(gotB.params.message, toBob, JSON.stringify(gotB.params));
  await b.ok('send_message', { room_id: roomId, message: toAda });
  const gotA = await a.waitEvent('message.received', (p) => p.room_id === roomId);
  assert.equal(gotA.params.message, toAda, JSON.stringify(gotA.params));
  say(`chatted in room ${roomId}: one message each way, pushed on both streams`);

  fs.writeFileSync(`${readyFile}.tmp`, JSON.stringify({ room_id: roomId, session_ids: [a.sessionId, b.sessionId], marker }));
  fs.renameSync(`${readyFile}.tmp`, readyFile);

  const told = await waitFor(() => [a, b].find((c) => c.byMethod('partner.disconnected').length > 0),
    waitMs, 'partner.disconnected after systemctl stop', 50);
  const ev = told.byMethod('partner.disconnected')[0];
  assert.equal(ev.params.room_id, roomId, JSON.stringify(ev.params));
  assert.equal(ev.params.reason, 'disconnected', JSON.stringify(ev.params));
  say(`${told === a ? 'Ada' : 'Bob'} was told partner.disconnected (reason disconnected)`);
}

let code = 0;
try {
  await main();
} catch (e) {
  console.error(`systemd-chat: FAILED: ${e.stack ?? e}`);
  code = 1;
} finally {
  await Promise.allSettled(clients.map((c) => withTimeout(c.close(), 3000, 'client.close')));
}
process.exit(code);
