#!/usr/bin/env bash
# tests/systemd.sh BUILD_DIR: the package as an appliance, under a real systemd as PID 1.
#
# Builds the .deb (tests/build-packages.sh, in BUILD_DIR/pkg as tests/packaging.sh does), makes
# a minimal Debian 12 root with mmdebstrap (systemd and the .deb's runtime libraries, nothing
# else: no procps, no dbus; cached as a tarball under /var/cache/mcp-chat-tests), boots it with
# `systemd-nspawn --boot --register=no` and checks, inside the booted system:
#   apt-get install ./mcp-chat_*.deb → the service is enabled and running (Type=notify: ready);
#   a chat through it with the official SDK client from the host (the container shares the
#   host's network namespace, so its loopback; the daemon listens on a free port, never 8808);
#   mcpchatctl rooms as root, as a member of the group mcp-chat, refused for nobody;
#   systemctl reload with a good file (exit 0, applied) and a bad one (non-zero, FILE:LINE in
#   systemctl status and the journal, running configuration kept);
#   systemctl stop tells a partner partner.disconnected (disconnected) and ends the sessions;
#   the watchdog restarts a daemon stopped with SIGSTOP; Restart=on-failure after a SIGSEGV;
#   the journal holds no message text and no session id;
#   systemd-analyze security, live, equals the offline figure and README's;
#   apt-get purge leaves nothing behind.
# Everything it starts (mmdebstrap, the container, node) is stopped by PID; the container is
# halted, then killed if it does not stop.
#
# Exits 77 (skipped) when not root or when systemd-nspawn cannot run a container here.
# MCPCHAT_TEST_CACHE overrides the cache directory.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${1:-$ROOT/build}
PKG_BUILD=${MCPCHAT_PKG_BUILD:-$BUILD_DIR/pkg}
CACHE=${MCPCHAT_TEST_CACHE:-/var/cache/mcp-chat-tests}
SUITE=bookworm
CONF=/etc/mcp-chat/mcp-chat.conf
UNIT=mcp-chat.service

say() { printf 'systemd: %s\n' "$*"; }
skip() { say "skipped: $*"; exit 77; }
fail() {
	say "FAILED: $*" >&2
	if [ -n "${LEADER:-}" ] && [ -d "/proc/$LEADER" ]; then
		say "the unit and its journal, for the record:" >&2
		in_ct systemctl status --no-pager -l "$UNIT" >&2 || true
		in_ct journalctl --no-pager -o short-monotonic -n 60 -u "$UNIT" >&2 || true
	fi
	exit 1
}

[ "$(id -u)" -eq 0 ] || skip "needs root (mmdebstrap and systemd-nspawn)"
missing=""
for t in mmdebstrap systemd-nspawn nsenter node curl flock sha256sum dpkg-deb apt-get apt-config timeout; do
	command -v "$t" >/dev/null || missing+=" $t"
