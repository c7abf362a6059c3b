// Turns the load generator's JSON lines into one table on stdout and one JSON file.
// Usage: node report.mjs RESULTS.jsonl OUT.json META_JSON
import { readFileSync, writeFileSync } from 'node:fs';

const [inFile, outFile, metaJson] = process.argv.slice(2);
const runs = readFileSync(inFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const meta = JSON.parse(metaJson || '{}');

const find = (scenario, server, pred = () => true) => runs.find((r) => r.scenario === scenario && r.server === server && pred(r));
const all = (scenario, server) => runs.filter((r) => r.scenario === scenario && r.server === server);

const num = (v, digits = 0) => {
  if (v === undefined || v === null || Number.isNaN(v)) return '–';
  const s = Number(v).toFixed(digits);
  const [i, f] = s.split('.');
  const g = i.replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
  return f ? `${g}.${f}` : g;
};
const ms = (us) => (us === undefined ? '–' : us >= 100_000 ? num(us / 1000, 0) : us >= 10_000 ? num(us / 1000, 1) : num(us / 1000, 2));
const lat = (h) => (h && h.n ? `${ms(h.p50)} / ${ms(h.p99)} / ${ms(h.p999)}` : '–');
const ratio = (a, b) => (a && b ? a / b : undefined);
const times = (x) => (x === undefined ? '–' : `${num(x, x < 10 ? 2 : 1)}×`);
const pct = (x) => (x === undefined ? '–' : `${num(100 * x, 0)} %`);
const verdict = (ok) => (ok === undefined ? '' : ok ? ' ok' : ' MISS');
const okMark = (r) => (!r ? '' : r.ok === false ? ' FAIL' : '');

const rows = [];
const summary = {};
const row = (scenario, metric, d, p, n, rat = '') => rows.push([scenario, metric, d, p, n, rat]);

// ---------------------------------------------------------------- rpc
// The run with the median calls/s of a server's rounds (the lower middle one for an even count).
const medianRun = (scenario, server) => {
  const rs = all(scenario, server).filter((r) => r.calls_per_s !== undefined).sort((a, b) => a.calls_per_s - b.calls_per_s);
  return rs.length ? rs[Math.floor((rs.length - 1) / 2)] : find(scenario, server);
};
const roundsOf = (scenario, server, key = 'calls_per_s') => all(scenario, server).map((r) => r[key]).filter((v) => v !== undefined && v !== null);
// The server's CPU time per call over the measured window: on a shared VM calls/s swings with
// steal from round to round, CPU per call barely does. nginx's µs over the daemon's is what
// daemon/nginx calls/s would be if both had a core of their own.
const cpuCall = (r) => r?.server_cpu_us_per_call ?? undefined;
// a run whose load generator failed has no counters
const errCell = (r) => (!r ? '–' : r.errors === undefined ? 'FAIL' : `${r.errors} · ${r.missing + r.dup + r.gap}${okMark(r)}`);
{
  const d = medianRun('rpc', 'mcp-chatd'), p = medianRun('rpc', 'peer'), n = medianRun('rpc', 'nginx');
  if (d || p || n) {
    const rp = ratio(d?.calls_per_s, p?.calls_per_s), rn = ratio(d?.calls_per_s, n?.calls_per_s);
    summary.rpc = { daemon_calls_per_s: d?.calls_per_s, peer_calls_per_s: p?.calls_per_s, nginx_requests_per_s: n?.calls_per_s,
      daemon_over_peer: rp, daemon_over_nginx: rn, target_over_peer: 30, target_over_nginx: 0.6,
      daemon_rounds: roundsOf('rpc', 'mcp-chatd'), nginx_rounds: roundsOf('rpc', 'nginx'),
      daemon_cpu_us_per_call: cpuCall(d), peer_cpu_us_per_call: cpuCall(p), nginx_cpu_us_per_call: cpuCall(n),
      nginx_cpu_over_daemon_cpu: ratio(cpuCall(n), cpuCall(d)),
      daemon_cpu_rounds: roundsOf('rpc', 'mcp-chatd', 'server_cpu_us_per_call'), nginx_cpu_rounds: roundsOf('rpc', 'nginx', 'server_cpu_us_per_call') };
    const conns = d?.conns ?? p?.conns ?? n?.conns;
    row('rpc', `send_message calls/s, ${conns} conns: daemon/peer`, num(d?.calls_per_s), num(p?.calls_per_s), '', rp === undefined ? '–' : `${times(rp)} (target ≥ 30×${verdict(rp >= 30)})`);
    row('rpc', 'requests/s: daemon/nginx (fixed 200)', num(d?.calls_per_s), '', num(n?.calls_per_s), rn === undefined ? '–' : `${pct(rn)} (target ≥ 60 %${verdict(rn >= 0.6)})`);
    const dr = roundsOf('rpc', 'mcp-chatd'), nr = roundsOf('rpc', 'nginx');
    if (dr.length > 1 || nr.length > 1) {
      const pairs = dr.map((v, i) => (nr[i] ? pct(v / nr[i]) : '–')).join(', ');
      row('rpc', 'each round, calls/s (median above)', dr.map((v) => num(v)).join(', '), '', nr.map((v) => num(v)).join(', '),
        `per round: ${pairs}`);
    }
    const rc = ratio(cpuCall(n), cpuCall(d));
    row('rpc', 'server CPU µs/call (user+system, median run)', num(cpuCall(d), 2), num(cpuCall(p), 0), num(cpuCall(n), 2),
      rc === undefined ? '–' : `nginx/daemon ${pct(rc)}`);
    const dc = roundsOf('rpc', 'mcp-chatd', 'server_cpu_us_per_call'), nc = roundsOf('rpc', 'nginx', 'server_cpu_us_per_call');
    if (dc.length > 1 || nc.length > 1) {
      const pairs = dc.map((v, i) => (nc[i] ? pct(nc[i] / v) : '–')).join(', ');
      row('rpc', 'each round, CPU µs/call', dc.map((v) => num(v, 2)).join(', '), '', nc.map((v) => num(v, 2)).join(', '),
        `per round: ${pairs}`);
    }
    row('rpc', 'latency p50 / p99 / p999 ms', lat(d?.lat_us), lat(p?.lat_us), lat(n?.lat_us));
    row('rpc', 'push delivery p50 / p99 / p999 ms', lat(d?.delivery_us), lat(p?.delivery_us), '');
    row('rpc', 'errors · missing+dup+gap', errCell(d), errCell(p), n ? `${n.errors ?? 'FAIL'}${okMark(n)}` : '–');
  }
}

// ---------------------------------------------------------------- relay
const relayCell = (r) => {
  if (!r || r.lat_us === undefined) return r ? 'FAIL' : '–';
  const sat = r.achieved_rate < 0.97 * r.rate ? ` (saturated: ${num(r.achieved_rate)}/s sent)` : '';
  return `${ms(r.lat_us.p99)}${sat}`;
};
const maxCell = (r) => (!r ? '–' : r.max_rate ? `${num(r.max_rate)}${r.steps?.every((x) => x.sustained) ? ' (every step passed: raise --rates)' : ''}`
  : `< ${num(r.steps?.[0]?.rate)} (first step failed)`);
const deliveredCell = (r) => (r ? `${num(r.delivered)} / ${num(r.sent_ok)}${r.missing || r.dup || r.gap || r.errors ? ` (missing ${r.missing}, dup ${r.dup}, gap ${r.gap}, errors ${r.errors})` : ''}${okMark(r)}` : '–');
// daemon max rate / peer max rate; when the peer failed even its first step its max is below that
// rate, and the ratio is at least daemon max / first rate
const maxRatio = (dm, pm) => {
  if (!dm?.max_rate || !pm?.steps?.length) return { value: undefined, atLeast: undefined };
  if (pm.max_rate) return { value: dm.max_rate / pm.max_rate, atLeast: undefined };
  return { value: undefined, atLeast: dm.max_rate / pm.steps[0].rate };
};
const maxRatioCell = (m, target) => (m.value !== undefined ? `${times(m.value)}${target ? ` (target ≥ ${target}×${verdict(m.value >= target)})` : ''}`
  : m.atLeast !== undefined ? `> ${times(m.atLeast)} (the peer's first step failed)${target ? ` (target ≥ ${target}×${verdict(m.atLeast >= target)})` : ''}` : '–');
const stepsCell = (r) => r.steps.map((s) => `${s.rate / 1000}k:${ms(s.lat_us?.p99)}${s.sustained ? '' : '✗'}`).join(' ');
{
  const d = find('relay', 'mcp-chatd'), p = find('relay', 'peer');
  const dm = find('relay-max', 'mcp-chatd'), pm = find('relay-max', 'peer');
  if (d || p || dm || pm) {
    const rate = d?.rate ?? p?.rate;
    const cell = relayCell;
    summary.relay = { rate, daemon_p99_us: d?.lat_us?.p99, peer_p99_us: p?.lat_us?.p99, peer_achieved_rate: p?.achieved_rate,
      daemon_max_rate: dm?.max_rate, peer_max_rate: pm?.max_rate, target_p99_us: 1000,
      daemon_cpu_us_per_msg: d?.server_cpu_us_per_msg ?? undefined, peer_cpu_us_per_msg: p?.server_cpu_us_per_msg ?? undefined };
    row('relay', `p99 ms at ${num(rate)} msg/s offered`, cell(d), cell(p), '',
      d?.lat_us ? `target ≤ 1 ms${verdict(d.lat_us.p99 <= 1000)}` : '–');
    row('relay', `max rate with p99 < ${dm?.p99_limit_ms ?? pm?.p99_limit_ms ?? 5} ms (msg/s)`, maxCell(dm), maxCell(pm), '',
      maxRatioCell(maxRatio(dm, pm)));
    row('relay', `p50 / p99 / p999 ms at ${num(rate)} msg/s`, lat(d?.lat_us), lat(p?.lat_us), '');
    row('relay', `server CPU µs/msg at ${num(rate)} msg/s offered`, num(d?.server_cpu_us_per_msg, 2), num(p?.server_cpu_us_per_msg, 0), '',
      ratio(p?.server_cpu_us_per_msg, d?.server_cpu_us_per_msg) === undefined ? '–' : `peer/daemon ${times(ratio(p.server_cpu_us_per_msg, d.server_cpu_us_per_msg))}`);
    const dl = deliveredCell;
    row('relay', 'delivered / sent ok', dl(d), dl(p), '');
    for (const [name, r] of [['mcp-chatd', dm], ['peer', pm]]) {
      if (!r?.steps) continue;
      const steps = stepsCell(r);
      row('relay', `find-max steps, ${name} (rate:p99 ms)`, name === 'mcp-chatd' ? steps : '', name === 'peer' ? steps : '', '');
    }
  }
}

// ---------------------------------------------------------------- 2026-07-28 clients
// The same rpc and relay with modern clients (no session, chat_id, wait_for_message long polls)
// on the daemon and on peer2 (the reference for them), beside the 2025 rows: daemon/peer2 is
// the lead over the reference, daemon modern/2025 what the modern path costs the daemon.
{
  const d = medianRun('rpc-modern', 'mcp-chatd'), p = medianRun('rpc-modern', 'peer2'), d25 = medianRun('rpc', 'mcp-chatd');
  if (d || p) {
    const rp = ratio(d?.calls_per_s, p?.calls_per_s), r25 = ratio(d?.calls_per_s, d25?.calls_per_s);
    summary.rpc_modern = { daemon_calls_per_s: d?.calls_per_s, peer2_calls_per_s: p?.calls_per_s, daemon_over_peer2: rp,
      target_over_peer2: 30, daemon_2025_calls_per_s: d25?.calls_per_s, daemon_modern_over_2025: r25,
      daemon_rounds: roundsOf('rpc-modern', 'mcp-chatd'),
      daemon_cpu_us_per_call: cpuCall(d), peer2_cpu_us_per_call: cpuCall(p), daemon_2025_cpu_us_per_call: cpuCall(d25),
      daemon_cpu_rounds: roundsOf('rpc-modern', 'mcp-chatd', 'server_cpu_us_per_call') };
    const sc = 'rpc 2026';
    row(sc, `send_message calls/s, ${d?.conns ?? p?.conns} conns: daemon/peer2`, num(d?.calls_per_s), num(p?.calls_per_s), '',
      rp === undefined ? '–' : `${times(rp)} (target ≥ 30×${verdict(rp >= 30)})`);
    row(sc, 'calls/s: daemon 2026 / daemon 2025 (median runs)', num(d?.calls_per_s), '', '', r25 === undefined ? '–' : `${pct(r25)} of 2025 (${num(d25.calls_per_s)})`);
    const dr = roundsOf('rpc-modern', 'mcp-chatd'), d25r = roundsOf('rpc', 'mcp-chatd');
    if (dr.length > 1) row(sc, 'each round, calls/s (median above)', dr.map((v) => num(v)).join(', '), '', '',
      `per round, of 2025: ${dr.map((v, i) => (d25r[i] ? pct(v / d25r[i]) : '–')).join(', ')}`);
    const rc = ratio(cpuCall(p), cpuCall(d));
    row(sc, 'server CPU µs/call (user+system, median run)', num(cpuCall(d), 2), num(cpuCall(p), 0), '',
      [rc === undefined ? '' : `peer2/daemon ${times(rc)}`, cpuCall(d25) ? `2025 daemon ${num(cpuCall(d25), 2)}` : ''].filter(Boolean).join(' · ') || '–');
    row(sc, 'latency p50 / p99 / p999 ms', lat(d?.lat_us), lat(p?.lat_us), '');
    row(sc, 'wait_for_message delivery p50 / p99 / p999 ms', lat(d?.delivery_us), lat(p?.delivery_us), '');
    row(sc, 'errors · missing+dup+gap', errCell(d), errCell(p), '');
  }
}
{
  const d = find('relay-modern', 'mcp-chatd'), p = find('relay-modern', 'peer2');
  const dm = find('relay-max-modern', 'mcp-chatd'), pm = find('relay-max-modern', 'peer2');
  const d25 = find('relay', 'mcp-chatd'), dm25 = find('relay-max', 'mcp-chatd');
  if (d || p || dm || pm) {
    const rate = d?.rate ?? p?.rate, sc = 'relay 2026';
    const mr = maxRatio(dm, pm), rm = mr.value, r25 = ratio(dm?.max_rate, dm25?.max_rate);
    summary.relay_modern = { rate, daemon_p99_us: d?.lat_us?.p99, peer2_p99_us: p?.lat_us?.p99, peer2_achieved_rate: p?.achieved_rate,
      daemon_max_rate: dm?.max_rate, peer2_max_rate: pm?.max_rate, daemon_max_over_peer2: rm, daemon_max_over_peer2_at_least: mr.atLeast,
      target_over_peer2: 30,
      daemon_2025_p99_us: d25?.lat_us?.p99, daemon_2025_max_rate: dm25?.max_rate, daemon_modern_max_over_2025: r25,
      daemon_cpu_us_per_msg: d?.server_cpu_us_per_msg ?? undefined, peer2_cpu_us_per_msg: p?.server_cpu_us_per_msg ?? undefined,
      daemon_2025_cpu_us_per_msg: d25?.server_cpu_us_per_msg ?? undefined };
    row(sc, `p99 ms at ${num(rate)} msg/s offered (send → wait_for_message)`, relayCell(d), relayCell(p), '',
      d?.lat_us ? `target ≤ 1 ms${verdict(d.lat_us.p99 <= 1000)}${d25?.lat_us ? ` · 2025 daemon ${ms(d25.lat_us.p99)}` : ''}` : '–');
    row(sc, `max rate with p99 < ${dm?.p99_limit_ms ?? pm?.p99_limit_ms ?? 5} ms (msg/s): daemon/peer2`, maxCell(dm), maxCell(pm), '',
      maxRatioCell(mr, 30));
    row(sc, 'max rate: daemon 2026 / daemon 2025', maxCell(dm), '', '', r25 === undefined ? '–' : `${pct(r25)} of 2025 (${num(dm25.max_rate)})`);
    row(sc, `p50 / p99 / p999 ms at ${num(rate)} msg/s`, lat(d?.lat_us), lat(p?.lat_us), '');
    const rc = ratio(p?.server_cpu_us_per_msg, d?.server_cpu_us_per_msg);
    row(sc, `server CPU µs/msg at ${num(rate)} msg/s offered`, num(d?.server_cpu_us_per_msg, 2), num(p?.server_cpu_us_per_msg, 0), '',
      [rc === undefined ? '' : `peer2/daemon ${times(rc)}`, d25?.server_cpu_us_per_msg ? `2025 daemon ${num(d25.server_cpu_us_per_msg, 2)}` : ''].filter(Boolean).join(' · ') || '–');
    row(sc, 'delivered / sent ok', deliveredCell(d), deliveredCell(p), '');
    for (const [name, r] of [['mcp-chatd', dm], ['peer2', pm]]) {
      if (r?.steps) row(sc, `find-max steps, ${name} (rate:p99 ms)`, name === 'mcp-chatd' ? stepsCell(r) : '', name === 'peer2' ? stepsCell(r) : '', '');
    }
  }
}

// ---------------------------------------------------------------- cluster
// 2026-07-28 clients on two daemons sharing one redis-server (server "cluster": side A of every
// pair on node a, side B on node b, so each message crosses) beside one daemon alone ("mcp-chatd")
// in the same run. The cluster's value is in the daemon column, the single node's in the ratio.
// Redis commands per message come from INFO commandstats over the whole run (set-up included:
// a few per session, against tens of thousands of messages) ÷ the messages sent.
const clusterCpu = (r, per) => {
  const k = (w) => r?.[`${w}_cpu_us_per_${per}`] ?? undefined;
  const a = k('server'), b = k('server_b'), red = k('redis');
  return { a, b, redis: red, total: a !== undefined && b !== undefined && red !== undefined ? a + b + red : undefined };
};
const cpuSumCell = (c) => (c.total === undefined ? '–' : `${num(c.a, 1)} + ${num(c.b, 1)} + ${num(c.redis, 1)} = ${num(c.total, 1)}`);
const redisPerMsg = (r) => {
  const st = r?.redis_commandstats, sent = r?.steps ? r.steps.reduce((a, x) => a + (x.sent ?? 0), 0) : r?.sent;
  if (!st || !sent) return undefined;
  const calls = (c) => st[c]?.calls ?? 0;
  const ignore = new Set(['config|resetstat', 'info']);
  const all = Object.entries(st).filter(([c]) => !ignore.has(c)).reduce((a, [, v]) => a + v.calls, 0);
  // A script's (function's) usec includes the commands it ran: the time is the top-level
  // commands'. wait_for_message's ack is two plain commands, XTRIM and SET, counted as top
  // level here (scripts run them too, rarely on this path: read, chat_new).
  const top = ['evalsha', 'fcall', 'subscribe', 'unsubscribe', 'xtrim', 'set'];
  const usec = top.reduce((a, c) => a + (st[c]?.usec ?? 0), 0);
  const scripts = calls('evalsha') + calls('fcall'), subs = calls('subscribe') + calls('unsubscribe');
  const acks = calls('set');
  return { sent, scripts: scripts / sent, subscribe_unsubscribe: subs / sent, publish: calls('publish') / sent,
    acks: acks / sent, round_trips: (scripts + subs + acks) / sent, all: all / sent,
    inside_scripts: (all - scripts - subs - acks - calls('xtrim')) / sent, usec: usec / sent,
    script_usec: ((st.evalsha?.usec ?? 0) + (st.fcall?.usec ?? 0)) / sent, inside_scripts_usec: Object.entries(st)
      .filter(([c]) => !ignore.has(c) && !top.includes(c)).reduce((a, [, v]) => a + v.usec, 0) / sent };
};
{
  const d = medianRun('cluster-rpc', 'mcp-chatd'), c = medianRun('cluster-rpc', 'cluster');
  const rd = find('cluster-relay', 'mcp-chatd'), rc = find('cluster-relay', 'cluster');
  const md = find('cluster-relay-max', 'mcp-chatd'), mc = find('cluster-relay-max', 'cluster');
  const ld = find('cluster-relay-low', 'mcp-chatd'), lc = find('cluster-relay-low', 'cluster');
  // the floor: the same relay with `send` cut to 4 commands (bench/floor_send.lua)
  const fc = find('cluster-relay-floor', 'cluster'), fm = find('cluster-relay-max-floor', 'cluster');
  if (d || c || rd || rc || md || mc) {
    const sc = 'cluster', rate = rc?.rate ?? rd?.rate;
    const rr = ratio(c?.calls_per_s, d?.calls_per_s), mr = ratio(mc?.max_rate, md?.max_rate);
    const cpuRpc = clusterCpu(c, 'call'), cpuMsg = clusterCpu(rc, 'msg'), rpm = redisPerMsg(rc);
    const cpuLow = clusterCpu(lc, 'msg'), rpmLow = redisPerMsg(lc);
    const met = rc?.lat_us ? rc.lat_us.p99 <= 5000 && rc.achieved_rate >= 0.97 * rc.rate && rc.ok !== false : undefined;
    summary.cluster = { rate, single_calls_per_s: d?.calls_per_s, cluster_calls_per_s: c?.calls_per_s, cluster_over_single_calls: rr,
      single_rounds: roundsOf('cluster-rpc', 'mcp-chatd'), cluster_rounds: roundsOf('cluster-rpc', 'cluster'),
      single_cpu_us_per_call: cpuCall(d), cluster_cpu_us_per_call: cpuRpc,
      single_p99_us: rd?.lat_us?.p99, cluster_p99_us: rc?.lat_us?.p99, cluster_achieved_rate: rc?.achieved_rate,
      target_p99_us: 5000, target_met: met,
      single_max_rate: md?.max_rate, cluster_max_rate: mc?.max_rate, cluster_over_single_max: mr,
      single_cpu_us_per_msg: rd?.server_cpu_us_per_msg ?? undefined, cluster_cpu_us_per_msg: cpuMsg,
      redis_per_msg: rpm, redis_msgs_per_core: cpuMsg.redis ? 1e6 / cpuMsg.redis : undefined,
      low_rate: lc?.rate ?? ld?.rate, low_single_p99_us: ld?.lat_us?.p99, low_cluster_p99_us: lc?.lat_us?.p99,
      low_single_cpu_us_per_msg: ld?.server_cpu_us_per_msg ?? undefined, low_cluster_cpu_us_per_msg: cpuLow,
      low_redis_per_msg: rpmLow, low_redis_msgs_per_core: cpuLow.redis ? 1e6 / cpuLow.redis : undefined };
    const cpuFloor = clusterCpu(fc, 'msg');
    if (fc || fm) {
      summary.cluster.floor = { p99_us: fc?.lat_us?.p99, achieved_rate: fc?.achieved_rate,
        target_met: fc?.lat_us ? fc.lat_us.p99 <= 5000 && fc.achieved_rate >= 0.97 * fc.rate && fc.ok !== false : undefined,
        max_rate: fm?.max_rate, cpu_us_per_msg: cpuFloor, redis_per_msg: redisPerMsg(fc) };
    }
    row(sc, `rpc 2026 calls/s, ${c?.conns ?? d?.conns} conns, pairs across 2 nodes`, num(c?.calls_per_s), '', '',
      rr === undefined ? '–' : `${pct(rr)} of 1 node (${num(d.calls_per_s)})`);
    const cr = roundsOf('cluster-rpc', 'cluster'), dr = roundsOf('cluster-rpc', 'mcp-chatd');
    if (cr.length > 1) row(sc, 'each round, calls/s (median above)', cr.map((v) => num(v)).join(', '), '', '', `1 node: ${dr.map((v) => num(v)).join(', ')}`);
    row(sc, 'rpc CPU µs/call: node a + node b + redis', cpuSumCell(cpuRpc), '', '', cpuCall(d) ? `1 node ${num(cpuCall(d), 2)}` : '–');
    row(sc, 'rpc latency p50 / p99 / p999 ms', lat(c?.lat_us), '', '', `1 node ${lat(d?.lat_us)}`);
    row(sc, `relay p99 ms at ${num(rate)} msg/s, send on one node → wait on the other`, relayCell(rc), '', '',
      `target ≤ 5 ms${verdict(met)}${rd?.lat_us ? ` · 1 node ${ms(rd.lat_us.p99)}` : ''}`);
    row(sc, `relay p50 / p99 / p999 ms at ${num(rate)} msg/s`, lat(rc?.lat_us), '', '', `1 node ${lat(rd?.lat_us)}`);
    row(sc, `max rate with p99 < ${mc?.p99_limit_ms ?? 5} ms (msg/s)`, maxCell(mc), '', '',
      mr === undefined ? '–' : `${pct(mr)} of 1 node (${maxCell(md)})`);
    row(sc, `relay CPU µs/msg at ${num(rate)} msg/s: node a + node b + redis`, cpuSumCell(cpuMsg), '', '',
      rd?.server_cpu_us_per_msg ? `1 node ${num(rd.server_cpu_us_per_msg, 2)}` : '–');
    const redisRows = (at, r, p, cpu) => {
      if (p) row(sc, `Redis per message at ${at}: script runs · acks · (un)subscribes · all commands`, `${num(p.scripts, 2)} · ${num(p.acks, 2)} · ${num(p.subscribe_unsubscribe, 2)} · ${num(p.all, 1)}`, '', '',
        `${num(p.inside_scripts, 1)} of them inside scripts; ${num(p.usec, 1)} µs executing (${num(p.inside_scripts_usec, 1)} in those)`);
      if (cpu.redis) row(sc, `one Redis core carries at ${at} (10⁶ / Redis µs/msg)`, `${num(1e6 / cpu.redis)} msg/s`, '', '', 'on paper');
    };
    redisRows(`${num(rate)} msg/s`, rc, rpm, cpuMsg);
    if (lc || ld) {
      const lr = lc?.rate ?? ld?.rate;
      row(sc, `relay at ${num(lr)} msg/s (a waiting reader per message): p50 / p99 / p999 ms`, lat(lc?.lat_us), '', '', `1 node ${lat(ld?.lat_us)}`);
      row(sc, `relay CPU µs/msg at ${num(lr)} msg/s: node a + node b + redis`, cpuSumCell(cpuLow), '', '',
        ld?.server_cpu_us_per_msg ? `1 node ${num(ld.server_cpu_us_per_msg, 2)}` : '–');
      redisRows(`${num(lr)} msg/s`, lc, rpmLow, cpuLow);
      row(sc, `delivered / sent ok (relay at ${num(lr)} msg/s)`, deliveredCell(lc), '', '', `1 node ${deliveredCell(ld)}`);
    }
    row(sc, 'delivered / sent ok (relay)', deliveredCell(rc), '', '', `1 node ${deliveredCell(rd)}`);
    row(sc, 'errors · missing+dup+gap (rpc)', errCell(c), '', '', `1 node ${errCell(d)}`);
    for (const [name, r] of [['2 nodes', mc], ['1 node', md]]) {
      if (r?.steps) row(sc, `find-max steps, ${name} (rate:p99 ms)`, stepsCell(r), '', '');
    }
    if (fc || fm) {
      const f = summary.cluster.floor, fr = fc?.rate ?? rate;
      row(sc, `floor (send = 4 commands, bench/floor_send.lua): relay p99 ms at ${num(fr)} msg/s`, relayCell(fc), '', '',
        `target ≤ 5 ms${verdict(f.target_met)} · the real send ${rc?.lat_us ? ms(rc.lat_us.p99) : '–'}`);
      row(sc, `floor: relay p50 / p99 / p999 ms at ${num(fr)} msg/s`, lat(fc?.lat_us), '', '', '');
      row(sc, `floor: max rate with p99 < ${fm?.p99_limit_ms ?? 5} ms (msg/s)`, maxCell(fm), '', '', `the real send ${maxCell(mc)}`);
      row(sc, `floor: relay CPU µs/msg at ${num(fr)} msg/s: node a + node b + redis`, cpuSumCell(cpuFloor), '', '', '');
      redisRows(`${num(fr)} msg/s (floor)`, fc, f.redis_per_msg, cpuFloor);
      row(sc, 'delivered / sent ok (floor relay)', deliveredCell(fc), '', '', '');
      if (fm?.steps) row(sc, 'find-max steps, floor (rate:p99 ms)', stepsCell(fm), '', '');
    }
  }
}

// ---------------------------------------------------------------- idle
{
  const d = all('idle', 'mcp-chatd').sort((a, b) => a.sessions - b.sessions);
  const p = all('idle', 'peer').sort((a, b) => a.sessions - b.sessions);
  if (d.length || p.length) {
    const dl = d.at(-1), pl = p.at(-1);
    const r = ratio(pl?.bytes_per_session, dl?.bytes_per_session);
    summary.idle = { daemon_sessions: dl?.sessions, daemon_bytes_per_session: dl?.bytes_per_session,
      peer_sessions: pl?.sessions, peer_bytes_per_session: pl?.bytes_per_session, peer_over_daemon: r, target_bytes: 4096 };
    const ok = dl?.bytes_per_session !== undefined ? ` · target ≤ 4 KiB${verdict(dl.bytes_per_session <= 4096)}` : '';
    row('idle', `RSS bytes/session (daemon at ${num(dl?.sessions)}, peer at ${num(pl?.sessions)})`,
      num(dl?.bytes_per_session), num(pl?.bytes_per_session), '', r === undefined ? `–${ok}` : `peer/daemon ${times(r)}${ok}`);
    const ns = [...new Set([...d, ...p].map((x) => x.sessions))].sort((a, b) => a - b);
    for (const n of ns) {
      const a = d.find((x) => x.sessions === n), b = p.find((x) => x.sessions === n);
      const c = (x) => (x ? `${num(x.bytes_per_session)} B · ${num(x.open_s, 2)} s${x.opened !== x.sessions ? ` (${x.opened} opened)` : ''}${okMark(x)}` : '–');
      row('idle', `${num(n)} sessions: bytes/session · time to open`, c(a), c(b), '');
    }
  }
}

// ---------------------------------------------------------------- scale
{
  const d = all('scale', 'mcp-chatd').sort((a, b) => a.idle_sessions - b.idle_sessions);
  if (d.length) {
    const lo = d[0], hi = d.at(-1);
    const r = ratio(hi?.cpu_us_per_msg, lo?.cpu_us_per_msg);
    summary.scale = { rate: lo.rate, low_sessions: lo.idle_sessions, high_sessions: hi.idle_sessions,
      low_cpu_us_per_msg: lo.cpu_us_per_msg, high_cpu_us_per_msg: hi.cpu_us_per_msg, high_over_low: r, target_within: 0.1 };
    row('scale', `daemon CPU µs/msg at ${num(lo.rate)} msg/s: ${num(hi.idle_sessions)} vs ${num(lo.idle_sessions)} idle`,
      `${num(hi.cpu_us_per_msg, 2)} vs ${num(lo.cpu_us_per_msg, 2)}`, '', '',
      r === undefined ? '–' : `${times(r)} (target within 10 %${verdict(Math.abs(r - 1) <= 0.1)})`);
    for (const x of d) {
      row('scale', `${num(x.idle_sessions)} idle: CPU µs/msg · relay p99 ms · RSS MiB`,
        `${num(x.cpu_us_per_msg, 2)} · ${ms(x.lat_us?.p99)} · ${num(x.server_rss_kb / 1024, 0)}${okMark(x)}`, '', '');
    }
  }
}

// ---------------------------------------------------------------- noise
{
  const cpus = [];
  for (const r of runs) {
    if (r.cpu) cpus.push({ label: r.label, ...r.cpu });
    for (const s of r.steps ?? []) if (s.cpu) cpus.push({ label: `${r.label}@${s.rate}`, ...s.cpu });
  }
  const max = (k) => cpus.reduce((a, b) => ((b[k] ?? -1) > (a?.[k] ?? -1) ? b : a), undefined);
  // node's own helper threads share CPU 0 with its main thread: the peers' preemptions are their
  // own, so they count in the totals but not in the verdict
  for (const c of cpus) c.preempt_per_s = Math.max(/\/peer2?(@|$)/.test(c.label) ? 0 : c.server_preemptions ?? 0, c.loadgen_preemptions ?? 0) / (c.wall_s || 1);
  const pre = max('preempt_per_s'), foreign = max('foreign_pct'), busy = max('loadgen_busy_pct');
  const total = (k) => cpus.reduce((a, b) => a + (b[k] ?? 0), 0);
  summary.noise = { server_preemptions: total('server_preemptions'), loadgen_preemptions: total('loadgen_preemptions'),
    max_preemptions_per_s: pre?.preempt_per_s, worst_run: pre?.label,
    max_foreign_cpu_pct: foreign?.foreign_pct, foreign_run: foreign?.label,
    max_loadgen_busy_pct: busy?.loadgen_busy_pct, loadgen_run: busy?.label };
  if (pre) {
    row('all', 'preemptions of server · loadgen (all runs); worst run /s', `${num(total('server_preemptions'))} · ${num(total('loadgen_preemptions'))}; ${num(pre.preempt_per_s, 1)}/s (${pre.label})`, '', '',
      pre.preempt_per_s > 5 ? 'DISTURBED: tails include other jobs' : 'undisturbed');
  }
  if (foreign) row('all', 'CPU used by other jobs (max, % of a CPU)', `${num(foreign.foreign_pct)} % (${foreign.label})`, '', '',
    foreign.foreign_pct > 10 ? 'shared machine' : 'quiet');
  if (busy) row('all', 'load generator busy (max % of CPU 1)', `${num(busy.loadgen_busy_pct)} % (${busy.label})`, '', '',
    busy.loadgen_busy_pct > 90 ? 'loadgen may be the limit' : 'not the bottleneck');
}

const failed = runs.filter((r) => r.ok === false);
summary.correct = failed.length === 0;
summary.failures = failed.map((r) => ({ label: r.label, error: r.error ?? r.first_error }));

// ---------------------------------------------------------------- print
// the peer column holds peer2 in the "2026" scenarios (2026-07-28 clients)
const head = ['scenario', 'metric', 'mcp-chatd', 'peer · peer2', 'nginx', 'ratio'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => [...String(r[i])].length)));
const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i] + (String(c).length - [...String(c)].length))).join(' | ')} |`;
console.log(line(head));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
if (meta.smoke) console.log('\nsmoke run: small N and short runs; the figures above are not measurements.');
if (failed.length) {
  console.log(`\nCORRECTNESS FAILURES (${failed.length}):`);
  for (const r of failed) console.log(`  ${r.label}: ${r.error ?? r.first_error ?? JSON.stringify(r).slice(0, 300)}`);
}

writeFileSync(outFile, `${JSON.stringify({ meta, summary, runs }, null, 2)}\n`);
process.exit(failed.length ? 1 : 0);
