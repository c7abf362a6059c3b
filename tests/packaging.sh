#!/usr/bin/env bash
# tests/packaging.sh BUILD_DIR: the packages as an operator gets them.
#
# Builds the .deb and .rpm with CPack in a release build of its own (BUILD_DIR/pkg, or
# $MCPCHAT_PKG_BUILD; tests/build-packages.sh), runs lintian on the .deb (fails on any error), compares the .rpm's file
# list with packaging/rpm-files.txt, installs the .deb with apt-get, checks and starts the
# installed daemon on the installed configuration as the mcp-chat user (no systemd as PID 1
# here: it is started by hand, with the unit's user), talks MCP to it with curl and to its
# control socket with the installed mcpchatctl, reads /healthz, /metrics and the chat page at /,
# reloads it with mcpchatctl reload and SIGHUP, stops it with SIGTERM, verifies the systemd unit and its
# security exposure, purges the package and checks that nothing is left behind. The system
# user mcp-chat stays, as Debian does for every package's system user. tests/systemd.sh runs
# the same .deb under a real systemd.
#
# Needs root, apt-get and dpkg: exits 77 (skipped) without them, and when mcp-chat is already
# installed on this machine (it would be purged).
set -euo pipefail

# The exposure `systemd-analyze security --offline=true` gives the unit (0 best, 10 worst).
MAX_EXPOSURE=1.3

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${1:-$ROOT/build}
PKG_BUILD=${MCPCHAT_PKG_BUILD:-$BUILD_DIR/pkg}
UNIT=/usr/lib/systemd/system/mcp-chat.service

