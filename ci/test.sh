#!/bin/sh
# The test suite: lint, types, unit tests on recorded fixtures (seconds), then the
# real end-to-end tests (apply -> build -> boot -> guest tests), which are cached
# (ccache + kept build dirs) so a warm run takes minutes.
set -eu
cd "$(dirname "$0")/.."
ruff check harness tests
ruff format --check harness
mypy harness
shellcheck -s sh ci/*.sh guest-tests/*/run.sh .ci/run
python3 -m pytest -q -m "not real" tests
python3 -m pytest -q -m real tests
