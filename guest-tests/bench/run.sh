#!/bin/sh
# Kernel mm benchmarks.  Usage (cwd = build OUT dir, root): sh run.sh [BENCH...]
# Prints KTAP v1 with "# metric:", "# slab:" and "# info:" lines (README.md).
# Env: BENCH_REPS (5), BENCH_WARMUP (1), BENCH_MB (128), BENCH_TIMEOUT (120 s
# per benchmark), and the per-benchmark knobs in README.md.

cd "$(dirname "$0")" || exit 1
OUT=$(pwd)
export BENCH_REPS="${BENCH_REPS:-5}" BENCH_WARMUP="${BENCH_WARMUP:-1}" BENCH_MB="${BENCH_MB:-128}"
TIMEOUT=${BENCH_TIMEOUT:-120}

if [ $# -gt 0 ]; then
	BL="$*"
else
	BL=$(grep -v '^#' "$OUT/workloads" | grep -v '^ *$' | tr '\n' ' ')
fi

kmsg() { echo "$*" > /dev/kmsg 2>/dev/null; }
echo on > /proc/sys/kernel/printk_devkmsg 2>/dev/null

# --- a tmpfs for pf2/pf3 and our scratch files --------------------------------
is_tmpfs() { [ "$(stat -f -c %T "$1" 2>/dev/null)" = tmpfs ] && [ -w "$1" ]; }
MOUNTED=""
if is_tmpfs /dev/shm; then
	SCR=/dev/shm
elif is_tmpfs "${TMPDIR:-/tmp}"; then
	SCR=${TMPDIR:-/tmp}
else
	SCR=/dev/shm
	mkdir -p "$SCR" 2>/dev/null
	mount -t tmpfs -o mode=1777 bench-tmpfs "$SCR" 2>/dev/null && MOUNTED=$SCR
fi
TMP=$SCR/bench-run.$$
mkdir -p "$TMP" || TMP=$(mktemp -d)
export BENCH_TMPDIR="$TMP"

# --- context --------------------------------------------------------------------
THPF=/sys/kernel/mm/transparent_hugepage/enabled
thp_mode() { sed -n 's/.*\[\(.*\)\].*/\1/p' "$THPF" 2>/dev/null; }
THP_START=$(thp_mode)
set_thp() { [ -w "$THPF" ] && echo "$1" > "$THPF" 2>/dev/null; }
restore_thp() { [ -n "$THP_START" ] && set_thp "$THP_START"; }
ASLR_START=$(cat /proc/sys/kernel/randomize_va_space 2>/dev/null)
echo 0 > /proc/sys/kernel/randomize_va_space 2>/dev/null

# --- fake peer device for the peer_* benchmarks and locks' peer scenarios ----------
BENCH_GMEM_MODULE_ERR=""
case " $BL " in
*" peer_"* | *" locks "*)
	if [ -e /dev/gmem_test ] || grep -q '^gmem_test ' /proc/modules 2>/dev/null; then
		:
	elif ! grep -q ' gm_dev_create' /proc/kallsyms 2>/dev/null; then
		BENCH_GMEM_MODULE_ERR="kernel has no MAP_PEER_SHARED (no GMEM)"
	elif [ -f "$OUT/module/gmem_test.ko" ]; then
		if ! err=$(insmod "$OUT/module/gmem_test.ko" 2>&1); then
			BENCH_GMEM_MODULE_ERR="insmod gmem_test.ko failed: $(echo "$err" | tr '\n' ' ')"
		fi
	else
		BENCH_GMEM_MODULE_ERR="gmem_test.ko not built: $(cat "$OUT/module-not-built" 2>/dev/null)"
	fi
	if [ -z "$BENCH_GMEM_MODULE_ERR" ] && [ ! -e /dev/gmem_test ]; then
		dev=$(cat /sys/class/misc/gmem_test/dev 2>/dev/null)
		[ -n "$dev" ] && mknod /dev/gmem_test c "${dev%%:*}" "${dev##*:}" 2>/dev/null
		[ -e /dev/gmem_test ] || BENCH_GMEM_MODULE_ERR="/dev/gmem_test missing after insmod"
	fi
	;;
esac
export BENCH_GMEM_MODULE_ERR

n=0
for b in $BL; do n=$((n + 1)); done
echo "KTAP version 1"
echo "1..$n"
echo "# info: kernel=$(uname -r)"
echo "# info: vcpus=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)"
echo "# info: thp=${THP_START:-unavailable}"
echo "# info: aslr=$(cat /proc/sys/kernel/randomize_va_space 2>/dev/null)"
echo "# info: mem_total_kb=$(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo)"
echo "# info: clock=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)"
echo "# info: reps=$BENCH_REPS warmup=$BENCH_WARMUP mb=$BENCH_MB"

