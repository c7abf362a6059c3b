// The chat page for people (GET /, an MCP 2026-07-28 client of /mcp) in a real browser:
// Debian's chromium driven by puppeteer-core (pinned in tests/package-lock.json; no browser
// download). Pages are matched with pages and with SDK clients (v1 sessions, v2 stateless),
// meet in a named room by #room=, see a partner leave, lose a wait_for_message answer on
// the way, live through a daemon restart, and show hostile text as inert text. Every page
// must end without console errors and without CSP violations.
//
// CHROMIUM=/path overrides the browser; without one the suite is skipped with a message.
// MCPCHAT_WEB_SCREENSHOT=docs/web-chat.png writes the README's screenshot (else it is taken in
// memory and only checked to be a PNG).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { scope, waitFor, sleep, startDaemon } from './helpers.mjs';
import { ctlJson } from './ctl-helpers.mjs';
import { modernClient, modernChat, modernTarget, roomName } from './modern-helpers.mjs';

const CHROMIUM = process.env.CHROMIUM !== undefined
  ? (existsSync(process.env.CHROMIUM) ? process.env.CHROMIUM : null)
  : ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const SKIP = CHROMIUM ? false : `chromium is not installed${process.env.CHROMIUM ? ` at CHROMIUM=${process.env.CHROMIUM}` : ''} (Debian: apt-get install chromium; scripts/dev setup installs it)`;
const FAST = ['--rate', '1000000', '--burst', '1000000'];
const SHOT = process.env.MCPCHAT_WEB_SCREENSHOT || null; // else taken in memory only
// Chromium logs a failed request as a console error; the tests that fail requests on purpose
// (a dropped answer, a stopped daemon) allow exactly those.
const NET_ERROR = /Failed to load resource: net::ERR_(CONNECTION_RESET|CONNECTION_REFUSED|FAILED|EMPTY_RESPONSE|NETWORK_CHANGED)|the server responded with a status of 503/;

let browser;

before(async () => {
  if (SKIP) return;
  const { default: puppeteer } = await import('puppeteer-core');
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in CI has no user namespace sandbox to spare; the pages are our own.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
    defaultViewport: { width: 400, height: 760 }, // a phone-sized screen
    protocolTimeout: 30_000,
  });
});

after(async () => { await browser?.close(); });

if (SKIP) test('web page in chromium', { skip: SKIP }, () => {});

const origin = (url) => url.replace(/\/mcp$/, '');

