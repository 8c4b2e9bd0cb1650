#!/bin/sh
# Nightly: every real bisection, the slow ones included (HARNESS_BISECT_SLOW=1), on the
# venv ci/install.sh made. Scheduled by ci/nightly-slow-bisect.gitlab-ci.yml.
# Exit: pytest's.
set -eu
cd "$(dirname "$0")/.."
py=${HARNESS_VENV:-.venv}/bin/python
[ -x "$py" ] || py=python3
HARNESS_BISECT_SLOW=1 exec "$py" -m pytest -q -m real --durations=0 tests/test_real_bisect.py
