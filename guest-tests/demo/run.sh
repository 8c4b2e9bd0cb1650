#!/bin/sh
# Demo suite for the fixture series patches/fixtures/demo: /proc/harness_demo must
# exist, print the version=2 format of patch 2/2, and count reads.
cd "$(dirname "$0")" || exit 1
# One workload name per line: splitting on whitespace is the point.
# shellcheck disable=SC2046
[ $# -gt 0 ] || set -- $(cat workloads)
f=/proc/harness_demo
echo "KTAP version 1"
echo "1..$#"
n=0
for w in "$@"; do
	n=$((n + 1))
	echo "# harness: start $w" > /dev/kmsg 2>/dev/null
	case "$w" in
	proc_file_exists)
		if [ -e $f ]; then echo "ok $n $w"; else echo "not ok $n $w"; echo "# $f missing"; fi ;;
	proc_format_v2)
		line=$(cat $f 2>&1)
		echo "# read: $line"
		case "$line" in
		"harness demo: reads="*" version=2") echo "ok $n $w" ;;
		*) echo "not ok $n $w" ;;
		esac ;;
	read_counter)
		a=$(sed 's/.*reads=\([0-9]*\).*/\1/' $f 2>/dev/null)
		b=$(sed 's/.*reads=\([0-9]*\).*/\1/' $f 2>/dev/null)
		echo "# consecutive reads: $a then $b"
		if [ -n "$a" ] && [ "$b" = $((a + 1)) ]; then echo "ok $n $w"; else echo "not ok $n $w"; fi ;;
	*)
		echo "not ok $n $w # unknown workload" ;;
	esac
	echo "# harness: end $w" > /dev/kmsg 2>/dev/null
done
