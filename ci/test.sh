#!/bin/sh
# The test suite: lint, types, unit tests on recorded fixtures (seconds), then the
# real end-to-end tests (apply -> build -> boot -> guest tests), which are cached
# (ccache + kept build dirs) so a warm run takes minutes.
# The venv ci/install.sh made ($HARNESS_VENV, default .venv), else python3 on PATH.
set -eu
cd "$(dirname "$0")/.."
py=${HARNESS_VENV:-.venv}/bin/python
[ -x "$py" ] || py=python3
"$py" -m ruff check harness tests
"$py" -m ruff format --check harness
"$py" -m mypy harness
shellcheck -s sh ci/*.sh guest-tests/*/run.sh .ci/run
# Two workers (pytest-xdist): a real test's time is mostly one guest's single TCG vCPU,
# one host core. loadgroup hands the real tests out a unit at a time (load sends each
# worker a run of them at once), in collection order (not reordered by the size of a
# group), so the long ones, collected first (tests/conftest.py), go one to each worker.
# Debian's 6.12 unpacked into the harness cache first (a few minutes, once per cache):
# the unit tests that read a real tree then run, not skip.
"$py" -c 'from harness.cli import default_cache; from harness.tree import worktree
worktree.debian_repo("debian:6.12", default_cache())'
export HARNESS_TREE_REQUIRED=1
"$py" -m pytest -q -n 2 -m "not real" tests
"$py" -m pytest -q -n 2 --dist loadgroup --no-loadscope-reorder -m real --durations=0 tests
