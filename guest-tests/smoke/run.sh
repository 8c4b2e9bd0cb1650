#!/bin/sh
# Smoke suite: proves boot -> guest command -> KTAP works. Run in the guest: sh run.sh [WORKLOAD...]
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
	kernel_version)
		echo "# $(uname -r) $(uname -v)"
		if [ -n "$(uname -r)" ]; then echo "ok $n $w"; else echo "not ok $n $w"; fi ;;
	thp_available)
		f=/sys/kernel/mm/transparent_hugepage/enabled
		if [ -r "$f" ]; then echo "# $f: $(cat $f)"; echo "ok $n $w"
		else echo "ok $n $w # SKIP kernel built without CONFIG_TRANSPARENT_HUGEPAGE"; fi ;;
	anon_mmap)
		./anon_mmap > /tmp/anon_mmap.ktap 2>&1; rc=$?
		sed 's/^/    /' /tmp/anon_mmap.ktap
		if [ $rc -eq 0 ] && ! grep -q '^not ok' /tmp/anon_mmap.ktap; then echo "ok $n $w"
		else echo "not ok $n $w"; fi ;;
	*)
		echo "not ok $n $w # unknown workload" ;;
	esac
	echo "# harness: end $w" > /dev/kmsg 2>/dev/null
done
