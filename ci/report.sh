#!/bin/sh
# The report stage of both CI pipelines (ci/gitlab-ci.yml, ci/github/harness.yml): merge
# the test shards' run directories into one (junit.xml, results.json, summary.md), add the
# summary to GitHub's step summary, and publish: KCIDB JSON always (validated by
# kcidb-io), patchwork checks when HARNESS_PATCHWORK_URL is set (with
# HARNESS_PATCHWORK_PROJECT; the token comes from HARNESS_PATCHWORK_TOKEN or the
# credentials file, never from here).
# Usage: ci/report.sh OUT    where each shard K wrote OUT/shard-K/<run>/
# harness runs from the checkout this script is in (the trusted one: docs/ci-bot.md),
# whatever the current directory. HARNESS_PYTHON: the python with harness's dependencies
# (ci/install.sh's venv).
set -eu
out=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."
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
