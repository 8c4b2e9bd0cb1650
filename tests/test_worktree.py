from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import git, make_series

from harness import proc
from harness.cases import Status
from harness.errors import EnvError
from harness.intake import series
from harness.tree import worktree


def _spec(repo: Path) -> worktree.TreeSpec:
    return worktree.TreeSpec(repo, "main", "tiny")


def test_clean_series_applies_patch_by_patch(tiny_repo: Path, tmp_path: Path) -> None:
    out = make_series(
        tiny_repo,
        tmp_path / "s",
        [("mm/mmap.c", "int line3;", "long line3;"), ("mm/mmap.c", "int line30;", "long line30;")],
    )
    (s,) = series.load(out)
    wt = worktree.prepare_worktree(_spec(tiny_repo), tmp_path / "wt", tmp_path / "log")
    suite = worktree.apply_series(wt, s, tmp_path / "log")
    assert [c.status for c in suite.children] == [Status.PASS, Status.PASS]
    assert all(c.properties["apply"] == "clean" for c in suite.children)
    assert "long line30;" in (tmp_path / "wt/mm/mmap.c").read_text()
    assert git(tiny_repo, "status", "--short") == ""  # the base repo is never touched


def test_conflict_names_files_and_skips_the_rest(tiny_repo: Path, tmp_path: Path) -> None:
    out = make_series(
        tiny_repo,
        tmp_path / "s",
        [
            ("mm/mmap.c", "int line3;", "long line3;"),
            ("mm/mmap.c", "int line20;", "long line20;"),
            ("Makefile", "", "obj-y += kernel/\n"),
        ],
    )
    # The base moves under the series: patch 2's context is gone.
    (tiny_repo / "mm/mmap.c").write_text(
        (tiny_repo / "mm/mmap.c").read_text().replace("int line20;", "short line20;")
    )
    git(tiny_repo, "commit", "-q", "-am", "base moved")
    (s,) = series.load(out)
    wt = worktree.prepare_worktree(_spec(tiny_repo), tmp_path / "wt", tmp_path / "log")
    suite = worktree.apply_series(wt, s, tmp_path / "log")
    statuses = [c.status for c in suite.children]
    assert statuses == [Status.PASS, Status.FAIL, Status.SKIP]
    assert "mm/mmap.c" in suite.children[1].message
    assert "REJECTED" in suite.children[1].details
    assert suite.children[2].message.startswith("not applied: patch 2 did not apply")
    assert suite.children[2].properties["hunks_rejected"] == "0"
    conflict = suite.children[1]
    assert isinstance(conflict, worktree.PatchCase) and conflict.reason == "conflict"
    assert conflict.message.startswith("conflict; hunks rejected in: mm/mmap.c")
    assert [h.file for h in conflict.hunks if not h.applied] == ["mm/mmap.c"]


def test_worktree_is_reset_between_runs(tiny_repo: Path, tmp_path: Path) -> None:
    wt = worktree.prepare_worktree(_spec(tiny_repo), tmp_path / "wt", tmp_path / "log")
    (wt.path / "stray.c").write_text("left over")
    (wt.path / "Makefile").write_text("dirty")
    again = worktree.prepare_worktree(_spec(tiny_repo), tmp_path / "wt", tmp_path / "log")
    assert not (again.path / "stray.c").exists()
    assert (again.path / "Makefile").read_text() == "obj-y += mm/\n"


PATCH_OUTPUT = """\
patching file drivers/base/node.c
Hunk #1 succeeded at 936 (offset 8 lines).
Hunk #2 succeeded at 951 (offset 8 lines).
patching file init/main.c
Hunk #1 succeeded at 103 with fuzz 2 (offset 3 lines).
patching file mm/Makefile
Hunk #1 FAILED at 138.
1 out of 1 hunk FAILED -- saving rejects to file mm/Makefile.rej
patching file mm/gmem.c
Hunk #1 succeeded at 1.
"""


def test_parse_gnu_patch_output() -> None:
    outcomes = worktree.parse_patch_output(PATCH_OUTPUT)
    assert [o.describe() for o in outcomes] == [
        "drivers/base/node.c hunk #1: applies at 936 (offset 8)",
        "drivers/base/node.c hunk #2: applies at 951 (offset 8)",
        "init/main.c hunk #1: applies at 103 (offset 3, fuzz 2)",
        "mm/Makefile hunk #1: REJECTED (at line 138)",
        "mm/gmem.c hunk #1: applies at 1 (exact)",
    ]