done
[ -z "$missing" ] || { say "FAILED: missing tools:$missing (run scripts/dev setup)" >&2; exit 1; }
[ -d "$ROOT/tests/node_modules/@modelcontextprotocol/sdk" ] ||
	{ say "FAILED: the SDK is not installed; run (cd tests && npm ci)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/mcp-chat-systemd.XXXXXX)
RFS=$TMP/root
NSPAWN_PID=""
LEADER=""
NODE_PID=""
MM_PID=""
cleanup() {
	local rc=$?
	# timeout(1) runs node: SIGTERM to it ends node too.
	[ -n "$NODE_PID" ] && kill -TERM "$NODE_PID" 2>/dev/null && wait "$NODE_PID" 2>/dev/null || true
	[ -n "$MM_PID" ] && kill -TERM "$MM_PID" 2>/dev/null && wait "$MM_PID" 2>/dev/null || true
	stop_container || true
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Runs a command inside the booted container (all its namespaces, its root), with a clean
# environment and a time limit.
in_ct() {
	timeout 120 nsenter --target "$LEADER" --all -- /usr/bin/env -i \
		PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 \
		DEBIAN_FRONTEND=noninteractive "$@"
}

# Halts the container (SIGTERM to nspawn makes it ask systemd to power off), then kills it.
stop_container() {
	[ -n "$NSPAWN_PID" ] || return 0
	kill -TERM "$NSPAWN_PID" 2>/dev/null || true
	for _ in $(seq 150); do
		kill -0 "$NSPAWN_PID" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$NSPAWN_PID" 2>/dev/null; then
		say "the container did not halt within 30 s; killing it"
		[ -n "$LEADER" ] && kill -KILL "$LEADER" 2>/dev/null || true
		kill -KILL "$NSPAWN_PID" 2>/dev/null || true
	fi
	wait "$NSPAWN_PID" 2>/dev/null || true
	NSPAWN_PID=""
	LEADER=""
}

export DEBIAN_FRONTEND=noninteractive
T0=$SECONDS

# --- The package ------------------------------------------------------------------------------
say "building the packages in $PKG_BUILD"
"$ROOT/tests/build-packages.sh" "$PKG_BUILD" || fail "building the packages"
DEB=$(ls "$PKG_BUILD"/mcp-chat_*.deb)
[ "$(wc -w <<<"$DEB")" = 1 ] || fail "expected one .deb in $PKG_BUILD"

# --- The root file system ------------------------------------------------------------------------
# The .deb's Depends, first alternatives without versions ("systemd | systemd-sysusers" →
# systemd), plus systemd to boot: what the daemon and its scriptlets need, nothing more.
packages=$(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/[[:space:]]//g' |
	grep . | { cat; echo systemd; } | sort -u | paste -sd, -)
# Debian's archive as apt reaches it on this machine: the same mirrors, and the same proxy and
# validity settings (a snapshot mirror has an old Release date).
sources=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Identifier: Packages' 'Origin: Debian' |
	awk -v s="$SUITE" '$2 == s || $2 ~ "^" s "-" { print "deb " $0 }' | sort -u)
[ -n "$sources" ] || sources="deb http://deb.debian.org/debian $SUITE main"
aptopts=()
while IFS= read -r opt; do
	[ -n "$opt" ] && aptopts+=(--aptopt="$opt")
done < <(apt-config dump | grep -E '^Acquire::(https?::Proxy|Check-Valid-Until|Check-Date|Retries) ')
MM_ARGS=(--variant=apt --include="$packages" "${aptopts[@]}" "$SUITE")
key=$( { mmdebstrap --version; printf '%s\n' "${MM_ARGS[@]}" "$sources"; } | sha256sum | cut -c1-16)
TARBALL=$CACHE/rootfs-$SUITE-$key.tar
mkdir -p "$CACHE"
exec 9>"$CACHE/lock"
flock -w 900 9 || fail "another run holds $CACHE/lock"
if [ -s "$TARBALL" ]; then
	say "root file system from the cache: $TARBALL"
else
	say "making a minimal $SUITE root with mmdebstrap (cached as $TARBALL): $packages"
	printf '%s\n' "$sources" >"$TMP/sources.list"
	timeout 900 mmdebstrap --quiet "${MM_ARGS[@]}" "$TMP/rootfs.tar" "$TMP/sources.list" \
		>"$TMP/mmdebstrap.log" 2>&1 </dev/null &
	MM_PID=$!
	wait "$MM_PID" || { cat "$TMP/mmdebstrap.log"; MM_PID=""; fail "mmdebstrap"; }
	MM_PID=""
	mv "$TMP/rootfs.tar" "$TARBALL.new" && mv "$TARBALL.new" "$TARBALL"
	# Tarballs of other package lists or mirrors, unused for two weeks, go.
	find "$CACHE" -maxdepth 1 -name "rootfs-*.tar" ! -path "$TARBALL" -mtime +14 -delete || true
fi
flock -u 9
mkdir "$RFS"
tar -C "$RFS" -xf "$TARBALL"
touch "$TARBALL" # its mtime says it is in use (see the pruning above)
T_ROOT=$((SECONDS - T0))
say "root file system ready after ${T_ROOT} s"

# --- Boot --------------------------------------------------------------------------------------
# Can nspawn run a container at all here? If not, skip; a failure after this point is real.
timeout 60 systemd-nspawn --quiet --register=no --keep-unit -D "$RFS" /usr/bin/true \
	>"$TMP/preflight.log" 2>&1 </dev/null || { cat "$TMP/preflight.log"; skip "systemd-nspawn cannot run a container here"; }

# A port free on the host, whose network namespace (so loopback) the container shares: on
# 127.0.0.1 and, where the host has IPv6, on ::1 too ("PORT 6"; "PORT 4" without IPv6).
read -r PORT V6 < <(node -e '
const net = require("net");
const tryPort = () => { const a = net.createServer(); a.listen(0, "127.0.0.1", () => {
  const p = a.address().port; const b = net.createServer();
  b.once("error", (e) => { a.close(); if (e.code === "EADDRINUSE") tryPort(); else console.log(p, 4); });
  b.listen(p, "::1", () => { console.log(p, 6); b.close(); a.close(); }); }); };
tryPort();')
[ -n "$PORT" ] || fail "no free port"
listen="--listen 127.0.0.1:$PORT"
[ "$V6" = 6 ] && listen+=" --listen [::1]:$PORT"
URL=http://127.0.0.1:$PORT/mcp
# The test's drop-in, written before the package is installed so the service starts with it. It
# changes only where the daemon listens (a free port instead of 8808) and shortens the watchdog
# from the unit's 30 s to 5 s (and the abort timeout), so that the SIGSTOP check takes seconds.
# None of it counts in systemd-analyze security. It is removed before the purge.
mkdir -p "$RFS/etc/systemd/system/$UNIT.d"
cat >"$RFS/etc/systemd/system/$UNIT.d/50-test.conf" <<EOF
[Service]
ExecStart=
ExecStart=/usr/sbin/mcp-chatd -c $CONF $listen
WatchdogSec=5s
TimeoutAbortSec=10s
EOF
cp "$DEB" "$RFS/root/"

# --register=no: no machined; --keep-unit: no transient scope, which needs a bus to the host's
# systemd (where there is one, nspawn makes a scope as usual).
keep_unit=--keep-unit
[ -S /run/dbus/system_bus_socket ] && [ -d /run/systemd/system ] && keep_unit=""
systemd-nspawn --boot --register=no $keep_unit --quiet --console=pipe --machine="mcpchat-$$" -D "$RFS" \
	</dev/null >"$TMP/console.log" 2>&1 &
NSPAWN_PID=$!
for _ in $(seq 100); do
	LEADER=$(awk -v p="$NSPAWN_PID" '$1 == "PPid:" && $2 == p { split(FILENAME, f, "/"); print f[3]; exit }' \
		/proc/[0-9]*/status 2>/dev/null || true)
	[ -n "$LEADER" ] && [ "$(cat "/proc/$LEADER/comm" 2>/dev/null)" = systemd ] && break
	LEADER=""
	kill -0 "$NSPAWN_PID" 2>/dev/null || { cat "$TMP/console.log"; fail "systemd-nspawn exited"; }
	sleep 0.1
done
[ -n "$LEADER" ] || { cat "$TMP/console.log"; fail "no systemd in the container after 10 s"; }
# systemctl talks to PID 1 over /run/systemd/private, which appears early in the boot.
for _ in $(seq 150); do
	in_ct test -S /run/systemd/private && break
	kill -0 "$NSPAWN_PID" 2>/dev/null || { cat "$TMP/console.log"; fail "systemd-nspawn exited"; }
	sleep 0.2
done
state=$(in_ct systemctl is-system-running --wait || true)
[ "$state" = running ] || { in_ct systemctl --failed --no-pager || true; fail "the booted system is '$state', not running"; }
say "booted: systemd $(in_ct systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p') is PID 1 (host pid $LEADER); $((SECONDS - T0)) s"
in_ct test ! -e /bin/kill -a ! -e /usr/bin/kill || fail "the root has kill(1): not the minimal system the unit must work on"

# --- Install -----------------------------------------------------------------------------------
in_ct apt-get install -y -q "/root/$(basename "$DEB")" >"$TMP/install.log" 2>&1 ||
	{ cat "$TMP/install.log"; fail "apt-get install ./$(basename "$DEB")"; }
rm -f "$RFS/root/$(basename "$DEB")"
[ "$(in_ct systemctl is-enabled "$UNIT")" = enabled ] || fail "the service is not enabled"
show() { in_ct systemctl show -P "$1" "$UNIT"; }
for _ in $(seq 50); do
	[ "$(show SubState)" = running ] && break
	sleep 0.2
done
[ "$(show Type)" = notify ] || fail "Type=$(show Type)"
[ "$(show ActiveState)/$(show SubState)" = active/running ] ||
	fail "after install the service is $(show ActiveState)/$(show SubState)"
in_ct journalctl -u "$UNIT" -o cat | grep -q 'mcp-chatd 0.1.0 ready' || fail "no ready line in the journal"
[ "$(in_ct stat -c %U "/proc/$(show MainPID)")" = mcp-chat ] || fail "the daemon does not run as mcp-chat"
[ "$(curl -sS -m 5 "http://127.0.0.1:$PORT/healthz")" = ok ] || fail "/healthz from the host"
say "installed: enabled, active/running (Type=notify, ready), as mcp-chat, status \"$(show StatusText)\""

# --- A chat from the host, mcpchatctl, reload, stop ---------------------------------------------
ctl_as() { # ctl_as WHO COMMAND...: mcpchatctl on the default socket as root, a group member or nobody
	local who=$1
	shift
	case $who in
	root) in_ct mcpchatctl "$@" ;;
	member) in_ct setpriv --reuid=nobody --regid=nogroup --groups=mcp-chat -- mcpchatctl "$@" ;;
	nobody) in_ct setpriv --reuid=nobody --regid=nogroup --clear-groups -- mcpchatctl "$@" ;;
	esac
}
(cd "$ROOT/tests" && exec timeout 300 node e2e/systemd-chat.mjs "$URL" "$TMP/chat.json" 120) \
	>"$TMP/chat.log" 2>&1 &
