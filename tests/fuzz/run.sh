#!/bin/bash
# Builds the libFuzzer harnesses (clang, ASan+UBSan) in their own build directory, replays the
# regression inputs, fuzzes each harness for a bounded time from a copy of its seed corpus,
# then replays what it found with leak detection. Exits non-zero if anything crashed, leaked
# or timed out.
#
#   tests/fuzz/run.sh [--seconds N | --runs N] [--only h1,h2] [--merge] [--build DIR]
#                     [--src DIR] [--leaks-while-fuzzing] [--no-build]
#
#   --seconds N   fuzzing time per harness (-max_total_time; default 20)
#   --runs N      a number of executions per harness instead (-runs)
#   --only LIST   comma-separated harness names (fuzz_http_mcp,fuzz_sse_resume,fuzz_ctl,
#                 fuzz_config,fuzz_redis_reply); default all
#   --merge       merge new inputs into the tracked corpus (tests/fuzz/corpus/<harness>)
#   --build DIR   build directory (default <src>/build-fuzz)
#   --src DIR     source tree (default: this checkout; e.g. a snapshot from tools/snapshot.sh)
#   --leaks-while-fuzzing  LeakSanitizer after every input that allocates more than it
#                 frees (much slower: the harnesses keep a server across inputs); by default
#                 leaks are checked by replaying the final corpus
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
seconds=20
runs=
only=
merge=0
build=
leak_fuzz=0
do_build=1
all="fuzz_http_mcp fuzz_sse_resume fuzz_ctl fuzz_config fuzz_redis_reply"

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=$2; shift ;;
	--seconds=*) seconds=${1#*=} ;;
	--runs) runs=$2; shift ;;
	--runs=*) runs=${1#*=} ;;
	-max_total_time=*) seconds=${1#*=} ;;
	--only) only=$2; shift ;;
	--only=*) only=${1#*=} ;;
	--merge) merge=1 ;;
	--build) build=$2; shift ;;
	--src) src=$(cd "$2" && pwd); shift ;;
	--leaks-while-fuzzing) leak_fuzz=1 ;;
	--no-build) do_build=0 ;;
	-h|--help) usage ;;
	*) echo "run.sh: unknown option $1" >&2; usage ;;
	esac
	shift
done
fuzz_dir=$src/tests/fuzz
build=${build:-$src/build-fuzz}
harnesses=${only//,/ }
harnesses=${harnesses:-$all}

max_len() {
	case $1 in
	fuzz_http_mcp) echo 16384 ;;
	fuzz_ctl) echo 8192 ;;
	*) echo 4096 ;;
	esac
}

if [ $do_build = 1 ]; then
	mkdir -p "$build"
	CC=clang cmake -S "$src" -B "$build" -DMCPCHAT_FUZZ=ON -DMCPCHAT_TESTS=OFF \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/fuzz-configure.log" 2>&1 \
		|| { cat "$build/fuzz-configure.log"; exit 1; }
	# shellcheck disable=SC2086
	cmake --build "$build" -j"$(nproc)" --target $harnesses >"$build/fuzz-build.log" 2>&1 \
		|| { tail -40 "$build/fuzz-build.log"; exit 1; }
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
common=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
failed=0
total_execs=0
summary=()

# Every regression input once, with leak detection.
replay_regressions() {
	local h=$1 bin=$2 dir=$fuzz_dir/regressions/$1 files
	files=$(find "$dir" -type f 2>/dev/null | sort)
	[ -z "$files" ] && return 0
	# shellcheck disable=SC2086
	if ! env -u FZ_NO_UTF8_CHECK "$bin" "${common[@]}" -detect_leaks=1 $files \
		>"$work/regressions.log" 2>&1; then
		echo "FAIL $h: a regression input fails again (see $work/regressions.log)"
		grep -a -m3 "ERROR\|FUZZ CHECK\|SUMMARY" "$work/regressions.log"
		return 1
	fi
	echo "ok   $h: $(echo "$files" | wc -l) regression inputs pass"
}

