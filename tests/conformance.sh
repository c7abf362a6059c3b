#!/usr/bin/env bash
# Runs the official MCP conformance suites against mcp-chatd, one fresh daemon on 127.0.0.1:0
# per leg:
#   2025          suite 0.1.16, 2025 wire                    conformance-baseline.yml
#   next-2025     suite 0.2.0-alpha (run.sh --next), 2025 wire  conformance-baseline-next.yml
#   next-2026     --next --requirements 2026-07-28 (the scored set)  conformance-baseline-2026.yml
#   next-2026-headers  the two pending (not scored) SEP-2243 header scenarios, at the 2026-07-28
#                 wire, against the same 2026 baseline
#   fixtures-2025 suite 0.1.16, 2025 wire, against mcp-chatd-fixtures --conformance-fixtures
#                 (the suite's own fixture tools, resources and prompts next to the chat's)
#                 conformance-baseline-fixtures.yml: only what still fails there
#                 with --suite all: its two pending scenarios (json-schema-2020-12,
#                 server-sse-polling) too
#   fixtures-next-2025, fixtures-next-2026  the same daemon, the newest suite on the 2025
#                 wire (same baseline; plus its pending server-sse-polling, run alone as
#                 fixtures-next-2025-sse-polling) and --requirements 2026-07-28
#                 (conformance-baseline-fixtures-2026.yml)
#   fixtures-next-2026-headers  the two SEP-2243 header scenarios against mcp-chatd-fixtures,
#                 whose test_custom_headers mirrors parameters into Mcp-Param-* headers, so
#                 http-custom-header-server-validation is scored passing there
#                 (conformance-baseline-fixtures-2026.yml)
#                 The binary comes from $CONFORMANCE_FIXTURES_DAEMON (tests/CMakeLists.txt sets
#                 it when configured with -DMCPCHAT_CONFORMANCE_FIXTURES=ON); without it these
#                 legs are skipped, unless named on the command line (then they fail).
# Every scenario that needs no fixture of the suite must pass; a baseline lists only the
# scenarios (or, as scenario:check-id, the checks) that need the suite's own fixture tools,
# resources and prompts. With --expected-failures a WARNING counts as a failure, and so does
# a check the suite marks untestable (it reports those as FAILURE).
# Usage: tests/conformance.sh PATH/TO/mcp-chatd [LEG...]    (default: every leg)
set -u
DAEMON=${1:?usage: conformance.sh PATH/TO/mcp-chatd [LEG...]}
shift
HERE=$(cd "$(dirname "$0")" && pwd)
RUNNER=${CONFORMANCE_RUN:-$HERE/../../shared/conformance/run.sh}
LEG_TIMEOUT=${CONFORMANCE_LEG_TIMEOUT:-120}
[ -x "$RUNNER" ] || { echo "conformance.sh: $RUNNER not found (shared/ beside the checkout)" >&2; exit 1; }

TMP=$(mktemp -d)
PID=
stop_daemon() {
	[ -n "$PID" ] || return 0
	kill -TERM "$PID" 2>/dev/null
	wait "$PID"
	local drc=$?
	PID=
	return $drc
}
trap 'stop_daemon; rm -rf "$TMP"' EXIT

# Starts a daemon; sets PID and URL.
start_daemon() {
	: >"$TMP/out"
	"${DAEMON_CMD[@]}" --listen 127.0.0.1:0 >"$TMP/out" 2>"$TMP/err" &
	PID=$!
	for _ in $(seq 100); do grep -q 'listening on' "$TMP/out" && break; sleep 0.05; done
	URL=$(sed -n 's/.*listening on //p' "$TMP/out" | head -n 1)
	[ -n "$URL" ] || { echo "conformance.sh: daemon did not start"; cat "$TMP/err"; return 1; }
}

SUMMARY=()
FAILED=0
DAEMON_CMD=("$DAEMON")
FIXTURES=${CONFORMANCE_FIXTURES_DAEMON:-}