NODE_PID=$!
for _ in $(seq 300); do
	[ -s "$TMP/chat.json" ] && break
	kill -0 "$NODE_PID" 2>/dev/null || { cat "$TMP/chat.log"; fail "the SDK chat failed"; }
	sleep 0.1
done
[ -s "$TMP/chat.json" ] || { cat "$TMP/chat.log"; fail "the SDK chat did not get going within 30 s"; }
ROOM=$(node -p 'require(process.argv[1]).room_id' "$TMP/chat.json")
say "SDK clients on the host chat through the service in room $ROOM"

for who in root member; do
	ctl_as $who rooms >"$TMP/rooms.$who" 2>&1 || { cat "$TMP/rooms.$who"; fail "mcpchatctl rooms as $who"; }
	grep -Eq "^$ROOM +queue +[0-9]+s +2 +(Ada, Bob|Bob, Ada)\$" "$TMP/rooms.$who" ||
		{ cat "$TMP/rooms.$who"; fail "mcpchatctl rooms as $who does not show the room"; }
done
# nobody does not get as far as the daemon's own check (SO_PEERCRED, tested in ctl-edges.test.mjs):
# the unit's RuntimeDirectory /run/mcp-chat is mcp-chat:mcp-chat 0750.
rc=0
ctl_as nobody rooms >"$TMP/rooms.nobody" 2>&1 || rc=$?
[ "$rc" = 3 ] && grep -q 'control.sock: Permission denied' "$TMP/rooms.nobody" ||
	{ cat "$TMP/rooms.nobody"; fail "mcpchatctl rooms as nobody: exit $rc, not 3 with Permission denied"; }