say() { printf 'packaging: %s\n' "$*"; }
skip() { say "skipped: $*"; exit 77; }
fail() { say "FAILED: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "needs root (it installs and purges the .deb)"
command -v apt-get >/dev/null && command -v dpkg >/dev/null || skip "needs apt-get and dpkg (Debian)"
# A package left installed (by a run that could not purge it, or by hand) would turn every
# later run into a skip, i.e. a pass nobody notices: it is a failure instead.
if dpkg-query -W -f='${Status}' mcp-chat 2>/dev/null | grep -q 'ok installed\|ok config-files\|half'; then
	fail "mcp-chat is already installed on this machine; purge it first (apt-get purge mcp-chat)"
fi
missing=""
for t in cmake cpack lintian rpm systemd-analyze systemd-sysusers curl gzip file setpriv timeout; do
	command -v "$t" >/dev/null || missing+=" $t"
done
[ -z "$missing" ] || fail "missing tools:$missing (run scripts/dev setup)"

TMP=$(mktemp -d /tmp/mcp-chat-packaging.XXXXXX)
chmod 0755 "$TMP"
DAEMON_PID=""
INSTALLED=0
cleanup() {
	local rc=$?
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -KILL "$DAEMON_PID" 2>/dev/null || true
		wait "$DAEMON_PID" 2>/dev/null || true
	fi
	if [ "$INSTALLED" = 1 ]; then
		say "cleanup: purging the package"
		timeout 300 apt-get purge -y -q -o DPkg::Lock::Timeout=120 mcp-chat >/dev/null 2>&1 || true
	fi
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export DEBIAN_FRONTEND=noninteractive

# --- Build ------------------------------------------------------------------------------------
say "building the packages in $PKG_BUILD"
"$ROOT/tests/build-packages.sh" "$PKG_BUILD" || fail "building the packages"
DEB=$(ls "$PKG_BUILD"/mcp-chat_*.deb)
RPM=$(ls "$PKG_BUILD"/mcp-chat-*.rpm)
[ "$(wc -w <<<"$DEB")" = 1 ] && [ "$(wc -w <<<"$RPM")" = 1 ] || fail "expected one .deb and one .rpm"
say "built $(basename "$DEB") and $(basename "$RPM")"

# --- lintian ----------------------------------------------------------------------------------
# lintian exits 1 when it reports tags (judged below by their level); anything else means it
# did not run, and an empty report must not pass for a clean one.
lrc=0
timeout 300 lintian --info --pedantic "$DEB" >"$TMP/lintian.log" 2>&1 || lrc=$?
[ "$lrc" -le 1 ] || { cat "$TMP/lintian.log"; fail "lintian did not run (exit $lrc)"; }
grep -v '^running with root privileges' "$TMP/lintian.log" | sed 's/^/  lintian: /' || true
if grep -q '^E:' "$TMP/lintian.log"; then
	fail "lintian reports errors"
fi
say "lintian: $(grep -c '^E:' "$TMP/lintian.log" || true) errors, $(grep -c '^W:' "$TMP/lintian.log" || true) warnings"

# --- The .deb's contents ------------------------------------------------------------------------
dpkg-deb -c "$DEB" >"$TMP/deb.list"
for f in ./usr/sbin/mcp-chatd ./usr/bin/mcpchatctl ./etc/mcp-chat/mcp-chat.conf "./usr/lib/systemd/system/mcp-chat.service" \
	./usr/lib/sysusers.d/mcp-chat.conf ./usr/lib/tmpfiles.d/mcp-chat.conf ./usr/share/doc/mcp-chat/copyright \
	./usr/share/doc/mcp-chat/changelog.Debian.gz ./usr/share/man/man8/mcp-chatd.8.gz ./usr/share/man/man1/mcpchatctl.1.gz \
	./usr/share/doc/mcp-chat/examples/haproxy-mcp-chat.cfg; do
	grep -q " $f\$" "$TMP/deb.list" || fail ".deb lacks $f"
done
dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles | grep -qx /etc/mcp-chat/mcp-chat.conf ||
	fail ".deb does not mark /etc/mcp-chat/mcp-chat.conf as a conffile"

# --- The .rpm ---------------------------------------------------------------------------------
rpm -qpl "$RPM" 2>/dev/null | sort >"$TMP/rpm.list"
sort "$ROOT/packaging/rpm-files.txt" >"$TMP/rpm.expected"
if ! diff -u "$TMP/rpm.expected" "$TMP/rpm.list"; then
	fail "the .rpm's files differ from packaging/rpm-files.txt (- expected, + built)"
fi
rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$RPM" 2>/dev/null | grep -qx 'cn /etc/mcp-chat/mcp-chat.conf' ||
	fail ".rpm: /etc/mcp-chat/mcp-chat.conf is not %config(noreplace)"
rpm -qp --scripts "$RPM" 2>/dev/null >"$TMP/rpm.scripts"
grep -q 'systemd-sysusers' "$TMP/rpm.scripts" && grep -q 'preuninstall' "$TMP/rpm.scripts" &&
	grep -q 'postuninstall' "$TMP/rpm.scripts" || fail ".rpm lacks its systemd/sysusers scriptlets"
say "rpm: $(wc -l <"$TMP/rpm.list") files as expected, config(noreplace), scriptlets present"

# --- Install ----------------------------------------------------------------------------------
INSTALLED=1
timeout 600 apt-get install -y -q -o DPkg::Lock::Timeout=120 "$DEB" >"$TMP/install.log" 2>&1 ||
	{ cat "$TMP/install.log"; fail "apt-get install"; }
dpkg-query -W -f='${Status}' mcp-chat | grep -q 'install ok installed' || fail "not installed"
getent passwd mcp-chat >/dev/null || fail "postinst did not create the user mcp-chat"
getent group mcp-chat >/dev/null || fail "postinst did not create the group mcp-chat"
cmp -s /etc/mcp-chat/mcp-chat.conf "$ROOT/packaging/mcp-chat.conf" || fail "installed config differs from packaging/mcp-chat.conf"
[ -L /etc/systemd/system/multi-user.target.wants/mcp-chat.service ] || fail "postinst did not enable mcp-chat.service"
file /usr/sbin/mcp-chatd /usr/bin/mcpchatctl | grep -v ', stripped' && fail "installed binaries are not stripped"
say "installed: user $(getent passwd mcp-chat | cut -d: -f1,3,7), unit enabled"

# --- The unit -----------------------------------------------------------------------------------
timeout 120 systemd-analyze verify --man=no "$UNIT" >"$TMP/verify.log" 2>&1 || { cat "$TMP/verify.log"; fail "systemd-analyze verify"; }
[ ! -s "$TMP/verify.log" ] || { cat "$TMP/verify.log"; fail "systemd-analyze verify complains"; }
timeout 120 systemd-analyze security --offline=true "$UNIT" >"$TMP/security.log" 2>&1 || true
exposure=$(sed -n 's/.*Overall exposure level for mcp-chat.service: \([0-9.]*\).*/\1/p' "$TMP/security.log")
[ -n "$exposure" ] || { cat "$TMP/security.log"; fail "no exposure level from systemd-analyze security"; }
awk -v e="$exposure" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e <= m) }' ||
	{ grep '✗' "$TMP/security.log" || true; fail "security exposure $exposure > $MAX_EXPOSURE"; }
say "unit verifies; security exposure $exposure (max $MAX_EXPOSURE)"

# --- Run the installed daemon as the service user ------------------------------------------------
/usr/sbin/mcp-chatd --check-config -c /etc/mcp-chat/mcp-chat.conf || fail "installed config does not check"
# What RuntimeDirectory=mcp-chat and RuntimeDirectoryMode=0750 make under systemd.
RUN="$TMP/run"
mkdir -m 0750 "$RUN"
chown mcp-chat:mcp-chat "$RUN"

