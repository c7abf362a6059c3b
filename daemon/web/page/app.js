// mcp-chat's page for people: an MCP client of revision 2026-07-28 in one dependency-free
// ES module, served by the daemon beside /mcp (same origin).
//
// The revision is stateless: no initialize, no session. Every request is its own POST with
// the version and capabilities in params._meta, mirrored into headers (MCP-Protocol-Version,
// Mcp-Method, Mcp-Name). The chat is named by the chat_id that enter_queue / join_room
// return. Events are read with wait_for_message in a loop whose explicit `after` is the
// acknowledgement: a lost answer is asked for again with the same `after`, so nothing is
// lost and, since `after` moves only once an answer is shown, nothing is shown twice.
//
// Every text from the network goes into the page with textContent, never as HTML.

const VERSION = '2026-07-28';
const ENDPOINT = '/mcp';
const META = {
  'io.modelcontextprotocol/protocolVersion': VERSION,
  'io.modelcontextprotocol/clientInfo': { name: 'mcp-chat-web', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};
const WAIT_S = 25; // well under chat_idle_s: an open wait keeps the chat alive
const MAX_MESSAGE_BYTES = 4096;

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- MCP over Streamable HTTP (2026-07-28) ----

/** A JSON-RPC error, or an HTTP answer that is not one (status, code, message). */
class RpcError extends Error {
  constructor(status, error) {
    super(error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = error?.code;
  }
}

/** A tool result with isError: the contract's code (rate_limited, ...) and its details. */
class Refusal extends Error {
  constructor(result) {
    const sc = result.structuredContent || {};
    super(sc.message || result.content?.[0]?.text || sc.error || 'refused');
    this.code = sc.error;
    this.details = sc;
  }
}

/** Reads an SSE response until the JSON-RPC response with this id (comments and
 * notifications/progress before it are skipped). */
async function readSse(res, id) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new TypeError('the event stream ended without an answer');
      buf += dec.decode(value, { stream: true });
      let cut;
      while ((cut = buf.search(/\r?\n\r?\n/)) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut).replace(/^\r?\n\r?\n/, '');
        const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).replace(/^ /, '')).join('\n');
        if (!data) continue;
        const msg = JSON.parse(data);
        if (msg.id === id && ('result' in msg || 'error' in msg)) return msg;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

let lastId = 0;

/** One request: POST, then a JSON body or an SSE stream. Network failures reject with the
 * fetch's TypeError (or AbortError); protocol failures with RpcError. */
async function rpc(method, params, { name, signal, keepalive } = {}) {
  const id = ++lastId;
  const headers = {
    'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream',
    'MCP-Protocol-Version': VERSION,
    'Mcp-Method': method,
  };
  if (name) headers['Mcp-Name'] = name; // tool names are plain ASCII: no =?base64?...?= needed
  const body = JSON.stringify({ jsonrpc: '2.0', id, method, params: { ...params, _meta: META } });
  const res = await fetch(ENDPOINT, { method: 'POST', headers, body, signal, keepalive, cache: 'no-store' });
  const type = res.headers.get('content-type') || '';
  let msg;
  if (type.startsWith('text/event-stream')) msg = await readSse(res, id);
  else if (type.startsWith('application/json')) msg = await res.json();
  else throw new RpcError(res.status, null);
  if (msg.error) throw new RpcError(res.status, msg.error);
  return msg.result;
}

/** tools/call: the structured result, or a Refusal. */
async function callTool(tool, args, opts = {}) {
  const result = await rpc('tools/call', { name: tool, arguments: args }, { ...opts, name: tool });
  if (result.isError) throw new Refusal(result);
  return result.structuredContent;
}

// ---- What the person sees ----

const ui = {
  start: $('start'), chat: $('chat'), log: $('log'), state: $('state'), alert: $('alert'),
  message: $('message'), send: $('send'), next: $('next'), leave: $('leave'),
  share: $('share'), shareLink: $('share-link'),
};

function setState(text) { ui.state.textContent = text; }

function showAlert(text) {
  ui.alert.textContent = text;
  ui.alert.hidden = !text;
}

