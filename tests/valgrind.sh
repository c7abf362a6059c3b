#!/usr/bin/env bash
# Runs mcp-chatd from a plain (no sanitizers) build under valgrind memcheck while driving a
# representative session over loopback with curl and mcpchatctl: initialize, tools/list, a
# named-room chat between two sessions, the push stream (and a resume with Last-Event-ID),
# wait_for_message (answered, timed out and abandoned), the random queue, errors, /metrics,
# the control socket (status, sessions, rooms, queues, stats, notify, kick), SIGHUP, DELETE,
# and SIGTERM with a push stream still open. Fails on any valgrind error or leak.
#
#   tests/valgrind.sh BUILD_DIR_WITHOUT_SANITIZERS
#
# Exit: 0 clean, 1 a valgrind error/leak or the session did not go as expected, 2 usage,
# 77 skipped (no valgrind, or valgrind cannot run this io_uring program here).
#
# Definedness checking is off (--undef-value-errors=no): the kernel fills io_uring's provided
# receive buffers and the signalfd read behind valgrind's back, so every byte a client sends
# looks uninitialised to memcheck and each parse of it is a false "conditional jump depends on
# uninitialised value". Addressability errors (invalid read/write, use after free, double
# free, mismatched free) and leaks are still checked. MCPCHAT_VG_UNDEF=1 turns it back on.
set -u

build=${1:-}
if [[ -z "$build" || ! -d "$build" ]]; then
	echo "usage: $0 BUILD_DIR_WITHOUT_SANITIZERS" >&2
	exit 2
fi
build=$(cd "$build" && pwd)
daemon=$build/mcp-chatd
ctl=$build/mcpchatctl
for f in "$daemon" "$ctl"; do
	if [[ ! -x "$f" ]]; then
		echo "valgrind.sh: $f is missing; build mcp-chatd and mcpchatctl in $build first" >&2
		exit 2
	fi
done
if ! command -v valgrind >/dev/null; then
	echo "valgrind.sh: SKIP: valgrind is not installed"
	exit 77
fi
if ! command -v curl >/dev/null; then
	echo "valgrind.sh: SKIP: curl is not installed"
	exit 77
fi
if grep -qa '__asan_init\|__tsan_init\|__msan_init' "$daemon"; then
	echo "valgrind.sh: $daemon is built with a sanitizer; give a build with MCPCHAT_SANITIZE=OFF" >&2
	exit 2
fi

work=$(mktemp -d /tmp/mcpchat-valgrind-XXXXXX)
pid=
stream_pids=()
cleanup() {
	for p in "${stream_pids[@]}"; do kill "$p" 2>/dev/null; done
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; fi
	wait 2>/dev/null
	if [[ -z "${KEEP:-}" ]]; then rm -rf "$work"; else echo "valgrind.sh: kept $work"; fi
}
trap cleanup EXIT

sock=$work/control.sock
conf=$work/mcp-chat.conf
printf '[limits]\nrate_burst = 100\n[log]\nlevel = debug\n' >"$conf"