/** A page in its own browser context, recording console errors and CSP violations. */
async function openPage(s, url, { hash = '', intercept } = {}) {
  const ctx = await browser.createBrowserContext();
  s.track({ close: () => ctx.close().catch(() => {}) });
  const page = await ctx.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  await page.evaluateOnNewDocument(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  if (intercept) {
    await page.setRequestInterception(true);
    page.on('request', (req) => intercept(req).catch(() => {}));
  }
  await page.goto(`${origin(url)}/${hash}`, { waitUntil: 'load' });
  const p = {
    page, errors,
    /** No console error (but the allowed ones) and no CSP violation. */
    async assertClean(allow = null) {
      const csp = await page.evaluate(() => window.__csp).catch(() => []);
      assert.deepEqual(csp, [], 'CSP violations');
      const bad = errors.filter((e) => !(allow && allow.test(e)));
      assert.deepEqual(bad, [], 'console errors');
    },
    state: () => page.$eval('#state', (e) => e.textContent),
    alert: () => page.$eval('#alert', (e) => (e.hidden ? '' : e.textContent)),
    async waitState(re, ms = 8000) {
      await waitFor(async () => re.test(await p.state()), ms, `state ${re} (now: "${await p.state()}")`, 50);
    },
    /** The log: [{kind, text, who}] with the text exactly as the DOM holds it. */
    lines: () => page.$$eval('#log li', (lis) => lis.map((li) => ({
      kind: li.className,
      text: li.classList.contains('note') ? li.textContent : li.querySelector('.text').textContent,
      who: li.querySelector('.meta')?.textContent ?? '',
    }))),
    async texts(kind) { return (await p.lines()).filter((l) => l.kind === kind).map((l) => l.text); },
    async waitTexts(kind, n, ms = 8000) {
      await waitFor(async () => (await p.texts(kind)).length >= n, ms, `${n} ${kind} messages`, 50);
      return p.texts(kind);
    },
    async find(name, interests = '') {
      await page.type('#name', name);
      if (interests) await page.type('#interests', interests);
      await page.click('#find');
    },
    async join(name, room) {
      await page.type('#name', name);
      if (room !== undefined) await page.$eval('#room', (e, v) => { e.value = v; }, room);
      await page.click('#join');
    },
    /** Sends text as a person would (fills the box, presses the button) and waits for it. */
    async send(text) {
      const before = (await p.texts('mine')).length;
      await page.$eval('#message', (e, v) => { e.value = v; }, text);
      await page.click('#send');
      await waitFor(async () => (await p.texts('mine')).length > before, 8000, 'own message shown', 50);
    },
    async matched(ms = 8000) { await p.waitState(/^Chatting with /, ms); },
  };
  return p;
}

test('web: GET / serves the page with its security headers; the page reaches /mcp', { skip: SKIP }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon(FAST);
  const res = await fetch(`${origin(d.url)}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-security-policy'), /default-src 'self'.*frame-ancestors 'none'/);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
  assert.match(res.headers.get('etag'), /^"[0-9a-f]{32}"$/);
  const a = await openPage(s, d.url);
  assert.equal(await a.page.title(), 'mcp-chat');
  await sleep(300); // server/discover answered
  assert.equal(await a.alert(), '');
  assert.ok(await a.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
    'the start page scrolls sideways on a phone-sized screen');
  await a.assertClean();
});

test('web: two pages are matched and chat both ways (one keyboard-only); screenshot', { skip: SKIP }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon(FAST);
  const a = await openPage(s, d.url);
  const b = await openPage(s, d.url);
  // Ada by keyboard alone: name, Tab past interests to the button, Enter.
  await a.page.focus('#name');
  await a.page.keyboard.type('Ada');
  await a.page.keyboard.press('Tab');
  await a.page.keyboard.type('books, chess');
  await a.page.keyboard.press('Tab');
  await a.page.keyboard.press('Enter');
  await a.waitState(/Waiting for someone… you are number 1 in the queue/);
  await b.find('Bob', 'chess');
  await a.matched();
  await b.matched();
  assert.match(await a.state(), /Chatting with Bob/);
  assert.match(await b.state(), /Chatting with Ada/);
  // The message box has the focus once matched: type and press Enter.
  assert.equal(await a.page.evaluate(() => document.activeElement.id), 'message');
  await a.page.keyboard.type('Hello Bob! Chess or books?');
  await a.page.keyboard.press('Enter');
  assert.deepEqual(await b.waitTexts('theirs', 1), ['Hello Bob! Chess or books?']);
  await b.send('Chess, always. 1. e4?');
  await a.send('1... c5, the Sicilian!');
  await b.send('Bold. 2. Nf3');
  assert.deepEqual(await a.waitTexts('theirs', 2), ['Chess, always. 1. e4?', 'Bold. 2. Nf3']);
  assert.deepEqual(await b.waitTexts('theirs', 2), ['Hello Bob! Chess or books?', '1... c5, the Sicilian!']);
  const lines = await a.lines();
  assert.match(lines.find((l) => l.kind === 'theirs').who, /^Bob · \d{2}:\d{2}/);
  assert.match(lines.find((l) => l.kind === 'mine').who, /^You · \d{2}:\d{2}/);
  // Announced to screen readers: the log is a polite live region.
  assert.deepEqual(await a.page.$eval('#log', (e) => [e.getAttribute('role'), e.getAttribute('aria-live')]), ['log', 'polite']);
  const png = await a.page.screenshot(SHOT ? { path: SHOT } : {});
  assert.equal(Buffer.from(png).subarray(1, 4).toString(), 'PNG');
  if (SHOT) t.diagnostic(`screenshot: ${SHOT}`);
  await a.assertClean();
  await b.assertClean();
});

test('web: a page chats with an agent on SDK v1 (2025 session) and one on SDK v2 (2026-07-28)', { skip: SKIP }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon(FAST);
  // v1: a session with a push stream.
  const v1 = await s.client(d.url, { name: 'agent-v1' });
  await v1.waitStream();
  assert.equal((await v1.ok('enter_queue', { display_name: 'AgentOne' })).status, 'waiting');
  const a = await openPage(s, d.url);
  await a.find('Ada');
  await a.matched();
  assert.match(await a.state(), /Chatting with AgentOne/);
  const found = await v1.waitEvent('chatroom.found');
  assert.equal(found.params.partner.display_name, 'Ada');
  await a.send('hello agent one');
  const got = await v1.waitEvent('message.received', (p) => p.message === 'hello agent one');
  assert.equal(got.params.sender.display_name, 'Ada');
  await v1.ok('send_message', { room_id: found.params.room_id, message: 'hello person' });
  assert.deepEqual(await a.waitTexts('theirs', 1), ['hello person']);
  // v2: the next stranger is a stateless agent.
  const m = await modernClient(s, d.url, { name: 'agent-v2' });
  const ch = modernChat(m, 'AgentTwo');
  assert.equal((await ch.enterQueue()).status, 'waiting');
  await a.page.click('#next');
  await a.waitState(/Chatting with AgentTwo/);
  await v1.waitEvent('partner.disconnected', (p) => p.reason === 'left');
  await ch.readUntil('chatroom.found');
  await a.send('hello agent two');
  const msg = await ch.readUntil('message.received', (p) => p.message === 'hello agent two');
  assert.equal(msg.params.sender.display_name, 'Ada');
  await ch.send('hello from v2');
  assert.deepEqual(await a.waitTexts('theirs', 1), ['hello from v2']); // the log started afresh
  await a.assertClean();
});

test('web: a named room by #room=NAME, shared by link; the partner leaves and the page says so', { skip: SKIP }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon(FAST);
  const room = roomName('web');
  const a = await openPage(s, d.url, { hash: `#room=${room}` });
  assert.equal(await a.page.$eval('#room', (e) => e.value), room);
  await a.join('Ada');
  await a.waitState(new RegExp(`Waiting in room ${room}`));
  const link = await a.page.$eval('#share-link', (e) => e.href);
  assert.equal(link, `${origin(d.url)}/#room=${room}`);
  const b = await openPage(s, d.url, { hash: `#room=${room}` });
  await b.join('Bob');
  await a.matched();
  await b.matched();
  await b.send('in the room');
  assert.deepEqual(await a.waitTexts('theirs', 1), ['in the room']);
  await b.page.click('#leave');
  await b.waitState(/You left the chat/);
  await a.waitState(/The chat has ended/);
  const notes = await a.texts('note');
  assert.ok(notes.includes('Bob left the chat.'), `notes: ${JSON.stringify(notes)}`);
  assert.equal(await a.page.$eval('#message', (e) => e.disabled), true);
  // A closed page leaves too (pagehide): C and D meet, D's page closes, C is told.
  const c = await openPage(s, d.url);
  await c.find('Cy');
  const e = await openPage(s, d.url);
  await e.find('Di');
  await c.matched();
  await e.page.close();
  await c.waitState(/The chat has ended/);
  assert.ok((await c.texts('note')).includes('Di left the chat.'), 'the closed page did not leave_chat');
  // Alone in a named room, Leave leaves it: the next one in waits rather than meets a ghost.
  const room2 = roomName('web-alone');
  const f = await openPage(s, d.url, { hash: `#room=${room2}` });
  await f.join('Fay');
  await f.waitState(new RegExp(`Waiting in room ${room2}`));
  await f.page.click('#leave');
  await f.waitState(/You left the chat/);
  const g = await openPage(s, d.url, { hash: `#room=${room2}` });
  await g.join('Gus');
  await g.waitState(new RegExp(`Waiting in room ${room2}`));
  await f.assertClean();
  await g.assertClean();
  await a.assertClean();
  await b.assertClean();
  await c.assertClean();
});

test('web: a wait_for_message answer lost on the way is asked again: every message once, in order', { skip: SKIP }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon(FAST);
  const dropped = [];
  // Every wait of this page goes through the test: the daemon answers it in full, and the
  // first answer that carries a message never reaches the page (the connection is reset).
  const intercept = async (req) => {
    const body = req.postData() ?? '';
    if (req.method() !== 'POST' || !body.includes('"wait_for_message"')) return req.continue();
    const res = await fetch(req.url(), { method: 'POST', headers: req.headers(), body });
    const text = await res.text();
    if (dropped.length === 0 && text.includes('message.received')) {
      dropped.push(text);
      return req.abort('connectionreset');
    }
    return req.respond({ status: res.status, contentType: res.headers.get('content-type'), body: text });
  };
  const a = await openPage(s, d.url, { intercept });
  const m = await modernClient(s, d.url, { name: 'agent' });
  const ch = modernChat(m, 'Agent');
  await ch.enterQueue();
  await a.find('Ada');
  await a.matched();
  await ch.readUntil('chatroom.found');
  for (const text of ['one', 'two', 'three']) await ch.send(text);
  await waitFor(() => dropped.length === 1, 8000, 'a dropped answer');
  assert.match(dropped[0], /"message":"one"/);
  await a.waitTexts('theirs', 3);
  await ch.send('four');
  await a.waitTexts('theirs', 4);
  await sleep(300);
  assert.deepEqual(await a.texts('theirs'), ['one', 'two', 'three', 'four']);
  await a.waitState(/^Back online\. Chatting with Agent\.$/); // get_status after the loss
  await a.assertClean(NET_ERROR);
});

