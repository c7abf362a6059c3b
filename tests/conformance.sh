#!/usr/bin/env bash
# Runs the official MCP conformance suite against a fresh daemon on 127.0.0.1:0.
# Usage: tests/conformance.sh PATH/TO/mcp-chatd
# Every generic scenario must pass; only fixture scenarios are listed in the baseline.
set -u
DAEMON=${1:?usage: conformance.sh PATH/TO/mcp-chatd}
HERE=$(cd "$(dirname "$0")" && pwd)
RUNNER=${CONFORMANCE_RUN:-$HERE/../../shared/conformance/run.sh}
[ -x "$RUNNER" ] || { echo "conformance.sh: $RUNNER not found (shared/ beside the checkout)" >&2; exit 1; }

OUT=$(mktemp) ERR=$(mktemp)
"$DAEMON" --listen 127.0.0.1:0 >"$OUT" 2>"$ERR" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -f "$OUT" "$ERR"' EXIT
for _ in $(seq 100); do grep -q 'listening on' "$OUT" && break; sleep 0.05; done
URL=$(sed -n 's/.*listening on //p' "$OUT" | head -n 1)
[ -n "$URL" ] || { echo "conformance.sh: daemon did not start"; cat "$ERR"; exit 1; }
timeout 540 "$RUNNER" "$URL" --expected-failures "$HERE/conformance-baseline.yml"
rc=$?
kill -TERM $PID; wait $PID; drc=$?
[ $drc -eq 0 ] || { echo "conformance.sh: daemon exited $drc"; cat "$ERR"; rc=1; }
exit $rc