# start_daemon SOCKET [launcher...]: the installed daemon on the installed config, on a free
# loopback port; sets DAEMON_PID and URL.
start_daemon() {
	local sock=$1 port=""
	shift
	: >"$TMP/daemon.out"
	env -u RUNTIME_DIRECTORY -u NOTIFY_SOCKET -u WATCHDOG_USEC -u WATCHDOG_PID "$@" \
		/usr/sbin/mcp-chatd -c /etc/mcp-chat/mcp-chat.conf --listen 127.0.0.1:0 --control-socket "$sock" \
		>"$TMP/daemon.out" 2>"$TMP/daemon.err" &
	DAEMON_PID=$!
	for _ in $(seq 100); do
		port=$(sed -n 's#^mcp-chatd listening on http://127\.0\.0\.1:\([0-9]*\)/mcp$#\1#p' "$TMP/daemon.out")
		[ -n "$port" ] && [ -S "$sock" ] && break
		kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$TMP/daemon.err"; fail "mcp-chatd exited at start"; }
		sleep 0.1
	done
	[ -n "$port" ] && [ -S "$sock" ] || { cat "$TMP/daemon.err"; fail "mcp-chatd did not start within 10 s"; }
	URL="http://127.0.0.1:$port"
}

# stop_daemon SOCKET: SIGTERM, at most 10 s, exit status 0, socket removed.
stop_daemon() {
	local sock=$1 rc=0
	kill -TERM "$DAEMON_PID"
	for _ in $(seq 100); do
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$DAEMON_PID" 2>/dev/null && fail "mcp-chatd did not stop within 10 s of SIGTERM"
	wait "$DAEMON_PID" || rc=$?
	DAEMON_PID=""
	[ "$rc" = 0 ] || { cat "$TMP/daemon.err"; fail "mcp-chatd exited $rc on SIGTERM"; }
	[ ! -e "$sock" ] || fail "the control socket $sock is left after stop"
}

SOCK="$RUN/control.sock"
start_daemon "$SOCK" setpriv --reuid=mcp-chat --regid=mcp-chat --init-groups --inh-caps=-all --
[ "$(stat -c %U "/proc/$DAEMON_PID")" = mcp-chat ] || fail "mcp-chatd does not run as mcp-chat"
[ "$(stat -c '%a %G' "$SOCK")" = "660 mcp-chat" ] || fail "control socket is $(stat -c '%a %G' "$SOCK"), not 660 mcp-chat"
say "mcp-chatd runs as mcp-chat (pid $DAEMON_PID) at $URL"

curl -sS -m 5 -D "$TMP/init.head" -o "$TMP/init.body" -X POST "$URL/mcp" \
	-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
	-d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"packaging-test","version":"1"}}}' ||
	fail "initialize: no answer"
grep -qi '^HTTP/1.1 200' "$TMP/init.head" || { cat "$TMP/init.head"; fail "initialize: not 200"; }
grep -qi '^Mcp-Session-Id: ' "$TMP/init.head" || fail "initialize: no Mcp-Session-Id"
grep -q '"serverInfo":{"name":"mcp-chatd"' "$TMP/init.body" || { cat "$TMP/init.body"; fail "initialize: no serverInfo"; }
say "MCP initialize: 200 with a session"

timeout 10 mcpchatctl --socket "$SOCK" --timeout 5 status >"$TMP/status.out" || fail "mcpchatctl status"
grep -q '^sessions *1$' "$TMP/status.out" || { cat "$TMP/status.out"; fail "mcpchatctl status: not 1 session"; }
grep -q '^memory.rss_bytes' "$TMP/status.out" || fail "mcpchatctl status: no memory"
timeout 10 mcpchatctl --socket "$SOCK" --timeout 5 --json status >"$TMP/status.json" || fail "mcpchatctl --json status"
grep -q '"version":[[:space:]]*"' "$TMP/status.json" || { cat "$TMP/status.json"; fail "mcpchatctl --json status: no version"; }
# An administrator in the group mcp-chat is served; anyone else is not.
timeout 10 setpriv --reuid=nobody --regid=nogroup --groups=mcp-chat -- mcpchatctl --socket "$SOCK" --timeout 5 status \
	>/dev/null || fail "mcpchatctl as a member of the group mcp-chat was refused"
if timeout 10 setpriv --reuid=nobody --regid=nogroup --clear-groups -- mcpchatctl --socket "$SOCK" --timeout 5 status \
	>/dev/null 2>&1; then
	fail "mcpchatctl as nobody was served"
fi
say "mcpchatctl status works for root and the group mcp-chat, and is refused to others"

