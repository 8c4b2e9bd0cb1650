#!/bin/sh
# Nightly: the GMEM port under debug.config (KASAN, lockdep, DEBUG_VM, DEBUG_LIST, PREEMPT,
# DMA_API_DEBUG, kmemleak) with every gmem workload in its own boot, the static review of
# the verbatim RFC, and the findings table of both. Too slow for .ci/run: the debug kernel
# is one cold build (~40 min on 2 shared cores, warm after that: then the cost is the
# boots, ~16 x 1-3 min under TCG). Scheduled by ci/nightly-gmem-debug.gitlab-ci.yml.
# Usage: ci/nightly-gmem-debug.sh [OUT]   (default results/nightly-gmem-debug)
# Exit: 0 when both runs produced results (their defects are in OUT/findings.md and the
# review mail); 2/3 (bad input, missing tool) and anything else harness itself fails with
# are passed on. A debug run that finds defects exits 1: that is the job's product, not
# its failure.
set -u
out=${1:-results/nightly-gmem-debug}
harness() { python3 -m harness.cli "$@"; }
accept() { [ "$1" -eq 0 ] || [ "$1" -eq 1 ]; }

# series.yaml's 240 s per boot is too short for the KASAN kernel under TCG: on the shared
# 2-core machine (load 12-15) the smoke boot had not started its suite after 240 s.
harness test patches/gmem-rfc-v1-6.12 --kconfig debug.config --timeout 1500 --out "$out/test"
rc=$?
accept "$rc" || exit "$rc"
# The verbatim series does not apply to 6.12 (patch 1 conflicts), so check builds nothing:
# only checkpatch and the static checkers run, on every patch.
harness check patches/gmem-rfc-v1 --base debian:6.12 --out "$out/check"
rc=$?
accept "$rc" || exit "$rc"
for test_run in "$out"/test/*/; do :; done
for check_run in "$out"/check/*/; do :; done
harness report "$check_run" --tests "$test_run" --findings-md "$out/findings.md"