test('web: the daemon restarts: the page says it lost the server, then that the chat is gone', { skip: SKIP }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d1 = await startDaemon(FAST);
  t.after(() => d1.stop().catch(() => {}));
  const port = new URL(d1.url).port;
  const a = await openPage(s, d1.url);
  const b = await openPage(s, d1.url);
  await a.find('Ada');
  await b.find('Bob');
  await a.matched();
  await d1.stop();
  await a.waitState(/shutting down|Disconnected from the server|The server restarted/, 8000);
  // The same port again: the old chat_id names nothing there.
  const d2 = await s.daemon([...FAST, '--listen', `127.0.0.1:${port}`]);
  assert.ok(d2);
  await a.waitState(/The server restarted and this chat is gone/, 10_000);
  // Next stranger starts a fresh chat on the new daemon.
  await a.page.click('#next');
  await a.waitState(/Waiting for someone/);
  await a.assertClean(NET_ERROR);
});

test('web: hostile text is shown as inert text, intact both ways (markup, </script>, RTL, 4096 bytes, emoji)', { skip: SKIP }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon(FAST);
  const m = await modernClient(s, d.url, { name: 'agent' });
  const ch = modernChat(m, '<b>Evil</b>');
  await ch.enterQueue();
  const a = await openPage(s, d.url);
  await a.find('Ada');
  await a.waitState(/Chatting with <b>Evil<\/b>/);
  await ch.readUntil('chatroom.found');
  const hostile = [
    '<img src=x onerror="window.__pwned=1">',
    '</script><script>window.__pwned=2</script>',
    '<style>body{display:none}</style><a href="javascript:window.__pwned=3">click</a>',
    'abc\u202Eevil.exe\u202C and \u2067isolate\u2069 \u200F',
    'family 👩‍👩‍👧‍👦, flags 🇫🇷🇯🇵, skin 👋🏽, 🎉',
    'é'.repeat(2048), // 4096 bytes of UTF-8
    '  leading and trailing spaces\nand a second line  ',
  ];
  assert.equal(Buffer.byteLength(hostile[5]), 4096);
  for (const h of hostile) await ch.send(h);
  assert.deepEqual(await a.waitTexts('theirs', hostile.length), hostile);
  assert.equal(await a.page.evaluate(() => window.__pwned), undefined);
  assert.equal(await a.page.$$eval('#log img, #log script, #log style, #log a', (e) => e.length), 0);
  assert.ok(await a.page.$eval('body', (e) => getComputedStyle(e).display !== 'none'));
  // A phone-sized screen: 4096 bytes without a space still wrap, nothing scrolls sideways.
  assert.ok(await a.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
    'the page scrolls sideways');
  // And the other way: what the page sends arrives byte for byte.
  for (const h of [hostile[0], hostile[3], hostile[5]]) await a.send(h);
  const mine = await a.texts('mine');
  assert.deepEqual(mine, [hostile[0], hostile[3], hostile[5]]);
  for (const h of mine) await ch.readUntil('message.received', (p) => p.message === h);
  // 4097 bytes is refused by the page before it is sent.
  await a.page.$eval('#message', (e, v) => { e.value = v; }, `${hostile[5]}x`);
  await a.page.click('#send');
  await waitFor(async () => /at most 4096 bytes/.test(await a.alert()), 5000, 'the size alert', 50);
  await a.assertClean();
});