[ "$(curl -sS -m 5 "$URL/healthz")" = ok ] || fail "/healthz is not ok"
curl -sS -m 5 "$URL/metrics" >"$TMP/metrics" || fail "/metrics"
for m in mcpchat_sessions mcpchat_sessions_started_total mcpchat_requests_total mcpchat_connections; do
	grep -q "^$m " "$TMP/metrics" || fail "/metrics lacks $m"
done
grep -q '^mcpchat_sessions_started_total 1$' "$TMP/metrics" || fail "/metrics: sessions_started_total is not 1"
say "/healthz ok, /metrics has the expected series"

# The chat page is compiled into the installed binary (nothing under /usr/share to read).
curl -sS -m 5 -D "$TMP/page.head" -o "$TMP/page.body" "$URL/" || fail "GET /: no answer"
grep -qi '^HTTP/1.1 200' "$TMP/page.head" || { cat "$TMP/page.head"; fail "GET /: not 200"; }
grep -qi "^Content-Security-Policy: default-src 'self'" "$TMP/page.head" || fail "GET /: no CSP"
grep -q '<script type="module" src="/web/app.js">' "$TMP/page.body" || fail "GET /: not the page"
curl -sS -m 5 "$URL/web/app.js" | grep -q "server/discover" || fail "GET /web/app.js: not the script"
say "the chat page is served at / (and its script at /web/app.js)"

# What `systemctl reload mcp-chat` does (ExecReload=mcpchatctl reload, as the unit's user), then
# SIGHUP, which still works.
grep -qx 'ExecReload=/usr/bin/mcpchatctl reload' "$UNIT" || fail "the unit does not reload with mcpchatctl"
timeout 10 setpriv --reuid=mcp-chat --regid=mcp-chat --init-groups -- mcpchatctl --socket "$SOCK" reload \
	>"$TMP/reload.out" || { cat "$TMP/daemon.err"; fail "mcpchatctl reload of the installed config"; }
grep -qx 'configuration reloaded from /etc/mcp-chat/mcp-chat.conf' "$TMP/reload.out" || { cat "$TMP/reload.out"; fail "mcpchatctl reload: unexpected output"; }
kill -HUP "$DAEMON_PID"
sleep 0.5
kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$TMP/daemon.err"; fail "mcp-chatd died on SIGHUP"; }
[ "$(grep -c '^<5>configuration reloaded$' "$TMP/daemon.err")" = 2 ] || { cat "$TMP/daemon.err"; fail "mcpchatctl reload and SIGHUP did not both reload"; }
[ "$(curl -sS -m 5 "$URL/healthz")" = ok ] || fail "/healthz after reload"
stop_daemon "$SOCK"
say "reload (mcpchatctl and SIGHUP) kept it serving; SIGTERM stopped it with status 0"

# Started as root (by hand, outside the unit), the installed config's [server] user makes it
# switch to mcp-chat once bound.
start_daemon "$RUN/root.sock"
[ "$(stat -c %U "/proc/$DAEMON_PID")" = mcp-chat ] || fail "started as root, mcp-chatd did not switch to mcp-chat"
grep -q 'running as user mcp-chat' "$TMP/daemon.err" || fail "no 'running as user mcp-chat' in the log"
[ "$(curl -sS -m 5 "$URL/healthz")" = ok ] || fail "/healthz (started as root)"
stop_daemon "$RUN/root.sock"
say "started as root, it switches to mcp-chat"

# --- Purge ------------------------------------------------------------------------------------
timeout 300 apt-get purge -y -q -o DPkg::Lock::Timeout=120 mcp-chat >"$TMP/purge.log" 2>&1 ||
	{ cat "$TMP/purge.log"; fail "apt-get purge"; }
INSTALLED=0
if dpkg -L mcp-chat >/dev/null 2>&1; then fail "dpkg still knows mcp-chat's files"; fi
for p in /etc/mcp-chat /usr/sbin/mcp-chatd /usr/bin/mcpchatctl "$UNIT" /usr/lib/sysusers.d/mcp-chat.conf \
	/usr/lib/tmpfiles.d/mcp-chat.conf /usr/share/doc/mcp-chat /usr/share/man/man8/mcp-chatd.8.gz \
	/etc/systemd/system/multi-user.target.wants/mcp-chat.service /etc/systemd/system/mcp-chat.service \
	/var/lib/systemd/deb-systemd-helper-enabled/mcp-chat.service.dsh-also \
	/var/lib/systemd/deb-systemd-helper-masked/mcp-chat.service; do
	[ ! -e "$p" ] && [ ! -L "$p" ] || fail "$p is left after purge"
done
say "purged: no files left (the system user mcp-chat stays, as Debian policy has it)"
say "1 passed, 0 failed"
