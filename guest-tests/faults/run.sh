#!/bin/sh
# Fault-injection suite for patches/fixtures/guest-faults. Each workload claims
# to pass: the harness must see the fault itself.
#   sleep: runs 600 s, so a test can stop the run (SIGTERM, SIGHUP) or kill QEMU under it.
#   oom:   allocates until the OOM killer ends the allocator (the console shows it).
#   hang:  never ends (the boot's timeout must end it).
cd "$(dirname "$0")" || exit 1
# One workload name per line: splitting on whitespace is the point.
# shellcheck disable=SC2046
[ $# -gt 0 ] || set -- $(cat workloads)
echo "KTAP version 1"
echo "1..$#"
n=0
for w in "$@"; do
	n=$((n + 1))
	echo "# harness: start $w" > /dev/kmsg 2>/dev/null
	case "$w" in
	sleep)
		sleep 600
		echo "ok $n $w" ;;
	oom)
		./oom_alloc > /tmp/oom_alloc.out 2>&1
		echo "# oom_alloc exited $? after $(tail -n 1 /tmp/oom_alloc.out)"
		echo "ok $n $w" ;;
	hang)
		while :; do sleep 3600; done ;;
	*)
		echo "not ok $n $w # unknown workload" ;;
	esac
	echo "# harness: end $w" > /dev/kmsg 2>/dev/null
done