# Starts "$@" in the background with stdout in $work/out; sets pid and port.
start() {
	: >"$work/out"
	"$@" >"$work/out" 2>"$work/err" &
	pid=$!
	port=
	for _ in $(seq 1 600); do # up to 60 s: valgrind starts slowly
		port=$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$work/out" | head -1 | sed 's/.*://')
		[[ -n "$port" ]] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# Waits up to $2 seconds for $pid to exit; sets status.
reap() {
	status=
	for _ in $(seq 1 $(($2 * 10))); do
		if ! kill -0 "$1" 2>/dev/null; then
			wait "$1"
			status=$?
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# probe [PREFIX...]: starts mcp-chatd under PREFIX (none: natively), initializes one session
# and stops it; sets probe (the HTTP status) and status (the exit status). 0 when both are fine.
probe_daemon() {
	probe= status=
	rm -f "$sock"
	if ! start "$@" "$daemon" --listen 127.0.0.1:0 -s "$sock"; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		status=none
		return 1
	fi
	probe=$(curl -s -m 20 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/mcp" \
		-H 'Accept: application/json, text/event-stream' -H 'Content-Type: application/json' \
		-d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"vg","version":"1"}}}')
	kill -TERM "$pid"
	reap "$pid" 30 || { kill -KILL "$pid"; wait "$pid"; status=killed; }
	[[ "$probe" == 200 && "$status" == 0 ]]
}

# skip WHY: valgrind cannot run the daemon here. That is a skip only when the daemon passes the
# same probe without valgrind; a daemon that fails it natively is broken, and that is a failure.
skip() {
	echo "valgrind.sh: $*"
	sed 's/^/  /' "$work/err" | tail -20
	if ! "$daemon" --version >/dev/null 2>&1 || ! probe_daemon; then
		echo "valgrind.sh: FAIL: mcp-chatd fails the same probe without valgrind" \
			"(initialize answered '$probe', exit status '$status'):"
		sed 's/^/  /' "$work/err" | tail -20
		exit 1
	fi
	echo "valgrind.sh: SKIP: valgrind cannot run mcp-chatd here; natively it passes the probe"
	exit 77
}

# 1. Can valgrind run an io_uring program here at all?
if ! out=$(timeout 60 valgrind -q --tool=none "$daemon" --version 2>&1); then
	echo "$out" >"$work/err"
	skip "'valgrind --tool=none mcp-chatd --version' fails:"
fi
if ! probe_daemon valgrind --tool=none; then
	skip "under valgrind --tool=none mcp-chatd answered initialize with '$probe' and exited" \
		"with '$status'; valgrind may not run its io_uring loop here:"
fi
if grep -q 'unhandled syscall\|unhandled ioctl' "$work/err"; then
	echo "valgrind.sh: note: valgrind reports unhandled syscalls:"
	grep 'unhandled' "$work/err" | sort -u | sed 's/^/  /'
fi
echo "valgrind.sh: valgrind $(valgrind --version | sed 's/valgrind-//') runs mcp-chatd's io_uring loop; now memcheck"

# 2. The real run.
undef=no
[[ "${MCPCHAT_VG_UNDEF:-0}" == 1 ]] && undef=yes
rm -f "$sock"
start valgrind --leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --error-exitcode=99 --track-fds=no \
	--undef-value-errors=$undef --num-callers=30 --log-file="$work/valgrind.log" \
	"$daemon" --listen 127.0.0.1:0 -s "$sock" -c "$conf" --max-sessions 50 ||
	{ echo "valgrind.sh: FAIL: mcp-chatd did not start under memcheck"; cat "$work/err" "$work/valgrind.log"; exit 1; }
url=http://127.0.0.1:$port/mcp
failures=0
fail() {
	echo "valgrind.sh: FAIL: $*"
	failures=$((failures + 1))
}

# post SID BODY: prints the response body (headers in $work/h).
post() {
	local sid=$1 body=$2
	curl -s -m 30 -D "$work/h" -X POST "$url" -H 'Accept: application/json, text/event-stream' \
		-H 'Content-Type: application/json' ${sid:+-H "Mcp-Session-Id: $sid"} -d "$body"
}
call() { # call SID TOOL ARGS
	post "$1" "{\"jsonrpc\":\"2.0\",\"id\":$RANDOM,\"method\":\"tools/call\",\"params\":{\"name\":\"$2\",\"arguments\":$3}}"
}
init() {
	local sid
	post "" '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"vg","version":"1"}}}' >/dev/null
	sid=$(tr -d '\r' <"$work/h" | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')
	[[ -n "$sid" ]] || return 1
	post "$sid" '{"jsonrpc":"2.0","method":"notifications/initialized"}' >/dev/null
	echo "$sid"
}
expect() { # expect WHAT TEXT PATTERN
	grep -q -- "$3" <<<"$2" || fail "$1: expected /$3/ in: ${2:0:300}"
}
# stream SID FILE [LAST_EVENT_ID]: the push stream into FILE, in the background.
stream() {
	curl -s -N -m 60 "$url" -H 'Accept: text/event-stream' -H "Mcp-Session-Id: $1" \
		${3:+-H "Last-Event-ID: $3"} >"$2" 2>/dev/null &
	stream_pids+=($!)
}
wait_for() { # wait_for FILE PATTERN SECONDS
	for _ in $(seq 1 $(($3 * 10))); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

A=$(init) || fail "initialize A"
B=$(init) || fail "initialize B"
C=$(init) || fail "initialize C"
expect "tools/list" "$(post "$A" '{"jsonrpc":"2.0","id":2,"method":"tools/list"}')" '"send_message"'
expect "join A" "$(call "$A" join_room '{"room_id":"vg-room","display_name":"Ann"}')" '"waiting"'
expect "join B" "$(call "$B" join_room '{"room_id":"vg-room","display_name":"Bob"}')" '"matched"'
stream "$B" "$work/b1.sse"
wait_for "$work/b1.sse" 'chatroom.found' 20 || fail "B's stream did not deliver chatroom.found"
for i in 1 2 3; do
	expect "send $i" "$(call "$A" send_message "{\"room_id\":\"vg-room\",\"message\":\"hello $i\"}")" '"message_id"'
done
wait_for "$work/b1.sse" 'hello 3' 20 || fail "B's stream did not deliver the messages"
expect "send to A" "$(call "$B" send_message '{"room_id":"vg-room","message":"hi Ann"}')" '"message_id"'
expect "wait_for_message (answered)" "$(call "$A" wait_for_message '{"timeout_s":10}')" 'hi Ann'
expect "wait_for_message (times out)" "$(call "$A" wait_for_message '{"timeout_s":1}')" '"events":\[\]'
# A long poll the client abandons.
curl -s -m 1 -X POST "$url" -H 'Accept: application/json, text/event-stream' \
	-H 'Content-Type: application/json' -H "Mcp-Session-Id: $A" \
	-d '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"wait_for_message","arguments":{"timeout_s":30}}}' >/dev/null
expect "get_status" "$(call "$A" get_status '{}')" '"in_room"'
# B's stream dropped and resumed with Last-Event-ID.
kill "${stream_pids[0]}" 2>/dev/null
last=$(grep -o '^id: [0-9]*' "$work/b1.sse" | tail -1 | sed 's/id: //')
sleep 1
expect "send 4" "$(call "$A" send_message '{"room_id":"vg-room","message":"hello 4"}')" '"message_id"'
stream "$B" "$work/b2.sse" "${last:-1}"
wait_for "$work/b2.sse" 'hello 4' 20 || fail "the resumed stream did not deliver hello 4"
grep -q 'hello 3' "$work/b2.sse" && fail "the resumed stream repeated hello 3"
# Errors and refusals.
expect "bad JSON" "$(post "$A" '{oops')" '-32700'
expect "unknown session" "$(post AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA '{"jsonrpc":"2.0","id":3,"method":"ping"}')" '-32001'
expect "invalid arguments" "$(call "$A" send_message '{"room_id":"vg-room"}')" 'invalid_arguments'
expect "unknown tool" "$(call "$A" no_such_tool '{}')" '-32602'
# Leave and meet again through the random queue.
expect "leave" "$(call "$A" leave_chat '{"room_id":"vg-room"}')" '"left"'
wait_for "$work/b2.sse" 'partner.disconnected' 20 || fail "B was not told that A left"
expect "queue C" "$(call "$C" enter_queue '{"display_name":"Cy","interests":["chess"]}')" '"waiting"'
expect "queue A" "$(call "$A" enter_queue '{"interests":["chess"]}')" '"matched"'
# Status endpoints and the control socket.
expect "/metrics" "$(curl -s -m 30 "http://127.0.0.1:$port/metrics")" 'mcpchat_sessions 3'
expect "/healthz" "$(curl -s -m 30 "http://127.0.0.1:$port/healthz")" 'ok'
for cmd in status sessions rooms queues stats; do
	out=$("$ctl" --socket "$sock" --timeout 30 --json "$cmd" 2>&1) || fail "mcpchatctl $cmd: $out"
done
D=$(init) || fail "initialize D"
# The newest session is listed first: D's handle.
handles=$("$ctl" --socket "$sock" --timeout 30 --json sessions | grep -o '"handle":[[:space:]]*"[0-9a-f]*"' | sed 's/.*"\([0-9a-f]*\)"$/\1/')
[[ $(echo "$handles" | grep -c .) == 4 ]] || fail "mcpchatctl sessions lists '$handles', expected 4 handles"
"$ctl" --socket "$sock" --timeout 30 notify --all notifications/message '{"level":"info","data":"valgrind"}' >/dev/null ||
	fail "mcpchatctl notify"
wait_for "$work/b2.sse" 'notifications/message' 20 || fail "B did not get the admin notification"
"$ctl" --socket "$sock" --timeout 30 kick "$(echo "$handles" | head -1)" --reason "valgrind run" >/dev/null ||
	fail "mcpchatctl kick"
code=$(curl -s -m 30 -o /dev/null -w '%{http_code}' -X POST "$url" -H 'Accept: application/json, text/event-stream' \
	-H 'Content-Type: application/json' -H "Mcp-Session-Id: $D" -d '{"jsonrpc":"2.0","id":4,"method":"ping"}')
[[ "$code" == 404 ]] || fail "the kicked session D answered $code, expected 404"
kill -HUP "$pid"
sleep 1
# DELETE ends a session; then SIGTERM with B's stream still open.
code=$(curl -s -m 30 -o /dev/null -w '%{http_code}' -X DELETE "$url" -H "Mcp-Session-Id: $C")
# C is alive (in a room with A): anything but 200 is a failure.
[[ "$code" == 200 ]] || fail "DELETE of the live session C answered $code, expected 200"
kill -0 "$pid" 2>/dev/null || fail "mcp-chatd died during the session"
kill -TERM "$pid"
if ! reap "$pid" 120; then
	kill -KILL "$pid"
	wait "$pid"
	fail "mcp-chatd did not exit within 120 s of SIGTERM under valgrind"
	status=killed
fi
echo "valgrind.sh: mcp-chatd exited with status $status"
summary=$(grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|Invalid|uninitialised|unhandled' "$work/valgrind.log" | sort | uniq -c)
echo "$summary" | sed 's/^/  /'
if [[ "$status" == 99 ]] || ! grep -q 'ERROR SUMMARY: 0 errors' "$work/valgrind.log"; then
	echo "valgrind.sh: FAIL: valgrind found errors or leaks:"
	sed 's/^/  /' "$work/valgrind.log" | tail -200
	exit 1
fi
[[ "$status" == 0 ]] || fail "exit status $status (expected 0)"
if ((failures)); then
	echo "valgrind.sh: FAIL: $failures step(s) of the session went wrong; daemon stderr tail:"
	tail -30 "$work/err" | sed 's/^/  /'
	exit 1
fi
echo "valgrind.sh: PASS: no valgrind errors, no definite or indirect leaks (definedness checks: $undef)"
exit 0
