"""Shared helpers: fixture paths and a tiny real git repository for apply tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness.cli import default_cache

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT = Path(__file__).parent.parent
# Debian's 6.12 as harness unpacked it into its cache. Tests that read it skip where it is
# not unpacked yet, but not where HARNESS_TREE_REQUIRED is set (ci/test.sh unpacks it first).
REAL_TREE = default_cache() / "trees" / "debian-6.12"
needs_real_tree = pytest.mark.skipif(
    not (REAL_TREE / "Makefile").is_file() and not os.environ.get("HARNESS_TREE_REQUIRED"),
    reason="no unpacked 6.12 tree in the harness cache",
)
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        [*GIT, "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def tiny_repo(tmp_path: Path) -> Path:
    """A two-file kernel-like repo: the base for apply/conflict tests."""
    repo = tmp_path / "repo"
    (repo / "mm").mkdir(parents=True)
    (repo / "mm/mmap.c").write_text("".join(f"int line{i};\n" for i in range(40)))
    (repo / "Makefile").write_text("obj-y += mm/\n")
    subprocess.run([*GIT, "init", "-q", str(repo)], check=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    return repo


def make_series(repo: Path, out: Path, edits: list[tuple[str, str, str]]) -> Path:
    """Commit each (file, old, new) replacement on a branch and format-patch them."""
    git(repo, "checkout", "-q", "-b", f"s{len(list(out.parent.glob('*')))}")
    for path, old, new in edits:
        target = repo / path
        text = target.read_text() if target.exists() else ""
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text.replace(old, new) if old else text + new)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-s", "-m", f"mm: change {path} {new.strip()[:20]}")
    git(repo, "format-patch", "-q", "-o", str(out), "main")
    git(repo, "checkout", "-q", "main")
    return out


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long real tests first, a long group (run on one worker) before them: pytest-xdist
    (--dist loadgroup --no-loadscope-reorder) hands the units out in this order, so the
    first two start at once, one on each worker, and the short ones fill in around them.
    (Its default reorder puts the group with the most tests first, whatever they cost.)"""
    items.sort(
        key=lambda item: (
            item.get_closest_marker("long") is None,
            item.get_closest_marker("xdist_group") is None,
        )
    )


@pytest.fixture(autouse=True)
def _unit_tests_run_unsandboxed(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unit tests run fakes (sh scripts at the vng or make seam) that write their pids to
    tmp_path, which the sandbox hides; they test the harness, not a tree's code. The
    sandbox is tested where it is turned on explicitly (test_proc_run, test_sandbox) and
    by the real tests, which run with the default (on)."""
    if request.node.get_closest_marker("real") is None:
        monkeypatch.setenv("HARNESS_SANDBOX", "0")
