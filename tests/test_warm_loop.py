"""The warm loop: a rerun with nothing changed reuses the applied worktree, the merged
.config and the mtime manifest, and each reuse is refused whenever its state is not exact."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import git, make_series

from harness import pipeline
from harness.build import config_cache
from harness.errors import EnvError
from harness.intake import series
from harness.intake.series import Series
from harness.results.rundir import RunDir
from harness.tree import mtimes, reuse, slots, worktree

OLD = 1_000_000_000 * 10**9


def _spec(repo: Path) -> worktree.TreeSpec:
    return worktree.TreeSpec(repo, "main", "tiny")


def _series(repo: Path, out: Path, new: str = "long line3;") -> Series:
    (one,) = series.load(make_series(repo, out, [("mm/mmap.c", "int line3;", new)]))
    return one


def _apply(repo: Path, where: Path, one: Series, tmp_path: Path) -> pipeline.Case:
    run = RunDir.create(tmp_path / "out", "s", [])
    _, applied = pipeline._apply(_spec(repo), where, one, run)
    return applied


def test_a_rerun_reuses_the_applied_worktree(tiny_repo: Path, tmp_path: Path) -> None:
    one = _series(tiny_repo, tmp_path / "s")
    first = _apply(tiny_repo, tmp_path / "wt", one, tmp_path)
    head = git(tmp_path / "wt", "rev-parse", "HEAD")
    again = _apply(tiny_repo, tmp_path / "wt", one, tmp_path)
    assert "reused" not in first.properties and "reused" in again.properties
    assert [c.message for c in again.children] == [c.message for c in first.children]
    assert git(tmp_path / "wt", "rev-parse", "HEAD") == head


def test_another_series_is_applied_afresh(tiny_repo: Path, tmp_path: Path) -> None:
    _apply(tiny_repo, tmp_path / "wt", _series(tiny_repo, tmp_path / "s1"), tmp_path)
    other = _series(tiny_repo, tmp_path / "s2", "short line3;")
    again = _apply(tiny_repo, tmp_path / "wt", other, tmp_path)
    assert "reused" not in again.properties
    assert "short line3;" in (tmp_path / "wt/mm/mmap.c").read_text()


def _applied_once(repo: Path, tmp_path: Path) -> tuple[Series, Path, Path]:
    """A series applied (and recorded) in tmp_path/wt; its git dir."""
    one = _series(repo, tmp_path / "s")
    wt = tmp_path / "wt"
    _apply(repo, wt, one, tmp_path)
    git_dir = reuse.gitdir(wt)
    assert git_dir is not None
    return one, wt, git_dir


@pytest.mark.parametrize("mess", ["edited", "staged", "untracked", "stale index.lock"])
def test_a_worktree_not_exactly_as_recorded_is_reset(
    tiny_repo: Path, tmp_path: Path, mess: str
) -> None:
    one, wt, git_dir = _applied_once(tiny_repo, tmp_path)
    if mess in ("edited", "staged"):
        (wt / "Makefile").write_text("dirty")
    if mess == "staged":  # the worktree matches the index; only the index is not HEAD
        git(wt, "add", "Makefile")
    elif mess == "untracked":
        (wt / ".tmp.config.x").write_text("left by a killed merge_config.sh")
    else:
        (git_dir / "index.lock").write_text("")  # left by a git that was killed
    again = _apply(tiny_repo, wt, one, tmp_path)
    assert "reused" not in again.properties
    assert (wt / "Makefile").read_text() == "obj-y += mm/\n"
    assert not (wt / ".tmp.config.x").exists() and not (git_dir / "index.lock").exists()


def test_an_index_lock_a_live_git_holds_still_stops_the_run(
    tiny_repo: Path, tmp_path: Path
) -> None:
    one, wt, git_dir = _applied_once(tiny_repo, tmp_path)
    (git_dir / "index.lock").write_text("")
    fake_git = tmp_path / "bin" / "git"  # its comm is "git", its cwd the worktree
    fake_git.parent.mkdir()
    fake_git.write_text("#!/bin/sh\nsleep 30\n")
    fake_git.chmod(0o755)
    holder = subprocess.Popen([str(fake_git)], cwd=wt)
    try:
        time.sleep(0.2)
        with pytest.raises(EnvError, match="held by git"):
            _apply(tiny_repo, wt, one, tmp_path)
    finally:
        holder.kill()
        holder.wait()


def _aged(repo: Path) -> None:
    """Files older than the index: git then notices any later touch (no racy entries)."""
    for name in ("Makefile", "mm/mmap.c"):
        os.utime(repo / name, ns=(OLD, OLD))
    git(repo, "add", "-A")


def test_an_unchanged_index_means_no_listing_and_the_manifest_back(
    tiny_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _aged(tiny_repo)
    build = tmp_path / "build"
    build.mkdir()
    mtimes.save(tiny_repo, build)
    saved = (slots.state_dir(build) / mtimes.MANIFEST).read_text()

    def listed(worktree: Path) -> dict[str, str]:
        raise AssertionError("the tree was listed although its index had not changed")

    monkeypatch.setattr(mtimes, "tracked_blobs", listed)
    assert mtimes.restore(tiny_repo, build) == 0
    assert not (slots.state_dir(build) / mtimes.MANIFEST).exists()  # taken away while make runs
    mtimes.save(tiny_repo, build)
    assert (slots.state_dir(build) / mtimes.MANIFEST).read_text() == saved


def test_a_file_touched_outside_git_gets_its_mtime_back(tiny_repo: Path, tmp_path: Path) -> None:
    _aged(tiny_repo)
    build = tmp_path / "build"
    build.mkdir()
    mtimes.save(tiny_repo, build)
    (tiny_repo / "Makefile").write_text((tiny_repo / "Makefile").read_text())
    assert mtimes.restore(tiny_repo, build) == 1
    assert (tiny_repo / "Makefile").stat().st_mtime_ns == OLD
    mtimes.save(tiny_repo, build)  # the incremental save keeps what restore put back
    assert mtimes.restore(tiny_repo, build) == 0


def test_the_reuse_check_refreshes_the_index_for_the_mtimes(
    tiny_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """reuse.clean stats the tree once; restore(refreshed=True) then skips its own stat and
    still puts back the mtime of a file touched outside git (the index saw the touch)."""
    _aged(tiny_repo)
    build = tmp_path / "build"
    build.mkdir()
    mtimes.save(tiny_repo, build)
    (tiny_repo / "Makefile").write_text((tiny_repo / "Makefile").read_text())
    assert reuse.clean(tiny_repo, tmp_path / "log")

    def no_second_stat(worktree: Path) -> None:
        raise AssertionError("the tree was stat'ed again after the reuse check")

    monkeypatch.setattr(mtimes, "_refresh", no_second_stat)
    assert mtimes.restore(tiny_repo, build, refreshed=True) == 1
    assert (tiny_repo / "Makefile").stat().st_mtime_ns == OLD


def test_the_merged_config_is_kept_until_something_it_reads_changes(
    tiny_repo: Path, tmp_path: Path
) -> None:
    (tiny_repo / "Kconfig").write_text("config MMU\n\tbool\n")
    git(tiny_repo, "add", "-A")
    fragment = tmp_path / "a.config"
    fragment.write_text("CONFIG_MMU=y\n")
    build = tmp_path / "build"
    build.mkdir()
    (build / ".config").write_text("CONFIG_MMU=y\n")
    made = config_cache.key(tiny_repo, [fragment])
    config_cache.remember(build, made)
    assert config_cache.fresh(build, config_cache.key(tiny_repo, [fragment]))
    fragment.write_text("CONFIG_MMU=y\nCONFIG_NET=y\n")  # the fragment changed
    assert not config_cache.fresh(build, config_cache.key(tiny_repo, [fragment]))
    fragment.write_text("CONFIG_MMU=y\n")
    (tiny_repo / "Kconfig").write_text("config MMU\n\tdef_bool y\n")  # the Kconfig changed
    git(tiny_repo, "add", "-A")
    assert not config_cache.fresh(build, config_cache.key(tiny_repo, [fragment]))
    (tiny_repo / "Kconfig").write_text("config MMU\n\tbool\n")
    git(tiny_repo, "add", "-A")
    (build / ".config").write_text("CONFIG_MMU=n\n")  # someone else rewrote .config
    assert not config_cache.fresh(build, config_cache.key(tiny_repo, [fragment]))


def test_a_kept_slot_stays_held_between_runs_and_is_freed_at_the_end(tmp_path: Path) -> None:
    keeper = slots.Keeper()
    first = keeper.take(tmp_path, "debian-6.12", "k1")
    first.release()  # a run's end: the loop still holds it
    assert keeper.take(tmp_path, "debian-6.12", "k2") is first
    other = slots.take(tmp_path, "debian-6.12", "k1")  # another run, meanwhile
    assert other.root != first.root
    other.release()
    keeper.close()
    again = slots.take(tmp_path, "debian-6.12", "k1")
    assert again.root == first.root
    again.release()


def test_a_worktree_git_cannot_make_is_an_apply_error_in_the_junit(
    tiny_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*_: object) -> None:
        raise EnvError("git checkout: fatal: Could not write new index file.")

    monkeypatch.setattr(worktree, "prepare_worktree", full_disk)
    one = _series(tiny_repo, tmp_path / "s")
    opts = pipeline.TestOptions([], tmp_path / "out", tmp_path / "cache", tree=tiny_repo)
    with pytest.raises(EnvError):
        pipeline.apply_stage(one, opts)
    (run_dir,) = (tmp_path / "out").iterdir()
    junit = (run_dir / "junit.xml").read_text()
    assert 'errors="1"' in junit and "Could not write new index file" in junit
    free = slots.take(tmp_path / "cache", "tiny")  # the slot was let go
    assert free.root.name.endswith("-0")
    free.release()
