#!/usr/bin/env bash
# tests/build-packages.sh PKG_BUILD: the .deb and .rpm as CPack makes them from this tree, in a
# release build of their own in PKG_BUILD (configured, built and packed again on every call;
# the build is incremental). Shared by tests/packaging.sh and tests/systemd.sh, which ctest runs
# one at a time (RESOURCE_LOCK). On success PKG_BUILD holds exactly one mcp-chat_*.deb and one
# mcp-chat-*.rpm; on failure the log of the step that failed is printed and it exits 1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PKG_BUILD=${1:?usage: tests/build-packages.sh PKG_BUILD}
LOG=$(mktemp /tmp/mcp-chat-build-packages.XXXXXX)
trap 'rm -f "$LOG"' EXIT

step() {
	local what=$1
	shift
	"$@" >"$LOG" 2>&1 || { cat "$LOG"; echo "build-packages: $what failed" >&2; exit 1; }
}

step "cmake configure" timeout 600 cmake -S "$ROOT" -B "$PKG_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DMCPCHAT_TESTS=OFF -DMCPCHAT_SANITIZE=OFF
step "build" timeout 600 cmake --build "$PKG_BUILD" -j "$(nproc)"
rm -f "$PKG_BUILD"/mcp-chat_*.deb "$PKG_BUILD"/mcp-chat-*.rpm
step "cpack" bash -c 'cd "$1" && timeout 600 cpack -G DEB && timeout 600 cpack -G RPM' _ "$PKG_BUILD"
