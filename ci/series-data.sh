#!/bin/sh
# The series a pipeline tests, taken as data from an untrusted tree (a pull or merge
# request's checkout): it must lie inside TREE, reached and made without a symbolic link,
# so that harness reads nothing but the request's own files. Prints its absolute path.
# Run from the trusted harness checkout, never from TREE (ci/github/harness.yml,
# ci/gitlab-ci.yml; docs/ci-bot.md, "What runs trusted").
# Usage: ci/series-data.sh TREE SERIES     SERIES: a path relative to TREE
set -eu
refuse() {
	echo "series-data: $1" >&2
	exit 2
}
tree=$(realpath -e "$1")
series=$(realpath -e "$tree/$2") || refuse "$2: not in the request's tree"
case $series in
"$tree"/*) ;;
*) refuse "$2: outside the request's tree" ;;
esac
[ "$series" = "$tree/${2%/}" ] || refuse "$2: reached through a symbolic link or '..'"
links=$(find "$series" -type l | head -n 3 | tr '\n' ' ')
[ -z "$links" ] || refuse "$2: holds symbolic links: $links"
echo "$series"