[ "$(in_ct stat -c '%a %U:%G' /run/mcp-chat)" = "750 mcp-chat:mcp-chat" ] || fail "/run/mcp-chat is $(in_ct stat -c '%a %U:%G' /run/mcp-chat)"
say "mcpchatctl rooms: served to root and to a member of mcp-chat, refused to nobody (exit 3, Permission denied)"

# Reload: a good edit is applied; a bad one fails the reload, shows FILE:LINE in systemctl
# status and the journal, and keeps the running configuration.
cp "$RFS$CONF" "$TMP/conf.orig"
pid0=$(show MainPID)
sed -i 's/^healthz *=.*/healthz = off/' "$RFS$CONF"
in_ct systemctl reload "$UNIT" >"$TMP/reload.log" 2>&1 || { cat "$TMP/reload.log"; fail "systemctl reload with a good file"; }
[ "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")" = 404 ] ||
	fail "the reloaded healthz = off was not applied"
sed -i 's/^max_sessions *=.*/max_sessions = 0/; s/^healthz *=.*/healthz = on/' "$RFS$CONF"
line=$(grep -n '^max_sessions' "$RFS$CONF" | cut -d: -f1)
if in_ct systemctl reload "$UNIT" >"$TMP/reload-bad.log" 2>&1; then fail "systemctl reload with a bad file succeeded"; fi
in_ct systemctl status --no-pager -l -n 20 "$UNIT" >"$TMP/status.log" 2>&1 || true
grep -q "$CONF:$line: bad value for max_sessions in \[limits\]" "$TMP/status.log" ||
	{ cat "$TMP/reload-bad.log" "$TMP/status.log"; fail "systemctl status does not show the bad line"; }