# leg NAME RUNNER-ARGS...: one daemon, one run of the suite (bounded), its summary line.
# @URL@ in the arguments stands for the daemon's URL.
leg() {
	local name=$1 rc drc line verdict
	shift
	echo "=== conformance leg $name: run.sh $*"
	start_daemon || { SUMMARY+=("$name: FAIL (daemon did not start)"); FAILED=1; return; }
	local args=("${@//@URL@/$URL}")
	timeout "$LEG_TIMEOUT" "$RUNNER" "${args[@]}" 2>&1 | tee "$TMP/$name.log"
	rc=${PIPESTATUS[0]}
	stop_daemon
	drc=$?
	[ $rc -eq 124 ] && echo "conformance.sh: leg $name timed out after ${LEG_TIMEOUT}s"
	if [ $drc -ne 0 ]; then
		echo "conformance.sh: daemon exited $drc after leg $name"
		cat "$TMP/err"
		rc=1
	fi
	# "Total: N passed, M failed" (suite runs) or "Passed: N/D, ..." (one scenario).
	line=$(grep -E '^(Total: |Passed: )' "$TMP/$name.log" | tail -n 1)
	grep -q 'Baseline check passed' "$TMP/$name.log" && line="$line; baseline check passed"
	verdict=PASS
	[ $rc -eq 0 ] || { verdict="FAIL (rc $rc)"; FAILED=1; }
	SUMMARY+=("$name: $verdict: ${line:-no summary}")
	echo "=== conformance leg $name: $verdict: ${line:-no summary}"
}

want() { [ ${#LEGS[@]} -eq 0 ] || [[ " ${LEGS[*]} " == *" $1 "* ]]; }
LEGS=("$@")

B=$HERE/conformance-baseline
want 2025 && leg 2025 @URL@ --expected-failures "$B.yml"
want next-2025 && leg next-2025 --next @URL@ --expected-failures "$B-next.yml"
want next-2026 && leg next-2026 --next @URL@ --requirements 2026-07-28 --expected-failures "$B-2026.yml"
# Pending at 2026-07-28, so --requirements runs them without scoring them: scored here.
for s in http-header-validation http-custom-header-server-validation; do
	want next-2026-headers && leg "next-2026-$s" --next @URL@ --scenario "$s" \
		--spec-version 2026-07-28 --expected-failures "$B-2026.yml"
done
# The suite's fixtures built in: every scenario but those the baseline names must pass.
# fixtures_leg NAME [--label LABEL] RUNNER-ARGS...: runs when NAME (the name on the command
# line) is wanted, reported as LABEL.
fixtures_leg() {
	local name=$1 label=$1
	shift
	if [ "${1:-}" = --label ]; then
		label=$2
		shift 2
	fi
	want "$name" || return 0
	if [ -n "$FIXTURES" ] && [ -x "$FIXTURES" ]; then
		DAEMON_CMD=("$FIXTURES" --conformance-fixtures)
		leg "$label" "$@"
		DAEMON_CMD=("$DAEMON")
	elif [ ${#LEGS[@]} -gt 0 ]; then
		SUMMARY+=("$label: FAIL (CONFORMANCE_FIXTURES_DAEMON is not an mcp-chatd-fixtures)")
		FAILED=1
	else
		SUMMARY+=("$label: skipped (configure with -DMCPCHAT_CONFORMANCE_FIXTURES=ON)")
	fi
}
# 0.1.16's pending scenarios too (--suite all): json-schema-2020-12 and server-sse-polling.
fixtures_leg fixtures-2025 @URL@ --suite all --expected-failures "$B-fixtures.yml"
fixtures_leg fixtures-next-2025 --next @URL@ --expected-failures "$B-fixtures.yml"
# Pending in the newest suite as well, whose pending set is mostly the unscored tasks
# extension: server-sse-polling (SEP-1699, POST streams resumed with GET + Last-Event-ID) is
# run on its own, with fixtures-next-2025.
fixtures_leg fixtures-next-2025 --label fixtures-next-2025-sse-polling --next @URL@ \
	--scenario server-sse-polling --spec-version 2025-11-25 --expected-failures "$B-fixtures.yml"
fixtures_leg fixtures-next-2026 --next @URL@ --requirements 2026-07-28 \
	--expected-failures "$B-fixtures-2026.yml"
# The pending header scenarios, one leg each, named by the group (as next-2026-headers).
for s in http-header-validation http-custom-header-server-validation; do
	fixtures_leg fixtures-next-2026-headers --label "fixtures-next-2026-$s" --next @URL@ --scenario "$s" \
		--spec-version 2026-07-28 --expected-failures "$B-fixtures-2026.yml"
done

echo
echo "=== conformance summary"
printf '  %s\n' "${SUMMARY[@]}"
exit $FAILED