function timeOf(ts) {
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** Appends one line to the log: who: text, and when. Text only, never markup. */
function addLine(kind, who, text, ts) {
  const li = document.createElement('li');
  li.className = kind;
  if (kind === 'note') {
    li.textContent = text;
  } else {
    const bubble = document.createElement('div');
    bubble.className = 'bubble';
    const p = document.createElement('p');
    p.className = 'text';
    p.dir = 'auto';
    p.textContent = text;
    const meta = document.createElement('span');
    meta.className = 'meta';
    const t = document.createElement('time');
    t.dateTime = ts;
    t.textContent = timeOf(ts);
    meta.append(`${who} · `, t);
    bubble.append(p);
    li.append(bubble, meta);
  }
  ui.log.append(li);
  ui.log.scrollTop = ui.log.scrollHeight;
}

function setComposer(on) {
  ui.message.disabled = !on;
  ui.send.disabled = !on;
}

/** Sentences for the contract's codes (the server's own sentence is the fallback). */
function explain(e) {
  const wait = e.details?.retry_after_ms ? ` Try again in ${Math.ceil(e.details.retry_after_ms / 1000)} s.` : '';
  switch (e.code) {
    case 'rate_limited': return `You are sending too fast.${wait}`;
    case 'mailbox_full': return 'Your partner has too many unread messages; wait a moment and send again.';
    case 'shutting_down': return 'The server is shutting down.';
    case 'unavailable': return `The server cannot take new chats right now.${wait}`;
    case 'room_full': return 'That room already has two people in it.';
    case 'partner_gone': case 'room_closed': case 'not_in_room': return 'This chat has ended.';
    default: return e.message;
  }
}

// ---- The chat ----

const chat = {
  id: null,         // chat_id: the credential of this chat; kept in memory only
  after: 0,         // the last event seq shown: every wait_for_message acknowledges it
  roomId: null,     // the open room, or null
  waiting: false,   // in the queue or alone in a named room
  waitingIn: null,  // that room's id, or null for the queue
  partner: null,
  gen: 0,           // bumped to stop a wait loop
  abort: null,
  lostContact: false,
  name: '',
  interests: [],
};

const REASONS = {
  left: 'left the chat',
  disconnected: 'disconnected',
  timeout: 'timed out',
  kicked: 'was removed from the chat by an operator (kicked)',
};

function onEvent(ev) {
  const p = ev.params || {};
  if (typeof p.seq === 'number') {
    if (p.seq <= chat.after) return; // already shown
  }
  switch (ev.method) {
    case 'chatroom.found': found(p.room_id, p.partner?.display_name); break;
    case 'message.received':
      addLine('theirs', p.sender?.display_name || chat.partner || 'Stranger', p.message, p.timestamp);
      break;
    case 'partner.disconnected':
      if (p.room_id !== chat.roomId) break;
      chat.roomId = null;
      setComposer(false);
      addLine('note', '', `${chat.partner || 'Your partner'} ${REASONS[p.reason] || 'left'}.`);
      setState('The chat has ended. "Next stranger" finds someone new.');
      ui.next.focus();
      break;
    case 'queue.update':
      if (chat.waiting) setState(`Waiting for someone… you are number ${p.position} in the queue.`);
      break;
  }
  if (typeof p.seq === 'number') chat.after = Math.max(chat.after, p.seq);
}

function found(roomId, partner) {
  if (chat.roomId === roomId) return; // told twice (the call's answer and the event)
  chat.roomId = roomId;
  chat.waiting = false;
  chat.waitingIn = null;
  chat.partner = partner || 'Stranger';
  addLine('note', '', `You are chatting with ${chat.partner}.`);
  setState(`Chatting with ${chat.partner}.`);
  setComposer(true);
  ui.message.focus();
}

/** wait_for_message for as long as this chat lasts. */
async function waitLoop(gen) {
  let backoff = 250;
  while (gen === chat.gen) {
    try {
      const r = await callTool('wait_for_message', { chat_id: chat.id, after: chat.after, timeout_s: WAIT_S },
        { signal: chat.abort.signal });
      if (gen !== chat.gen) return;
      for (const ev of r.events) onEvent(ev);
      chat.after = Math.max(chat.after, r.next ?? chat.after);
      backoff = 250;
      if (chat.lostContact) {
        chat.lostContact = false;
        await resync(gen);
      }
    } catch (e) {
      if (gen !== chat.gen) return;
      if (e instanceof Refusal && e.code === 'chat_expired') return expired();
      chat.lostContact = true;
      if (e.status === 503 || e.code === 'shutting_down') setState('The server is shutting down; reconnecting…');
      else setState('Disconnected from the server; reconnecting…');
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 4000);
    }
  }
}

/** Back after losing the server: get_status says where the chat stands now. */
async function resync(gen) {
  try {
    const st = await callTool('get_status', { chat_id: chat.id });
    if (gen !== chat.gen) return;
    if (st.state === 'in_room' && chat.roomId) setState(`Back online. Chatting with ${chat.partner}.`);
    else if (st.state === 'waiting' && st.position !== undefined) setState(`Back online. Waiting for someone… you are number ${st.position} in the queue.`);
    else if (st.state === 'waiting') setState('Back online. Waiting for someone to join.');
    else setState('Back online.');
  } catch { /* the next wait tells */ }
}

function expired() {
  const restarted = chat.lostContact;
  stop();
  setComposer(false);
  const text = restarted
    ? 'The server restarted and this chat is gone. Start a new one.'
    : 'This chat has expired. Start a new one.';
  addLine('note', '', text);
  setState(text);
  ui.next.focus();
}

function stop() {
  chat.gen++;
  chat.abort?.abort();
  chat.abort = null;
  chat.id = null;
  chat.roomId = null;
  chat.waiting = false;
  chat.waitingIn = null;
}