in_ct journalctl -u "$UNIT" -o cat >"$TMP/journal.log"
grep -q "^mcpchatctl: mcp-chatd refused reload: reload_failed: $CONF:$line: " "$TMP/journal.log" ||
	fail "the journal lacks mcpchatctl's error"
grep -q "^control: reload: $CONF:$line: .*; keeping the running configuration" "$TMP/journal.log" ||
	fail "the journal lacks the daemon's error"
[ "$(show ActiveState)/$(show SubState)" = active/running ] && [ "$(show MainPID)" = "$pid0" ] ||
	fail "a failed reload did not leave the daemon running"
[ "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")" = 404 ] ||
	fail "a failed reload changed the running configuration"
{ sed 's/^/  $ systemctl reload: /' "$TMP/reload-bad.log"
  grep -E 'reload|Control process|Reload failed' "$TMP/journal.log" | tail -n 4 | sed 's/^/  journal: /'; } || true
cp "$TMP/conf.orig" "$RFS$CONF"
in_ct systemctl reload "$UNIT" >"$TMP/reload.log" 2>&1 || { cat "$TMP/reload.log"; fail "systemctl reload of the packaged file"; }
[ "$(curl -sS -m 5 "http://127.0.0.1:$PORT/healthz")" = ok ] || fail "/healthz after reloading the packaged file"
say "systemctl reload: good file applied (exit 0); bad file refused, \"$CONF:$line: ...\" in status and journal, config kept"

# Stop: the partner hears partner.disconnected (disconnected); the sessions are gone.
in_ct systemctl stop "$UNIT" || fail "systemctl stop"
wait "$NODE_PID" || { NODE_PID=""; cat "$TMP/chat.log"; fail "the SDK clients were not told"; }
NODE_PID=""
sed 's/^/  /' "$TMP/chat.log"
[ "$(show ActiveState)" = inactive ] && [ "$(show Result)" = success ] ||
	fail "after stop: $(show ActiveState), result $(show Result)"
in_ct journalctl -u "$UNIT" -o cat | grep -q '^stopping: no new connections, ending 2 sessions$' ||
	fail "no graceful stop in the journal"
in_ct systemctl start "$UNIT" || fail "systemctl start"
for sid in $(node -p 'require(process.argv[1]).session_ids.join(" ")' "$TMP/chat.json"); do
	code=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -X POST "$URL" -H "Mcp-Session-Id: $sid" \
		-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
		-H 'MCP-Protocol-Version: 2025-11-25' -d '{"jsonrpc":"2.0","id":1,"method":"ping"}')
	[ "$code" = 404 ] || fail "a session from before the stop answers $code, not 404"
done
say "systemctl stop: the partner was told partner.disconnected (disconnected); sessions ended"

# --- Watchdog and Restart=on-failure ------------------------------------------------------------
# wait_restarted N OLD_PID: until NRestarts is N and a new daemon is running (60 s at most).
wait_restarted() {
	for _ in $(seq 300); do
		if [ "$(show NRestarts)" = "$1" ] && [ "$(show SubState)" = running ] && [ "$(show MainPID)" != "$2" ]; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}