test('web: rate limited: the page shows the wait and keeps the message', { skip: SKIP }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const d = await s.daemon(['--rate', '0.5', '--burst', '2']);
  const m = await modernClient(s, d.url, { name: 'agent' });
  const ch = modernChat(m, 'Agent');
  await ch.enterQueue();
  const a = await openPage(s, d.url);
  await a.find('Ada');
  await a.matched();
  await a.send('one');
  await a.send('two');
  await a.page.$eval('#message', (e) => { e.value = 'three'; });
  await a.page.click('#send');
  await waitFor(async () => /You are sending too fast\. Try again in \d+ s\./.test(await a.alert()), 5000, 'rate alert', 50);
  assert.equal(await a.page.$eval('#message', (e) => e.value), 'three'); // kept to send later
  await a.assertClean();
});

test('web: a partner who does not read: the page says the mailbox is full', { skip: SKIP }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const { url } = await modernTarget(s, FAST, { config: '[limits]\nmailbox_events = 16\n' });
  const m = await modernClient(s, url, { name: 'agent' });
  const ch = modernChat(m, 'Sleepy');
  await ch.enterQueue(); // and never reads
  const a = await openPage(s, url);
  await a.find('Ada');
  await a.matched();
  let sent = 0;
  for (; sent < 20; sent++) {
    await a.page.$eval('#message', (e, v) => { e.value = v; }, `msg ${sent}`);
    await a.page.click('#send');
    const ok = await waitFor(async () => {
      if ((await a.texts('mine')).length > sent) return 'sent';
      if (/too many unread messages/.test(await a.alert())) return 'full';
      return false;
    }, 5000, 'sent or refused', 20);
    if (ok === 'full') break;
  }
  assert.ok(sent >= 14 && sent <= 16, `refused after ${sent} messages`);
  assert.equal(await a.page.$eval('#message', (e) => e.value), `msg ${sent}`); // kept
  await a.assertClean();
});