def _reused_worktree(repo: Path, tmp_path: Path) -> tuple[worktree.Worktree, Path]:
    wt = worktree.prepare_worktree(_spec(repo), tmp_path / "wt", tmp_path / "log")
    (wt.path / "Makefile").write_text("dirty")
    gitdir = Path(git(wt.path, "rev-parse", "--absolute-git-dir").strip())
    return wt, gitdir / "index.lock"


def test_a_stale_index_lock_is_removed_and_the_reset_retried(
    tiny_repo: Path, tmp_path: Path
) -> None:
    wt, lock = _reused_worktree(tiny_repo, tmp_path)
    lock.write_text("")  # left by a git that was killed
    again = worktree.prepare_worktree(_spec(tiny_repo), wt.path, tmp_path / "log")
    assert not lock.exists()
    assert (again.path / "Makefile").read_text() == "obj-y += mm/\n"
    assert git(again.path, "rev-parse", "HEAD").strip() == again.base_rev


def test_an_index_lock_a_live_git_holds_is_refused(tiny_repo: Path, tmp_path: Path) -> None:
    wt, lock = _reused_worktree(tiny_repo, tmp_path)
    lock.write_text("")
    fake_git = tmp_path / "bin" / "git"  # its comm is "git", its cwd the worktree
    fake_git.parent.mkdir()
    fake_git.write_text("#!/bin/sh\nsleep 30\n")
    fake_git.chmod(0o755)
    holder = subprocess.Popen([str(fake_git)], cwd=wt.path)
    try:
        time.sleep(0.2)
        with pytest.raises(EnvError, match=f"held by git \\(pid {holder.pid}\\)"):
            worktree.prepare_worktree(_spec(tiny_repo), wt.path, tmp_path / "log")
        assert lock.exists()
    finally:
        holder.kill()
        holder.wait()


def test_a_failing_reset_step_is_an_env_error(
    tiny_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wt, _ = _reused_worktree(tiny_repo, tmp_path)
    real_git = worktree.git

    def clean_fails(repo: Path, *args: str, **kw: Any) -> proc.Completed:
        if args[:1] == ("clean",):
            return proc.Completed(("git", *args), 1, "error: cannot clean", 0.0)
        return real_git(repo, *args, **kw)

    monkeypatch.setattr(worktree, "git", clean_fails)
    with pytest.raises(EnvError, match="git clean in .* failed: error: cannot clean"):
        worktree.prepare_worktree(_spec(tiny_repo), wt.path, tmp_path / "log")


def test_a_tree_still_dirty_after_the_reset_is_never_tested(
    tiny_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wt, _ = _reused_worktree(tiny_repo, tmp_path)
    real_git = worktree.git

    def reset_does_nothing(repo: Path, *args: str, **kw: Any) -> proc.Completed:
        if args[:1] in (("checkout",), ("reset",)):
            return proc.Completed(("git", *args), 0, "", 0.0)
        return real_git(repo, *args, **kw)

    monkeypatch.setattr(worktree, "git", reset_does_nothing)
    with pytest.raises(EnvError, match="not clean after the reset: M Makefile"):
        worktree.prepare_worktree(_spec(tiny_repo), wt.path, tmp_path / "log")


def test_a_patch_the_base_already_has_is_a_fail_not_a_3_way_pass(
    tiny_repo: Path, tmp_path: Path
) -> None:
    out = make_series(tiny_repo, tmp_path / "s", [("mm/mmap.c", "int line3;", "long line3;")])
    (s,) = series.load(out)
    text = (tiny_repo / "mm/mmap.c").read_text()
    (tiny_repo / "mm/mmap.c").write_text(text.replace("int line3;", "long line3;"))
    git(tiny_repo, "commit", "-q", "-am", "the same change, merged another way")
    wt = worktree.prepare_worktree(_spec(tiny_repo), tmp_path / "wt", tmp_path / "log")
    (case,) = worktree.apply_series(wt, s, tmp_path / "log").children
    assert case.status is Status.FAIL
    assert case.message == "already applied: the base already has this change"
    assert "Patch already applied" in case.details
