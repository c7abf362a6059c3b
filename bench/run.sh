#!/usr/bin/env bash
# Benchmarks mcp-chatd against the reference peers (official MCP TypeScript SDK: peer for 2025
# sessions, peer2 for MCP 2026-07-28 clients) and nginx.
# Builds what it needs, starts each server on loopback pinned to CPU 0, runs the load generator
# pinned to CPU 1, stops everything, prints one table and writes bench/results.json.
#
#   bench/run.sh                 full run (about 11 minutes)
#   bench/run.sh --smoke         a few seconds: counts and correctness only, never speed (CI)
#   bench/run.sh --only relay    one scenario: rpc, relay, idle, scale or cluster (rpc and relay
#                                run with 2025 sessions and again with 2026-07-28 clients)
#   bench/run.sh --only cluster  two daemons sharing one redis-server, each pair's sides on
#                                different nodes, beside one daemon alone, then the cluster's
#                                floor (bench/floor_send.lua; 2026-07-28 clients)
#   bench/run.sh --duration 5    measured seconds per run (default 10)
#
# Exit status: 0, or 1 when a correctness check failed (errors, lost, duplicated or reordered
# messages, sessions that did not open, streams that closed) or something could not start.
set -euo pipefail

usage() {
	sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
	cat <<'EOF'
Options:
  --smoke            short runs with small N; checks correctness, never asserts speed
  --only SCENARIO    rpc, relay, idle, scale or cluster (repeatable)
  --duration S       measured seconds per run (default 10; smoke 1)
  --rounds N         rpc runs per server for the daemon and nginx, alternating; the table
                     takes each one's median run and lists them all (default 3; smoke 1)
  --out FILE         the JSON results (default bench/results.json; smoke: bench/.work/results-smoke.json)
  --no-peer          skip the reference peer (2025 sessions)
  --no-peer2         skip the reference peer for 2026-07-28 clients (peer2)
  --no-nginx         skip nginx
  --quiet-wait S     before each run, wait up to S seconds for other jobs on the machine to
                     go quiet (default 15, then 3 once it timed out; smoke 0)
  --no-priority      do not run in a scheduler autogroup of our own at nice -19 (the default
                     for full runs as root, so other jobs on a shared machine cannot starve
                     the servers under test; smoke runs never do it)
  --rt               run every server and the load generator under SCHED_FIFO (chrt -f 10,
                     root only), the load generator sleeping instead of spinning: no other
                     job can preempt them, so latency tails are the server's own. Saturated
                     servers lose ~5 % to RT throttling; meant for --only relay / scale
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
BUILD=$ROOT/build-bench
LOCAL=$BENCH/.work # untracked (.gitignore): the peer's copy and node_modules, smoke results
SHARED=${MCPCHAT_SHARED:-$ROOT/../shared}
[[ -d $SHARED/peer ]] || SHARED=/work/shared

SMOKE=0
ONLY=()
DURATION=
OUT=
USE_PEER=1
USE_PEER2=1
USE_NGINX=1
QUIET_WAIT=
PRIORITY=
RT=0
ARGS=("$@")

while (($#)); do
	case $1 in
	--smoke) SMOKE=1 ;;
	--only) ONLY+=("$2"); shift ;;
	--duration) DURATION=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--out) OUT=$2; shift ;;
	--no-peer) USE_PEER=0 ;;
	--no-peer2) USE_PEER2=0 ;;
	--no-nginx) USE_NGINX=0 ;;
	--quiet-wait) QUIET_WAIT=$2; shift ;;
	--no-priority) PRIORITY=0 ;;
	--rt) RT=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
for s in "${ONLY[@]}"; do
	case $s in rpc | relay | idle | scale | cluster) ;; *) echo "run.sh: --only takes rpc, relay, idle, scale or cluster" >&2; exit 2 ;; esac