test('web: an operator kicks the partner: the page says so', { skip: SKIP }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const dir = mkdtempSync(path.join(tmpdir(), 'mcpchat-web-'));
  s.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const sock = path.join(dir, 'control.sock');
  const d = await s.daemon([...FAST, '--control-socket', sock]);
  const v1 = await s.client(d.url, { name: 'agent-v1' });
  await v1.ok('enter_queue', { display_name: 'Troll' });
  const a = await openPage(s, d.url);
  await a.find('Ada');
  await a.matched();
  const { sessions } = await ctlJson(sock, ['sessions']);
  const troll = sessions.find((x) => x.era !== 'modern');
  assert.ok(troll, `no 2025 session in ${JSON.stringify(sessions)}`);
  await ctlJson(sock, ['kick', troll.handle, '--reason', 'test']);
  await a.waitState(/The chat has ended/);
  assert.ok((await a.texts('note')).includes('Troll was removed from the chat by an operator (kicked).'));
  await a.assertClean();
});

test('web: opened by a host name /mcp does not allow, the page says why', { skip: SKIP }, async (t) => {
  const s = scope();
  t.after(() => s.cleanup());
  const { url } = await modernTarget(s, FAST, { config: '[server]\nallowed_hosts = 127.0.0.1\n' });
  // The page itself is public; its requests to /mcp carry Host and Origin localhost.
  const a = await openPage(s, url.replace('127.0.0.1', 'localhost'));
  await waitFor(async () => /Host is not allowed/.test(await a.alert()), 5000, 'the 403 explained', 50);
  await a.assertClean(/the server responded with a status of 403/);
});