stat_of() { grep -a "^stat::$1:" "$2" | tail -1 | awk '{print $2}'; }
cov_of() { grep -a -o "$1: [0-9]*" "$2" | tail -1 | awk '{print $2}'; }

fuzz_one() {
	local h=$1 bin=$2 limit dict=()
	rm -rf "$work/corpus" "$work/artifacts"
	mkdir -p "$work/corpus" "$work/artifacts"
	# Every harness has a tracked seed corpus: fuzzing from nothing would pass, but prove little.
	cp "$fuzz_dir/corpus/$h"/* "$work/corpus/" || { echo "FAIL $h: no seed corpus in $fuzz_dir/corpus/$h"; return 1; }
	[ -f "$fuzz_dir/$h.dict" ] && dict=(-dict="$fuzz_dir/$h.dict")
	if [ -n "$runs" ]; then limit=(-runs="$runs"); else limit=(-max_total_time="$seconds"); fi
	"$bin" "${common[@]}" "${limit[@]}" "${dict[@]}" -max_len="$(max_len "$h")" \
		-detect_leaks=$leak_fuzz -artifact_prefix="$work/artifacts/" "$work/corpus" \
		>"$work/fuzz.log" 2>&1
	return $?
}

check_leaks() {
	local h=$1 bin=$2
	"$bin" "${common[@]}" -runs=0 -detect_leaks=1 -artifact_prefix="$work/artifacts/" \
		"$work/corpus" >"$work/leaks.log" 2>&1
}

merge_back() {
	local h=$1 bin=$2
	"$bin" -merge=1 -timeout=10 -rss_limit_mb=2048 -detect_leaks=0 \
		"$fuzz_dir/corpus/$h" "$work/corpus" >"$work/merge.log" 2>&1 \
		&& echo "     $h: merged into tests/fuzz/corpus/$h"
}

for h in $harnesses; do
	bin=$build/tests/fuzz/$h
	work=$build/fuzz-work/$h
	mkdir -p "$work"
	[ -x "$bin" ] || { echo "FAIL $h: $bin is missing"; failed=1; continue; }
	reg_ok=1
	replay_regressions "$h" "$bin" || { failed=1; reg_ok=0; }
	fuzz_one "$h" "$bin"
	rc=$?
	execs=$(stat_of number_of_executed_units "$work/fuzz.log")
	eps=$(stat_of average_exec_per_sec "$work/fuzz.log")
	cov=$(cov_of cov "$work/fuzz.log")
	ft=$(cov_of ft "$work/fuzz.log")
	status=ok
	if [ $rc -eq 0 ] && [ "${execs:-0}" -eq 0 ]; then
		# A harness that ran no input "passes" without testing anything.
		status="FAIL (no input was executed, see $work/fuzz.log)"
		failed=1
	elif [ $rc -ne 0 ]; then
		status="FAIL (exit $rc)"
		failed=1
		grep -a -m5 "ERROR\|FUZZ CHECK\|SUMMARY\|Test unit written" "$work/fuzz.log"
	elif ! check_leaks "$h" "$bin"; then
		status="FAIL (leak or crash on corpus replay, see $work/leaks.log)"
		failed=1
		grep -a -m5 "ERROR\|SUMMARY\|Test unit written" "$work/leaks.log"
	fi
	[ $reg_ok = 0 ] && status="$status; FAIL (regression inputs)"
	[ $merge = 1 ] && [ $rc -eq 0 ] && merge_back "$h" "$bin"
	total_execs=$((total_execs + ${execs:-0}))
	summary+=("$(printf '%-16s %12s execs %9s exec/s  cov %6s  ft %7s  %s' "$h" "${execs:-?}" \
		"${eps:-?}" "${cov:-?}" "${ft:-?}" "$status")")
	echo "${summary[-1]}"
done

echo "----"
printf '%s\n' "${summary[@]}"
printf 'total            %12s execs\n' "$total_execs"
exit $failed