done
want() { ((${#ONLY[@]} == 0)) && return 0; local s; for s in "${ONLY[@]}"; do [[ $s == "$1" ]] && return 0; done; return 1; }

if ((SMOKE)); then
	: "${DURATION:=1}" "${QUIET_WAIT:=0}" "${OUT:=$LOCAL/results-smoke.json}" "${PRIORITY:=0}" "${ROUNDS:=1}"
	WARMUP=0.3
	RPC_CONNS=8
	RELAY_PAIRS=10 RELAY_RATE=2000
	FIND_DAEMON=1000,2000 FIND_PEER=50,100 FIND_STEP=1 FIND_SAMPLES=20
	IDLE_DAEMON=(100 300) IDLE_PEER=(50)
	SCALE_N=(100 300) SCALE_RATE=1000 SCALE_PAIRS=10
	CLUSTER_RATE=1000 CLUSTER_LOW=500 FIND_CLUSTER=500,1000
else
	: "${DURATION:=10}" "${QUIET_WAIT:=15}" "${OUT:=$BENCH/results.json}" "${PRIORITY:=1}" "${ROUNDS:=3}"
	WARMUP=2
	RPC_CONNS=32 # as in the reference figures (wrk, 32 keep-alive connections)
	RELAY_PAIRS=100 RELAY_RATE=20000
	FIND_DAEMON=5000,10000,20000,40000,80000,160000,320000 FIND_PEER=25,50,100,250,500,1000,2000,4000 FIND_STEP=3 FIND_SAMPLES=500
	IDLE_DAEMON=(1000 5000 10000 18000) IDLE_PEER=(1000 2000)
	SCALE_N=(1000 5000 18000) SCALE_RATE=10000 SCALE_PAIRS=50
	CLUSTER_RATE=10000 CLUSTER_LOW=1000 FIND_CLUSTER=500,1000,2500,5000,10000,20000,40000
fi
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || { echo "run.sh: --rounds takes 1 to 99" >&2; exit 2; }

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() { log "ERROR: $*"; exit 1; }

# Scheduler isolation: with autogroups (Debian's default) nice only matters inside a session, so
# the whole benchmark runs in a session of its own whose autogroup gets nice -19. Servers and
# load generator share it, so every server is treated the same way.
if ((PRIORITY)) && [[ -z ${MCPCHAT_BENCH_INNER:-} ]]; then
	if [[ $EUID -eq 0 && -w /proc/self/autogroup ]] && command -v setsid >/dev/null; then
		MCPCHAT_BENCH_INNER=1 setsid "$0" "${ARGS[@]}" &
		inner=$!
		trap 'kill -TERM "$inner" 2>/dev/null || true' INT TERM
		rc=0
		wait "$inner" || rc=$?
		while kill -0 "$inner" 2>/dev/null; do rc=0; wait "$inner" || rc=$?; done
		exit "$rc"
	fi
	log "not root or no autogroups: running at normal priority"
	PRIORITY=0
fi
if [[ -n ${MCPCHAT_BENCH_INNER:-} ]]; then
	echo -19 >/proc/self/autogroup 2>/dev/null || log "could not raise the autogroup's priority"
fi

WORK=$(mktemp -d /tmp/mcp-chat-bench.XXXXXX)
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ build

mkdir -p "$LOCAL"
log "building the Release daemon and the load generator in build-bench/"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DMCPCHAT_TESTS=OFF -DMCPCHAT_BENCH=ON >"$WORK/cmake.log" 2>&1 ||
	{ cat "$WORK/cmake.log" >&2; fail "cmake configure failed"; }
cmake --build "$BUILD" -j"$(nproc)" --target mcp-chatd mcpchat-loadgen >"$WORK/build.log" 2>&1 ||
	{ tail -30 "$WORK/build.log" >&2; fail "build of the daemon or the load generator failed"; }
DAEMON=$BUILD/mcp-chatd
LOADGEN=$BUILD/bench/mcpchat-loadgen

# install_peer DIR SCRIPT: copies $SHARED/DIR to bench/.work/DIR and runs npm ci there when the
# lock file or the script changed.
install_peer() {
	local dir=$1 script=$2
	command -v node >/dev/null || fail "node is needed for the reference $dir (or pass --no-$dir)"
	[[ -f $SHARED/$dir/$script ]] || fail "no reference $dir at $SHARED/$dir (set MCPCHAT_SHARED or pass --no-$dir)"
	if ! cmp -s "$SHARED/$dir/package-lock.json" "$LOCAL/$dir/package-lock.json" ||
		! cmp -s "$SHARED/$dir/$script" "$LOCAL/$dir/$script" || [[ ! -d $LOCAL/$dir/node_modules ]]; then
		log "copying the reference $dir to bench/.work/$dir and running npm ci"
		rm -rf "${LOCAL:?}/$dir"
		mkdir -p "$LOCAL/$dir"
		cp "$SHARED/$dir/package.json" "$SHARED/$dir/package-lock.json" "$SHARED/$dir/$script" "$LOCAL/$dir/"
		chmod -R u+w "$LOCAL/$dir" # shared/ is read-only; the copy must not be
		(cd "$LOCAL/$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2 || fail "npm ci for the $dir failed"
	fi
}
((USE_PEER)) && install_peer peer peer.mjs
((USE_PEER2)) && install_peer peer2 peer2.mjs

if ((USE_NGINX)) && ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
	log "installing nginx with apt-get"
	if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx >&2 ||
		{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx >&2; }; }; then
		log "nginx could not be installed: the nginx column stays empty"
		USE_NGINX=0
	fi
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# ------------------------------------------------------------------ servers

SCHED=()   # prefix for every server and load generator command
LG_EXTRA=()
if ((RT)); then
	[[ $EUID -eq 0 ]] || fail "--rt needs root"
	SCHED=(chrt -f 10)
	LG_EXTRA=(--spin-us 0) # a spinning SCHED_FIFO task would be throttled
	log "SCHED_FIFO for servers and load generator (--rt)"
fi

SERVER_PID=
SERVER_URL=
SERVER_KIND=
SERVER_N=0

# Waits for "... http://127.0.0.1:PORT/mcp" in a log; sets SERVER_URL.
wait_url() {
	local logf=$1 pid=$2
	for _ in $(seq 200); do
		SERVER_URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*/mcp' "$logf" 2>/dev/null | head -1 || true)
		[[ -n $SERVER_URL ]] && return 0
		kill -0 "$pid" 2>/dev/null || { cat "$logf" >&2; fail "server exited at start"; }
		sleep 0.05
	done
	cat "$logf" >&2
	fail "server did not print its URL"
}

# start_daemon [ARG...]: the daemon, with ARGs added (a cluster node's --redis and --node).
start_daemon() {
	local n=$((++SERVER_N))
	SERVER_KIND=mcp-chatd
	"${SCHED[@]}" taskset -c 0 "$DAEMON" --listen 127.0.0.1:0 -s "$WORK/ctl.$n.sock" --log-level warning \
		--rate 1000000 --burst 1000000 --max-sessions 100000 "$@" >"$WORK/server.$n.log" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	wait_url "$WORK/server.$n.log" "$SERVER_PID"
}

# start_peer [peer2]: the reference peer for 2025 sessions, or peer2 for 2026-07-28 clients.
start_peer() {
	local n=$((++SERVER_N)) name=${1:-peer}
	SERVER_KIND=$name
	(cd "$LOCAL/$name" && exec "${SCHED[@]}" taskset -c 0 node "$name.mjs" --port 0 --rate 1000000 --burst 1000000) \
		>"$WORK/server.$n.log" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	wait_url "$WORK/server.$n.log" "$SERVER_PID"
}

start_nginx() {
	local n=$((++SERVER_N)) dir port
	SERVER_KIND=nginx
	dir=$WORK/nginx.$n
	port=$("$LOADGEN" freeport)
	mkdir -p "$dir"
	cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
user root;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    default_type application/json;
    server {
        listen 127.0.0.1:$port;
        location /mcp { return 200 '{"jsonrpc":"2.0","id":1,"result":{}}'; }
    }
}
EOF
	"${SCHED[@]}" taskset -c 0 "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$WORK/server.$n.log" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	SERVER_URL=http://127.0.0.1:$port/mcp
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.$n.log" "$dir/error.log" >&2 || true; fail "nginx exited at start"; }
		sleep 0.05
	done
	fail "nginx did not start listening"
}

# The nginx worker does the work: measure its CPU, not the master's.
server_work_pid() {
	local kid
	kid=$(pgrep -P "$SERVER_PID" -n 2>/dev/null || true)
	if [[ -n $kid && $(cat "/proc/$kid/comm" 2>/dev/null) == nginx ]]; then echo "$kid"; else echo "$SERVER_PID"; fi
}

# stop_pid PID KIND LOG: SIGTERM, SIGKILL after 5 s.
stop_pid() {
	local pid=$1 kind=$2 logf=$3 rc=0 killed=0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		killed=1
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || rc=$?
	# The daemon must stop on SIGTERM with status 0 (a crash under load, a hang, a sanitizer
	# report): the figures of a run that ended that way are no pass. Others are not judged.
	if [[ $kind == mcp-chatd ]] && ((killed || rc != 0)); then
		log "mcp-chatd did not stop cleanly on SIGTERM (exit status $rc, killed $killed); see $logf"
		tail -20 "$logf" >&2 || true
		FAILED=1
	fi
	local keep=() p
	for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

stop_server() {
	[[ -n $SERVER_PID ]] || return 0
	stop_pid "$SERVER_PID" "$SERVER_KIND" "$WORK/server.$SERVER_N.log"
	SERVER_PID=
}

# ------------------------------------------------------------------ a cluster

# Two daemons sharing one redis-server: node a is the current server (SERVER_PID, SERVER_URL),
# node b the side B of every pair (NODE_B_PID, NODE_B_URL). Every process on CPU 0, redis too:
# the cluster gets the one core a single daemon gets, and the load generator's core stays its
# own; each process's CPU per message is measured, so a core each is worked out on paper.
REDIS_PID=
REDIS_PORT=
NODE_B_PID=
NODE_B_URL=
NODE_B_N=
LG_SIDE=() # the load generator's extra arguments while a cluster runs

redis() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

start_redis() {
	local dir=$WORK/redis.$((++SERVER_N))
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
		fail "the cluster scenario needs redis-server and redis-cli (apt-get install redis-server)"
	mkdir -p "$dir"
	REDIS_PORT=$("$LOADGEN" freeport)
	"${SCHED[@]}" taskset -c 0 redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$dir" --save '' \
		--appendonly no --daemonize no --logfile "$dir/redis.log" >/dev/null 2>&1 &
	REDIS_PID=$!
	PIDS+=("$REDIS_PID")
	for _ in $(seq 100); do
		[[ $(redis PING 2>/dev/null) == PONG ]] && return 0
		kill -0 "$REDIS_PID" 2>/dev/null || { cat "$dir/redis.log" >&2; fail "redis-server exited at start"; }
		sleep 0.05
	done
	fail "redis-server did not answer PING"
}

start_cluster() {
	start_redis
	start_daemon --redis "127.0.0.1:$REDIS_PORT" --node bench-b
	NODE_B_PID=$SERVER_PID NODE_B_URL=$SERVER_URL NODE_B_N=$SERVER_N
	start_daemon --redis "127.0.0.1:$REDIS_PORT" --node bench-a
	LG_SIDE=(--url-b "$NODE_B_URL" --pid-b "$NODE_B_PID" --redis-pid "$REDIS_PID")
}

stop_cluster() {
	stop_server
	stop_pid "$NODE_B_PID" mcp-chatd "$WORK/server.$NODE_B_N.log"
	stop_pid "$REDIS_PID" redis ""
	NODE_B_PID= REDIS_PID= LG_SIDE=()
}

# The cluster's `send` becomes the floor (bench/floor.mjs waits for a node to load the library).
floor_send() {
	node "$BENCH/floor.mjs" "$REDIS_PORT" >&2 || fail "could not load the floor's send into redis"
}

# INFO commandstats as {"command":{"calls":N,"usec":N},...}
redis_commandstats() {
	redis INFO commandstats | tr -d '\r' | awk -F'[:,=]' '/^cmdstat_/ {
		sub(/^cmdstat_/, "", $1); printf "%s\"%s\":{\"calls\":%s,\"usec\":%s}", n++ ? "," : "{", $1, $3, $5 }
		END { if (!n) printf "{"; print "}" }'
}

# ------------------------------------------------------------------ runs

RESULTS=$WORK/results.jsonl
: >"$RESULTS"
FAILED=0

# CPU used by other jobs on the machine over one second, in percent of one CPU.
foreign_load() {
	local a b
	a=($(head -1 /proc/stat))
	sleep 1
	b=($(head -1 /proc/stat))
	local busy=$(((b[1] + b[2] + b[3] + b[6] + b[7] + b[8]) - (a[1] + a[2] + a[3] + a[6] + a[7] + a[8])))
	local hz
	hz=$(getconf CLK_TCK)
	echo $((busy * 100 / hz))
}

# Once a wait has timed out the machine is taken to be busy for good: later waits are short.
wait_quiet() {
	((QUIET_WAIT > 0)) || return 0
	local waited=0 load
	while :; do
		load=$(foreign_load)
		((load <= 15)) && return 0
		((waited == 0)) && log "other jobs use ${load}% CPU; waiting up to ${QUIET_WAIT}s for quiet"
		((waited += 1))
		if ((waited >= QUIET_WAIT)); then
			log "still ${load}% CPU from other jobs; measuring anyway (see the 'all' rows)"
			((QUIET_WAIT > 3)) && QUIET_WAIT=3
			return 0
		fi
	done
}

# run_lg SCENARIO SERVER MODE ARGS...: one loadgen run against the current server, pinned to CPU 1.
run_lg() {
	local scenario=$1 server=$2 mode=$3 rc=0 out
	shift 3
	wait_quiet
	log "$scenario: $mode on $server $*"
	out=$WORK/run.$RANDOM.json
	"${SCHED[@]}" taskset -c 1 "$LOADGEN" "$mode" --url "$SERVER_URL" --pid "$(server_work_pid)" \
		--label "$scenario/$server" "${LG_EXTRA[@]}" "${LG_SIDE[@]}" "$@" \
		>"$out" 2>"$out.err" || rc=$?
	if [[ ! -s $out ]]; then
		cat "$out.err" >&2
		log "$scenario on $server: the load generator failed (exit $rc)"
		printf '{"mode":"%s","label":"%s/%s","ok":false,"error":"loadgen exit %d: %s"}\n' "$mode" "$scenario" "$server" \
			"$rc" "$(tr -d '"\\' <"$out.err" | tr '\n' ' ' | cut -c1-300)" >"$out"
		FAILED=1
	elif ((rc != 0)); then
		log "$scenario on $server: CORRECTNESS FAILURE (exit $rc): $(cat "$out")"
		FAILED=1
	fi
	local p
	for p in "$SERVER_PID" "$NODE_B_PID" "$REDIS_PID"; do
		if [[ -n $p ]] && ! kill -0 "$p" 2>/dev/null; then
			log "$scenario: $server (process $p) DIED during the run"
			FAILED=1
		fi
	done
	jq -c --arg s "$scenario" --arg v "$server" '. + {scenario: $s, server: $v}' "$out" >>"$RESULTS" ||
		{ cat "$out" >&2; fail "the load generator printed bad JSON"; }
}

T0=$(date +%s)

if want rpc; then
	# A single 10 s run moves by a few per cent with the machine: the daemon and nginx run
	# ROUNDS times each, alternating, and the table takes each one's median.
	# The modern rows (2026-07-28 clients: chat_id, wait_for_message) alternate with them.
	for ((round = 1; round <= ROUNDS; round++)); do
		start_daemon
		run_lg rpc mcp-chatd rpc --conns "$RPC_CONNS" --duration "$DURATION" --warmup "$WARMUP"
		stop_server
		start_daemon
		run_lg rpc-modern mcp-chatd rpc --era modern --conns "$RPC_CONNS" --duration "$DURATION" --warmup "$WARMUP"
		stop_server
		if ((USE_NGINX)); then
			start_nginx
			run_lg rpc nginx raw --conns "$RPC_CONNS" --duration "$DURATION" --warmup "$WARMUP"
			stop_server
		fi
	done
	# The peer is 30x and more away from the daemon: one run tells.
	if ((USE_PEER)); then
		start_peer
		run_lg rpc peer rpc --conns "$RPC_CONNS" --duration "$DURATION" --warmup "$WARMUP"
		stop_server
	fi
	if ((USE_PEER2)); then
		start_peer peer2
		run_lg rpc-modern peer2 rpc --era modern --conns "$RPC_CONNS" --duration "$DURATION" --warmup "$WARMUP"
		stop_server
	fi
fi

# relay_runs SUFFIX ERA: the relay at the offered rate and --find-max, on the daemon and on the
# peer of that era (peer for 2025 sessions, peer2 for 2026-07-28 clients).
relay_runs() {
	local suffix=$1 era=$2 peer=peer use_peer=$USE_PEER
	[[ $era == modern ]] && peer=peer2 use_peer=$USE_PEER2
	start_daemon
	run_lg "relay$suffix" mcp-chatd relay --era "$era" --pairs "$RELAY_PAIRS" --rate "$RELAY_RATE" \
		--duration "$DURATION" --warmup "$WARMUP"
	stop_server
	start_daemon
	run_lg "relay-max$suffix" mcp-chatd relay --era "$era" --find-max --rates "$FIND_DAEMON" --pairs "$RELAY_PAIRS" \
		--duration "$FIND_STEP" --warmup 1 --find-samples "$FIND_SAMPLES"
	stop_server
	((use_peer)) || return 0
	# the peers saturate far below 20k/s: half the time, as the figure is a queue that only grows
	start_peer "$peer"
	run_lg "relay$suffix" "$peer" relay --era "$era" --pairs "$RELAY_PAIRS" --rate "$RELAY_RATE" \
		--duration "$(awk -v d="$DURATION" 'BEGIN{print (d > 2 ? d / 2 : d)}')" --warmup "$WARMUP"
	stop_server
	start_peer "$peer"
	run_lg "relay-max$suffix" "$peer" relay --era "$era" --find-max --rates "$FIND_PEER" --pairs "$RELAY_PAIRS" \
		--duration "$FIND_STEP" --warmup 1 --find-samples "$FIND_SAMPLES"
	stop_server
}

if want relay; then
	relay_runs "" 2025
	relay_runs -modern modern
fi

if want idle; then
	for n in "${IDLE_DAEMON[@]}"; do
		start_daemon
		sleep 0.3
		run_lg idle mcp-chatd idle --sessions "$n"
		stop_server
	done
	if ((USE_PEER)); then
		for n in "${IDLE_PEER[@]}"; do
			start_peer
			sleep 1
			run_lg idle peer idle --sessions "$n" --concurrency 128 --hold 3
			stop_server
		done
	fi
fi

if want scale; then
	for n in "${SCALE_N[@]}"; do
		start_daemon
		run_lg scale mcp-chatd scale --sessions "$n" --pairs "$SCALE_PAIRS" --rate "$SCALE_RATE" \
			--duration "$DURATION" --warmup "$WARMUP"
		stop_server
	done
fi

# cluster_lg SCENARIO MODE ARGS...: run_lg on the cluster, with Redis' INFO commandstats over
# the run (reset before it) added to its result as redis_commandstats.
cluster_lg() {
	local scenario=$1 stats
	shift
	redis CONFIG RESETSTAT >/dev/null || fail "redis CONFIG RESETSTAT failed"
	run_lg "$scenario" cluster "$@"
	stats=$(redis_commandstats) || fail "redis INFO commandstats failed"
	jq -c --argjson st "$stats" --argjson n "$(wc -l <"$RESULTS")" \
		'if input_line_number == $n then . + {redis_commandstats: $st} else . end' "$RESULTS" >"$RESULTS.tmp" &&
		mv "$RESULTS.tmp" "$RESULTS"
}

# 2026-07-28 clients on two daemons sharing one redis-server, side A of every pair on node a and
# side B on node b (so every message crosses), beside one daemon alone in the same run.
if want cluster; then
	for ((round = 1; round <= ROUNDS; round++)); do
		start_daemon
		run_lg cluster-rpc mcp-chatd rpc --era modern --conns "$RPC_CONNS" --duration "$DURATION" --warmup "$WARMUP"
		stop_server
		start_cluster
		cluster_lg cluster-rpc rpc --era modern --conns "$RPC_CONNS" --duration "$DURATION" --warmup "$WARMUP"
		stop_cluster
	done
	# at the target rate, and at a low one where every message finds its reader waiting (one
	# message per wake-up, as in a chat between people: the cost per message to size Redis by)
	for rate in "$CLUSTER_RATE" "$CLUSTER_LOW"; do
		sc=cluster-relay
		((rate == CLUSTER_RATE)) || sc=cluster-relay-low
		start_daemon
		run_lg "$sc" mcp-chatd relay --era modern --pairs "$RELAY_PAIRS" --rate "$rate" --duration "$DURATION" --warmup "$WARMUP"
		stop_server
		start_cluster
		cluster_lg "$sc" relay --era modern --pairs "$RELAY_PAIRS" --rate "$rate" --duration "$DURATION" --warmup "$WARMUP"
		stop_cluster
	done
	start_daemon
	run_lg cluster-relay-max mcp-chatd relay --era modern --find-max --rates "$FIND_CLUSTER" --pairs "$RELAY_PAIRS" \
		--duration "$FIND_STEP" --warmup 1 --find-samples "$FIND_SAMPLES"
	stop_server
	start_cluster
	cluster_lg cluster-relay-max relay --era modern --find-max --rates "$FIND_CLUSTER" --pairs "$RELAY_PAIRS" \
		--duration "$FIND_STEP" --warmup 1 --find-samples "$FIND_SAMPLES"
	stop_cluster
	# The floor: the same two runs with `send` cut to the four commands any hand-off through
	# Redis needs (bench/floor_send.lua, swapped into the library the nodes loaded): what the
	# cluster would do if `send` cost nothing beyond them, on this machine, in this run.
	start_cluster
	floor_send
	cluster_lg cluster-relay-floor relay --era modern --pairs "$RELAY_PAIRS" --rate "$CLUSTER_RATE" \
		--duration "$DURATION" --warmup "$WARMUP"
	stop_cluster
	start_cluster
	floor_send
	cluster_lg cluster-relay-max-floor relay --era modern --find-max --rates "$FIND_CLUSTER" --pairs "$RELAY_PAIRS" \
		--duration "$FIND_STEP" --warmup 1 --find-samples "$FIND_SAMPLES"
	stop_cluster
fi

# ------------------------------------------------------------------ report

META=$(jq -n --arg date "$(date -u +%FT%TZ)" --arg kernel "$(uname -r)" \
	--arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
	--arg rev "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
	--arg dirty "$(git -C "$ROOT" status --porcelain -- daemon 2>/dev/null | wc -l)" \
	--argjson smoke "$SMOKE" --argjson rt "$RT" --arg duration "$DURATION" --arg rounds "$ROUNDS" --argjson secs "$(($(date +%s) - T0))" \
	--arg prio "$(cat /proc/self/autogroup 2>/dev/null || echo none)" \
	--arg node "$(node --version 2>/dev/null || echo none)" --arg nginx "$("$NGINX" -v 2>&1 | cut -d/ -f2 || echo none)" \
	'{date:$date, kernel:$kernel, cpu:$cpu, cpus:2, git:$rev, daemon_files_modified:($dirty|tonumber), smoke:($smoke==1), sched_fifo:($rt==1),
	  duration_s:($duration|tonumber), rpc_rounds:($rounds|tonumber), elapsed_s:$secs, node:$node, nginx:$nginx,
	  pinning:"servers on CPU 0 (a cluster: both daemons and redis-server), load generator on CPU 1 (taskset)", autogroup:$prio}')
node "$BENCH/report.mjs" "$RESULTS" "$OUT" "$META" || FAILED=1

if ((FAILED)); then
	log "FAILED: see the messages above and the ok/correct fields in $OUT"
	exit 1
fi
log "done in $(($(date +%s) - T0)) s; results in ${OUT#"$ROOT"/}"