if sleep 0.1 2>/dev/null; then NAP=0.1; else NAP=1; fi
now_ms() { t=$(date +%s%N 2>/dev/null); case $t in *N|"") echo $(($(date +%s) * 1000)) ;; *) echo $((t / 1000000)) ;; esac; }

# run PROG ARGS... with the output appended to $out; returns its exit code,
# 124 if it is still running after $TIMEOUT s (then it is SIGKILLed and left)
run() {
	if [ -n "$NOPOLL" ]; then
		"$@" >> "$out" 2>&1 < /dev/null
		return
	fi
	"$@" >> "$out" 2>&1 < /dev/null &
	pid=$!
	deadline=$(($(now_ms) + TIMEOUT * 1000))
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$(now_ms)" -gt "$deadline" ]; then
			echo "# fail-reason: $1 $2 still running after ${TIMEOUT}s (state $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null))" >> "$out"
			sed 's/^/# stack: /' "/proc/$pid/stack" >> "$out" 2>/dev/null
			kill -9 "$pid" 2>/dev/null
			return 124
		fi
		sleep "$NAP"
	done
	wait "$pid"
}

# one benchmark: sets $rc (0 ok, 4 skip, else not ok)
bench() {
	B="$OUT/bin"
	case $1 in
	pf1)
		if set_thp never; then
			run "$B/faults" pf1 thp_never
		else
			echo "# fail-reason: cannot set THP mode never" >> "$out"
			return 1
		fi || return
		if set_thp always; then
			run "$B/faults" pf1 thp_always
		else
			echo "# pf1.thp_always: skipped, THP mode always not settable" >> "$out"
		fi
		;;
	pf2 | pf3) set_thp never; run "$B/faults" "$1" tmpfs ;;
	mmap1) set_thp never; run "$B/faults" mmap1 anon ;;
	fork) set_thp never; run "$B/forkb" ;;
	scale_threads) set_thp never; run "$B/scale" threads ;;
	scale_procs) set_thp never; run "$B/scale" procs ;;
	meta_anon) set_thp never; run "$B/meta" anon ;;
	# peer_*: no polling loop (it forks date/sleep): on the RFC, processes
	# that run while a peer-shared process is attached get corrupted page
	# tables (README.md); the programs time their attached child themselves
	peer_meta) set_thp never; NOPOLL=1 run "$B/meta" peer ;;
	peer_pf1) set_thp never; NOPOLL=1 run "$B/peer" pf1 ;;
	peer_devfault) set_thp never; NOPOLL=1 run "$B/peer" devfault ;;
	# the serialization pass (a CONFIG_LOCK_STAT kernel): not in `workloads`;
	# the program times out its own children
	locks)
		set_thp madvise
		# shellcheck disable=SC2086 # a list of scenarios
		NOPOLL=1 run "$B/locks" ${BENCH_LOCK_SCENARIOS:-anon4k thp shmfile mmap fork peer vmobj_munmap}
		;;
	*) echo "# fail-reason: unknown benchmark" >> "$out"; return 1 ;;
	esac
}

i=0
for b in $BL; do
	i=$((i + 1))
	out="$TMP/$b.out"
	: > "$out"
	kmsg "# harness: start $b"
	t0=$(now_ms)
	bench "$b"
	rc=$?
	t1=$(now_ms)
	restore_thp
	kmsg "# harness: end $b"
	# comment lines as they are, anything else (stray output) as a comment
	grep -v '^# skip-reason: \|^# fail-reason: ' "$out" | sed 's/^\([^#]\)/# \1/'
	sed -n 's/^# fail-reason: /# not ok: /p' "$out"
	ms=$((t1 - t0))
	printf '# elapsed: %s %d.%03d s\n' "$b" $((ms / 1000)) $((ms % 1000))
	case $rc in
	0) echo "ok $i $b" ;;
	4)
		reason=$(sed -n 's/^# skip-reason: //p' "$out" | head -n 1)
		echo "ok $i $b # SKIP ${reason:-skipped}"
		;;
	*)
		[ "$rc" -ge 128 ] 2>/dev/null && echo "# $b: killed by signal $((rc - 128))"
		echo "not ok $i $b"
		;;
	esac
done
restore_thp
[ -n "$ASLR_START" ] && echo "$ASLR_START" > /proc/sys/kernel/randomize_va_space 2>/dev/null
rm -rf "$TMP"
[ -n "$MOUNTED" ] && umount "$MOUNTED" 2>/dev/null
exit 0
