"""`harness test --loop`: the worktree watch (tree/watch.py), reuse with it, and the loop's
triggers and control flow (loop.py). Real inotify on tmp dirs; no kernel."""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

import pytest
from conftest import git, make_series

from harness import loop, pipeline
from harness.errors import UserError
from harness.intake import series
from harness.results.rundir import RunDir
from harness.tree import reuse, watch, worktree


def _proven(root: Path) -> watch.TreeWatch:
    tree = watch.TreeWatch(root)
    assert tree.arm()
    tree.begin_check()
    tree.end_check(clean=True)
    return tree


def _tree(tmp_path: Path) -> Path:
    (tmp_path / "t/mm/sub").mkdir(parents=True)
    (tmp_path / "t/mm/mmap.c").write_text("int x;\n")
    return tmp_path / "t"


def test_a_tree_is_untouched_only_once_a_check_proved_it_clean(tmp_path: Path) -> None:
    tree = watch.TreeWatch(_tree(tmp_path))
    assert not tree.untouched()  # never checked
    assert tree.arm()
    assert not tree.untouched()  # watched, but what changed before is unknown
    tree.begin_check()
    tree.end_check(clean=False)
    assert not tree.untouched()
    tree.begin_check()
    tree.end_check(clean=True)
    assert tree.untouched() and tree.untouched()


@pytest.mark.parametrize(
    "change", ["write", "touch", "chmod", "new file", "delete", "rename", "new dir, then a file"]
)
def test_any_change_under_the_tree_is_seen(tmp_path: Path, change: str) -> None:
    root = _tree(tmp_path)
    tree = _proven(root)
    target = root / "mm/mmap.c"
    if change == "write":
        target.write_text("int y;\n")
    elif change == "touch":
        os.utime(target, ns=(0, 0))
    elif change == "chmod":
        target.chmod(0o600)
    elif change == "new file":
        (root / "mm/sub/.tmp.config").write_text("")
    elif change == "delete":
        target.unlink()
    elif change == "rename":
        target.rename(root / "mm/mmap2.c")
    else:
        (root / "new").mkdir()
        assert not tree.untouched()
        tree.begin_check()
        tree.end_check(clean=True)  # a check saw the empty dir: proven again
        (root / "new/file.c").write_text("")  # inside the dir watched since it appeared
    assert not tree.untouched()


