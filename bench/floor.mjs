// bench/floor.mjs PORT: swaps bench/floor_send.lua in for the `send` function of the mcp-chat
// library a cluster's nodes loaded into the redis-server on 127.0.0.1:PORT, so the next
// relay runs measure the floor of a hand-off through Redis (see floor_send.lua). Bench only:
// the library keeps its name, so the running nodes call the floor without knowing.
// Waits up to 10 s for the library (a node loads it when it connects); exits 1 on failure.
import net from 'node:net';
import { readFileSync } from 'node:fs';

const port = Number(process.argv[2]);
if (!port) {
  console.error('usage: floor.mjs REDIS_PORT');
  process.exit(2);
}
const body = readFileSync(new URL('./floor_send.lua', import.meta.url), 'utf8');
const MARK = 'The floor of a cross-node hand-off';

// RESP2 replies: null for an incomplete buffer, else [value, bytes used].
function parse(b, i = 0) {
  const eol = b.indexOf('\r\n', i);
  if (eol < 0) return null;
  const t = String.fromCharCode(b[i]), line = b.toString('utf8', i + 1, eol);
  if (t === '+' || t === ':') return [t === ':' ? Number(line) : line, eol + 2];
  if (t === '-') return [new Error(line), eol + 2];
  if (t === '$') {
    const n = Number(line);
    if (n < 0) return [null, eol + 2];
    if (b.length < eol + 2 + n + 2) return null;
    return [b.toString('utf8', eol + 2, eol + 2 + n), eol + 2 + n + 2];
  }
  if (t === '*') {
    const n = Number(line), out = [];
    let at = eol + 2;
    for (let k = 0; k < n; k++) {
      const r = parse(b, at);
      if (!r) return null;
      out.push(r[0]);
      at = r[1];
    }
    return [out, at];
  }
  throw new Error(`unexpected RESP type ${t}`);
}

const sock = net.connect(port, '127.0.0.1');
let buf = Buffer.alloc(0), waiter = null;
sock.on('data', (d) => {
  buf = Buffer.concat([buf, d]);
  const r = waiter && parse(buf);
  if (r) {
    buf = buf.subarray(r[1]);
    const w = waiter;
    waiter = null;
    w(r[0]);
  }
});
sock.on('error', (e) => {
  console.error(`floor.mjs: redis on port ${port}: ${e.message}`);
  process.exit(1);
});
function call(...args) {
  const parts = [`*${args.length}\r\n`];
  for (const a of args) parts.push(`$${Buffer.byteLength(a)}\r\n${a}\r\n`);
  sock.write(parts.join(''));
  return new Promise((resolve) => (waiter = resolve));
}

// FUNCTION LIST's entries are flat [key, value, ...] arrays.
const field = (lib, key) => lib[lib.indexOf(key) + 1];
async function library() {
  const libs = await call('FUNCTION', 'LIST', 'WITHCODE', 'LIBRARYNAME', 'mcpchat_*');
  if (libs instanceof Error) throw libs;
  if (libs.length > 1) throw new Error(`${libs.length} mcp-chat libraries loaded; expected one`);
  return libs[0];
}

let lib;
for (let t0 = Date.now(); !(lib = await library()); ) {
  if (Date.now() - t0 > 10000) {
    console.error('floor.mjs: no mcp-chat library in Redis after 10 s (did a node connect?)');
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 100));
}
const code = field(lib, 'library_code'), name = field(lib, 'library_name');
const at = code.indexOf('\nredis.register_function(');
if (at < 0 || !code.includes('local function fn_send(')) {
  console.error(`floor.mjs: ${name} has no fn_send before its registrations`);
  process.exit(1);
}
// fn_send is a local of the library's chunk: assigning it before the registrations is what
// register_function then hands Redis.
const floor = `\nfn_send = function(KEYS, ARGV)\nbegin_call(KEYS)\n${body}\nend\n`;
const r = await call('FUNCTION', 'LOAD', 'REPLACE', code.slice(0, at) + floor + code.slice(at));
if (r instanceof Error || r !== name) {
  console.error(`floor.mjs: FUNCTION LOAD REPLACE: ${r instanceof Error ? r.message : r}`);
  process.exit(1);
}
if (!field(await library(), 'library_code').includes(MARK)) {
  console.error('floor.mjs: the library Redis lists is not the floor');
  process.exit(1);
}
console.log(`floor.mjs: ${name}_send is the floor now`);
sock.end();
