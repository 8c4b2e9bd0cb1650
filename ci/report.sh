#!/bin/sh
# The report stage of both CI pipelines (ci/gitlab-ci.yml, ci/github/harness.yml): merge
# the test shards' run directories into one (junit.xml, results.json, summary.md), add the
# summary to GitHub's step summary, and publish: KCIDB JSON always (validated by
# kcidb-io), patchwork checks when HARNESS_PATCHWORK_URL is set (its token comes from
# HARNESS_PATCHWORK_TOKEN or the credentials file, never from here).
# Usage: ci/report.sh OUT    where each shard K wrote OUT/shard-K/<run>/
# HARNESS_PYTHON: the python that has harness installed (ci/install.sh's venv).
set -eu
out=$1
set -- "$out"/shard-*/*/
if [ ! -f "$1/results.json" ]; then
	echo "report: no shard results under $out" >&2
	exit 1
fi
status=0
"${HARNESS_PYTHON:-python3}" -m harness.cli merge "$@" --out "$out/merged" || status=$?
for merged in "$out"/merged/*/; do :; done
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
	cat "$merged/summary.md" >>"$GITHUB_STEP_SUMMARY"
fi
"${HARNESS_PYTHON:-python3}" -m harness.cli publish "$merged" --kcidb "$out/kcidb.json" \
	${HARNESS_PATCHWORK_URL:+--patchwork "$HARNESS_PATCHWORK_URL"}
exit "$status"