def test_a_change_while_the_check_runs_proves_nothing(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    tree = watch.TreeWatch(root)
    assert tree.arm()
    tree.begin_check()
    (root / "mm/mmap.c").write_text("edited behind the check's back\n")
    tree.end_check(clean=True)
    assert not tree.untouched()


def test_reading_the_tree_is_not_a_change(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    tree = _proven(root)
    (root / "mm/mmap.c").read_text()
    os.listdir(root / "mm")
    assert tree.untouched()


def test_without_inotify_every_run_walks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_inotify() -> None:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(watch, "INotify", no_inotify)
    tree = watch.TreeWatch(_tree(tmp_path))
    assert not tree.arm() and not tree.arm()
    assert tree.unavailable == "Too many open files"
    assert not tree.untouched()


def _series(repo: Path, out: Path) -> series.Series:
    (one,) = series.load(make_series(repo, out, [("mm/mmap.c", "int line3;", "long line3;")]))
    return one


class _Walks:
    """reuse.clean, counted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = reuse.clean

        def counted(where: Path, log: Path) -> bool:
            self.count += 1
            return real(where, log)

        monkeypatch.setattr(reuse, "clean", counted)


@pytest.mark.parametrize("mess", [None, "edited", "untracked", "stale index.lock"])
def test_a_watched_rerun_skips_the_walks_until_the_tree_changes(
    tiny_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mess: str | None
) -> None:
    one, wt = _series(tiny_repo, tmp_path / "s"), tmp_path / "wt"
    spec = worktree.TreeSpec(tiny_repo, "main", "tiny")
    watches = watch.TreeWatches()
    walks = _Walks(monkeypatch)

    def apply() -> pipeline.Case:
        run = RunDir.create(tmp_path / "out", "s", [])
        return pipeline._apply(spec, wt, one, run, watches.get(wt))[1]

    try:
        assert "reused" not in apply().properties  # applied: git wrote the tree
        assert "reused" in apply().properties and walks.count == 1  # walked: proven clean
        again = apply()
        assert "reused" in again.properties and walks.count == 1  # no walk
        assert "inotify" in again.properties["checked"]
        git_dir = reuse.gitdir(wt)
        assert git_dir is not None
        if mess == "edited":
            (wt / "Makefile").write_text("dirty")
        elif mess == "untracked":
            (wt / "mm/.tmp.config.x").write_text("left by a killed merge_config.sh")
        elif mess == "stale index.lock":
            (git_dir / "index.lock").write_text("")  # outside the tree: stat'ed every run
        last = apply()
        assert ("reused" in last.properties) is (mess is None)
        assert (wt / "Makefile").read_text() == "obj-y += mm/\n"
    finally:
        watches.close()


def test_a_change_to_the_series_is_a_rerun_once_it_settles(tmp_path: Path) -> None:
    (tmp_path / "s/tests").mkdir(parents=True)
    patch = tmp_path / "s/0001-x.patch"
    patch.write_text("v1")
    with loop.Triggers([tmp_path / "s"], io.StringIO()) as triggers:

        def edit() -> None:
            time.sleep(0.05)
            (tmp_path / "s/.0001-x.patch.swp").write_text("vim")  # not an edit by itself
            time.sleep(0.05)
            patch.write_text("v2")
            (tmp_path / "s/tests/new.sh").write_text("")

        threading.Thread(target=edit).start()
        assert triggers.wait().endswith("0001-x.patch changed")
        assert not list(triggers._inotify.read(timeout=0))  # the rest of the save: settled


def test_a_watched_file_reruns_only_for_its_own_name(tmp_path: Path) -> None:
    mbox = tmp_path / "series.mbox"
    mbox.write_text("From x")
    (tmp_path / "other.txt").write_text("")
    read, write = os.pipe()
    with os.fdopen(read) as stdin, loop.Triggers([mbox], stdin) as triggers:
        (tmp_path / "other.txt").write_text("not the mbox")
        os.write(write, b"\n")
        assert triggers.wait() == "Enter"
        mbox.write_text("From y")
        os.close(write)  # EOF on stdin: it stops being a trigger, without a busy loop
        assert triggers.wait().endswith("series.mbox changed")


class _Runs:
    """loop.test_all, recorded; each call's outcome from `outcomes` (a status or an error)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, outcomes: list[int | BaseException]):
        self.outcomes, self.watches = outcomes, []

        def fake(all_series: object, opts: pipeline.TestOptions) -> int:
            self.watches.append(opts.tree_watches)
            outcome = self.outcomes.pop(0)
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome

        monkeypatch.setattr(loop, "test_all", fake)
        monkeypatch.setattr(loop.intake, "load", lambda path: [])


class _Waits:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, stop_after: int) -> None:
        self.count = 0

        def wait(triggers: loop.Triggers) -> str:
            self.count += 1
            if self.count > stop_after:
                raise KeyboardInterrupt
            return "Enter"

        monkeypatch.setattr(loop.Triggers, "wait", wait)


def _opts(tmp_path: Path) -> pipeline.TestOptions:
    return pipeline.TestOptions(argv=[], out=tmp_path / "out", cache=tmp_path / "cache")


def test_ctrl_c_while_waiting_ends_the_loop_with_the_last_runs_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = _Runs(monkeypatch, [0, 1, 0, 1])
    _Waits(monkeypatch, stop_after=3)
    assert loop.run_loop(tmp_path, _opts(tmp_path), io.StringIO()) == 1
    assert not runs.outcomes
    assert runs.watches[0] is not None and all(w is runs.watches[0] for w in runs.watches)


def test_bad_input_stops_the_first_run_but_only_waits_in_a_later_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _Runs(monkeypatch, [UserError("series.yaml: bad")])
    _Waits(monkeypatch, stop_after=0)
    with pytest.raises(UserError):
        loop.run_loop(tmp_path, _opts(tmp_path), io.StringIO())
    _Runs(monkeypatch, [0, UserError("series.yaml: line 3: bad"), 0])
    _Waits(monkeypatch, stop_after=2)
    assert loop.run_loop(tmp_path, _opts(tmp_path), io.StringIO()) == 0
    assert "harness: series.yaml: line 3: bad" in capsys.readouterr().err


def test_ctrl_c_during_a_run_stops_the_loop_as_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _Runs(monkeypatch, [0, KeyboardInterrupt()])
    _Waits(monkeypatch, stop_after=5)
    with pytest.raises(KeyboardInterrupt):
        loop.run_loop(tmp_path, _opts(tmp_path), io.StringIO())


def test_git_writes_in_the_tree_are_seen(tmp_path: Path) -> None:
    """git checkout rewrites files by rename: the same events an editor's save makes."""
    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q")
    (root / "a").write_text("1\n")
    git(root, "add", "a")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a")
    tree = _proven(root)
    (root / "a").write_text("2\n")
    git(root, "checkout", "--", "a")
    assert not tree.untouched()


def test_reading_the_series_as_harness_does_is_not_an_edit(tmp_path: Path) -> None:
    """mailbox.mbox opens each patch rb+ (a CLOSE_WRITE with no write): not a rerun."""
    patch = tmp_path / "0001-x.patch"
    patch.write_text("From x\n")
    with loop.Triggers([tmp_path], io.StringIO()) as triggers:
        with open(patch, "rb+"):
            pass
        assert triggers._changed(triggers._inotify.read(timeout=50)) is None
