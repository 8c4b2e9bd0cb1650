#!/bin/sh
# GMEM RFC guest tests.  Usage (cwd = build OUT dir): sh run.sh [WORKLOAD...]
# Prints KTAP v1; each workload's subtests are nested (4 spaces).
# Env: GMEM_TIMEOUT (seconds per workload, default 150; 600 on a KASAN kernel).

cd "$(dirname "$0")" || exit 1
OUT=$(pwd)
TMP=${TMPDIR:-/tmp}/gmem-run.$$
mkdir -p "$TMP"
TIMEOUT=${GMEM_TIMEOUT:-150}
# A KASAN kernel (kconfigs/debug.config) runs the workloads 2-3x slower under TCG: there
# the subtests that keep ktest.h's default timeout (20 s) get 60 s and a workload 600 s,
# unless GMEM_SUBTEST_TIMEOUT / GMEM_TIMEOUT say otherwise (the harness sets neither).
if dmesg 2>/dev/null | grep -q 'KernelAddressSanitizer initialized'; then
	export GMEM_SUBTEST_TIMEOUT="${GMEM_SUBTEST_TIMEOUT:-60}"
	TIMEOUT=${GMEM_TIMEOUT:-600}
fi

if [ $# -gt 0 ]; then
	WL="$*"
else
	WL=$(grep -v '^#' "$OUT/workloads" | grep -v '^ *$')
fi

kmsg() { echo "$*" > /dev/kmsg 2>/dev/null; }
# the workloads log per-subtest progress to /dev/kmsg: do not ratelimit it
echo on > /proc/sys/kernel/printk_devkmsg 2>/dev/null

# kmemleak (debug.config, no automatic scan): forget what boot left, then scan after
# each workload, between its markers, so a leak report is that workload's incident.
KMEMLEAK=/sys/kernel/debug/kmemleak
[ -e "$KMEMLEAK" ] || mount -t debugfs none /sys/kernel/debug 2>/dev/null
if [ -w "$KMEMLEAK" ]; then
	echo 1 > /sys/module/kmemleak/parameters/verbose 2>/dev/null
	echo clear > "$KMEMLEAK"
else
	KMEMLEAK=""
fi

# --- load the fake peer device -------------------------------------------
GMEM_MODULE_ERR=""
if [ -e /dev/gmem_test ] || grep -q '^gmem_test ' /proc/modules 2>/dev/null; then
	:
elif [ -f "$OUT/module/gmem_test.ko" ]; then
	if ! err=$(insmod "$OUT/module/gmem_test.ko" 2>&1); then
		last=$(dmesg 2>/dev/null | grep 'gmem_test' | tail -n 1 | sed 's/^\[[^]]*\] *//')
		GMEM_MODULE_ERR="insmod gmem_test.ko failed: $(echo "$err" | tr '\n' ' ') ${last:+($last)}"
	fi
else
	why=$(cat "$OUT/module-not-built" 2>/dev/null)
	GMEM_MODULE_ERR="gmem_test.ko not built${why:+: $why}"
fi
for node in gmem_test gmem_test1; do
	if [ -n "$GMEM_MODULE_ERR" ] || [ -e /dev/$node ]; then continue; fi
	# no devtmpfs: create the node by hand
	dev=$(cat /sys/class/misc/$node/dev 2>/dev/null)
	if [ -n "$dev" ]; then
		mknod /dev/$node c "${dev%%:*}" "${dev##*:}" 2>/dev/null
	fi
	[ -e /dev/$node ] || GMEM_MODULE_ERR="/dev/$node missing after insmod"
done
export GMEM_MODULE_ERR

n=0
for w in $WL; do n=$((n + 1)); done
echo "KTAP version 1"
echo "1..$n"

i=0
for w in $WL; do
	i=$((i + 1))
	prog="$OUT/bin/$w"
	out="$TMP/$w.out"
	: > "$out"
	kmsg "# harness: start $w"
	if [ ! -x "$prog" ]; then
		echo "# no such workload program: $prog" > "$out"
		rc=1
	else
		# run in the background and poll: a workload wedged in the kernel
		# (D state) must not wedge the whole run.
		"$prog" > "$out" 2>&1 < /dev/null &
		pid=$!
		t=0
		rc=""
		while [ "$t" -lt "$TIMEOUT" ]; do
			if ! kill -0 "$pid" 2>/dev/null; then
				wait "$pid"
				rc=$?
				break
			fi
			sleep 1
			t=$((t + 1))
		done
		if [ -z "$rc" ]; then
			echo "# workload timed out after ${TIMEOUT}s (state $(awk '{print $3}' /proc/$pid/stat 2>/dev/null))" >> "$out"
			sed 's/^/# stack: /' /proc/$pid/stack >> "$out" 2>/dev/null
			kill -9 "$pid" 2>/dev/null
			rc=124
		fi
	fi
	# objects younger than 5 s are never reported: give the last ones time
	[ -n "$KMEMLEAK" ] && sleep 5 && echo scan > "$KMEMLEAK"
	kmsg "# harness: end $w"
	# nested subtest output (already KTAP), indented
	grep -v '^# skip-reason:' "$out" | sed 's/^/    /'
	case $rc in
	0) echo "ok $i $w" ;;
	4)
		reason=$(sed -n 's/^# skip-reason: //p' "$out" | head -n 1)
		echo "ok $i $w # SKIP ${reason:-skipped}"
		;;
	*)
		[ "$rc" -ge 128 ] 2>/dev/null && echo "# $w: killed by signal $((rc - 128))"
		echo "not ok $i $w"
		;;
	esac
done
rm -rf "$TMP"
exit 0