n=$(show NRestarts)
pid=$(show MainPID)
in_ct systemctl kill --kill-who=main --signal=SIGSTOP "$UNIT" || fail "SIGSTOP"
wait_restarted $((n + 1)) "$pid" || fail "the watchdog did not restart a stopped daemon (NRestarts $(show NRestarts))"
in_ct journalctl -u "$UNIT" -o cat | grep -q 'Watchdog timeout' || fail "no watchdog timeout in the journal"
[ "$(curl -sS -m 5 "http://127.0.0.1:$PORT/healthz")" = ok ] || fail "/healthz after the watchdog restart"
say "watchdog: the daemon stopped with SIGSTOP was aborted and restarted (pid $pid → $(show MainPID))"

n=$(show NRestarts)
pid=$(show MainPID)
in_ct systemctl kill --kill-who=main --signal=SIGSEGV "$UNIT" || fail "SIGSEGV"
wait_restarted $((n + 1)) "$pid" || fail "Restart=on-failure did not restart after SIGSEGV (NRestarts $(show NRestarts))"
in_ct journalctl -u "$UNIT" -o cat | grep -q 'status=11/SEGV' || fail "no SEGV in the journal"
[ "$(curl -sS -m 5 "http://127.0.0.1:$PORT/healthz")" = ok ] || fail "/healthz after the restart"
say "Restart=on-failure: restarted after SIGSEGV (pid $pid → $(show MainPID))"

# --- Privacy: the journal --------------------------------------------------------------------------
in_ct journalctl -o cat --no-pager >"$TMP/journal.all"
in_ct journalctl -u "$UNIT" -o cat --no-pager >"$TMP/journal.unit"
[ -s "$TMP/journal.unit" ] || fail "the unit's journal is empty"
grep -q '^session [0-9a-f]\{8\} started' "$TMP/journal.unit" || fail "the journal shows no session (wrong log level?)"
marker=$(node -p 'require(process.argv[1]).marker' "$TMP/chat.json")
for secret in "$marker" $(node -p 'require(process.argv[1]).session_ids.join(" ")' "$TMP/chat.json"); do
	if grep -qF -- "$secret" "$TMP/journal.all"; then fail "the journal holds a secret: $secret"; fi
done
say "journal: $(wc -l <"$TMP/journal.unit") lines of mcp-chat, no message text, no session id"

# --- systemd-analyze security: live, offline, README --------------------------------------------
exposure() { sed -n 's/.*Overall exposure level for mcp-chat.service: \([0-9.]*\).*/\1/p'; }
live=$(in_ct systemd-analyze security --no-pager "$UNIT" 2>&1 | exposure)
offline=$(in_ct systemd-analyze security --no-pager --offline=true "/usr/lib/systemd/system/$UNIT" 2>&1 | exposure)
readme=$(grep -o 'rates its exposure \*\*[0-9.]*\*\*' "$ROOT/README.md" | grep -o '[0-9.]*' || true)
[ -n "$live" ] && [ "$live" = "$offline" ] && [ "$live" = "$readme" ] ||
	fail "systemd-analyze security: live '$live', offline '$offline', README '$readme'"
say "systemd-analyze security: $live live, as offline and in README"

# --- Purge ---------------------------------------------------------------------------------------
rm -rf "$RFS/etc/systemd/system/$UNIT.d" # the test's drop-in
in_ct apt-get purge -y -q mcp-chat >"$TMP/purge.log" 2>&1 || { cat "$TMP/purge.log"; fail "apt-get purge"; }
if in_ct dpkg-query -W mcp-chat >/dev/null 2>&1; then fail "dpkg still knows mcp-chat"; fi
[ "$(show LoadState)" = not-found ] || fail "systemd still has the unit ($(show LoadState))"
left=$(in_ct find / -xdev \( -name '*mcp-chat*' -o -name '*mcpchat*' \) -print)
[ -z "$left" ] || fail "left after purge: $left"
in_ct getent passwd mcp-chat >/dev/null || fail "the system user mcp-chat went (Debian keeps it)"
say "purged: nothing named mcp-chat or mcpchat is left (the system user stays, as Debian policy has it)"

stop_container
say "1 passed, 0 failed in $((SECONDS - T0)) s (root file system ${T_ROOT} s)"