function begin(r) {
  if (chat.id !== r.chat_id) {
    chat.id = r.chat_id;
    chat.after = 0;
    chat.gen++;
    chat.abort = new AbortController();
    waitLoop(chat.gen);
  }
  ui.start.hidden = true;
  ui.chat.hidden = false;
  if (r.status === 'matched') return found(r.room_id, r.partner?.display_name);
  chat.waiting = true;
  chat.waitingIn = r.room_id ?? null;
  setComposer(false);
  if (r.position !== undefined) setState(`Waiting for someone… you are number ${r.position} in the queue.`);
  else setState(`Waiting in room ${r.room_id} for someone to join.`);
  ui.leave.focus();
}

function withName(args) {
  if (chat.name) args.display_name = chat.name;
  if (chat.id) args.chat_id = chat.id;
  return args;
}

async function findSomeone() {
  const args = withName({});
  if (chat.interests.length) args.interests = chat.interests;
  ui.share.hidden = true;
  begin(await callTool('enter_queue', args));
}

async function joinRoom(room) {
  begin(await callTool('join_room', withName({ room_id: room })));
  history.replaceState(null, '', `#room=${encodeURIComponent(room)}`);
  ui.shareLink.href = `${location.origin}/#room=${encodeURIComponent(room)}`;
  ui.shareLink.textContent = ui.shareLink.href;
  ui.share.hidden = false;
}

/** The room_id leave_chat needs: the open room, the named room waited in, or for the queue
 * (which has no room id yet) any valid id. */
function leaveId() {
  return chat.roomId || chat.waitingIn || 'queue';
}

/** Leaves the room or queue this chat is in; quiet when there is none any more. */
async function leaveRoom() {
  if (!chat.id || (!chat.roomId && !chat.waiting)) return;
  const room = leaveId();
  chat.roomId = null;
  chat.waiting = false;
  try { await callTool('leave_chat', { chat_id: chat.id, room_id: room }); } catch { /* ended already */ }
}

async function send() {
  const text = ui.message.value;
  if (!text.trim() || !chat.roomId) return;
  if (new TextEncoder().encode(text).length > MAX_MESSAGE_BYTES) {
    showAlert(`A message may be at most ${MAX_MESSAGE_BYTES} bytes.`);
    return;
  }
  try {
    const r = await callTool('send_message', { chat_id: chat.id, room_id: chat.roomId, message: text });
    ui.message.value = '';
    showAlert('');
    addLine('mine', 'You', text, r.timestamp);
  } catch (e) {
    report(e);
    if (e.code === 'rate_limited' && e.details?.retry_after_ms) {
      ui.send.disabled = true;
      setTimeout(() => { ui.send.disabled = !chat.roomId; }, e.details.retry_after_ms);
    }
  }
  ui.message.focus();
}

function report(e) {
  if (e instanceof Refusal) showAlert(explain(e));
  else if (e.status === 503) showAlert('The server is shutting down.');
  else if (e instanceof RpcError) showAlert(`The server refused: ${e.message}`);
  else showAlert('Cannot reach the server. Check the connection and try again.');
}

/** Runs an action from a button, one at a time, reporting what went wrong. */
let busy = false;
async function act(fn) {
  if (busy) return;
  busy = true;
  showAlert('');
  try { await fn(); } catch (e) { report(e); } finally { busy = false; }
}

function readForm() {
  chat.name = $('name').value.trim();
  chat.interests = $('interests').value.split(/[\s,]+/).filter(Boolean);
}

function resetLog() {
  ui.log.replaceChildren();
}

// ---- Wiring ----

$('find-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  readForm();
  act(async () => { stop(); resetLog(); await findSomeone(); });
});

$('room-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  readForm();
  const room = $('room').value.trim();
  act(async () => { stop(); resetLog(); await joinRoom(room); });
});

$('send-form').addEventListener('submit', (ev) => { ev.preventDefault(); act(send); });

ui.message.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    act(send);
  }
});

ui.leave.addEventListener('click', () => act(async () => {
  await leaveRoom();
  stop();
  ui.chat.hidden = true;
  ui.start.hidden = false;
  setState('You left the chat.');
  $('find').focus();
}));

ui.next.addEventListener('click', () => act(async () => {
  await leaveRoom();
  resetLog();
  if (!chat.id) stop(); // an expired chat: start a fresh one
  await findSomeone();
}));

// Closing the page leaves the chat; keepalive lets the request outlive the page.
addEventListener('pagehide', () => {
  if (!chat.id || (!chat.roomId && !chat.waiting)) return;
  rpc('tools/call', { name: 'leave_chat', arguments: { chat_id: chat.id, room_id: leaveId() } },
    { name: 'leave_chat', keepalive: true }).catch(() => {});
  stop();
});

// A shared link: #room=NAME fills in the room.
function fromHash() {
  const m = /^#room=([A-Za-z0-9_-]{1,64})$/.exec(location.hash);
  if (m) {
    $('room').value = m[1];
    $('name').focus();
  }
}
addEventListener('hashchange', fromHash);
fromHash();

// server/discover: is this a server of our revision?
rpc('server/discover', {}).then((r) => {
  if (!r.supportedVersions?.includes(VERSION)) showAlert(`This server does not speak MCP ${VERSION}.`);
}).catch(report); // e.g. 403: this host name is not in the server's [server] allowed_hosts
