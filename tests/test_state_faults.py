"""State a fault (or a second run at the same moment) could leave wrong: run dirs made
atomically, the first unpack of a tree under a lock, a run waiting for a busy slot says so."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import TypeVar

import pytest

from harness.results import rundir
from harness.results.rundir import RunDir
from harness.tree import slots, worktree

T = TypeVar("T")


def _all_at_once(work: Callable[[], T], n: int) -> tuple[list[T], list[BaseException]]:
    """`work` in n threads started together: what they returned, what they raised."""
    results: list[T] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            results.append(work())
        except BaseException as err:  # the thread's traceback is the failure
            errors.append(err)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


class _FixedNow:
    @staticmethod
    def now() -> object:
        import datetime

        return datetime.datetime(2026, 12, 2, 1, 2, 3)


def test_runs_started_in_the_same_second_get_their_own_dirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """exists() then mkdir() was a race: widen its window and start eight runs at once."""
    monkeypatch.setattr(rundir, "dt", SimpleNamespace(datetime=_FixedNow))
    real_exists = Path.exists

    def slow_exists(self: Path, **kw: bool) -> bool:
        answer = real_exists(self, **kw)
        time.sleep(0.05)
        return answer

    monkeypatch.setattr(Path, "exists", slow_exists)
    made, errors = _all_at_once(lambda: RunDir.create(tmp_path / "out", "demo", ["test"]).path, 8)
    assert errors == []
    assert len(set(made)) == 8
    assert {p.name for p in made} == {"demo-20261202-010203"} | {
        f"demo-20261202-010203-{n}" for n in range(2, 9)
    }


def test_the_first_unpack_of_a_tree_happens_once_under_a_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = tmp_path / "linux-source-6.12.tar.xz"
    tarball.write_bytes(b"")
    monkeypatch.setattr(worktree, "DEBIAN_TARBALL", str(tmp_path / "linux-source-{version}.tar.xz"))
    inside: list[int] = []
    unpacks: list[Path] = []

    def slow_unpack(tar: Path, repo: Path, tag: str) -> None:
        inside.append(1)
        assert len(inside) == 1, "two unpacks at once share one staging dir"
        time.sleep(0.3)
        (repo / ".git").mkdir(parents=True)
        unpacks.append(repo)
        inside.pop()

    monkeypatch.setattr(worktree, "_unpack_as_git", slow_unpack)
    found, errors = _all_at_once(lambda: worktree.debian_repo("debian:6.12", tmp_path / "cache"), 3)
    assert errors == [] and len(unpacks) == 1
    assert found == [tmp_path / "cache/trees/debian-6.12"] * 3


def test_a_run_waiting_for_a_busy_slot_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    held = [slots.take(tmp_path, "debian-6.12") for _ in range(slots.MAX_SLOTS)]
    assert len({s.worktree for s in held}) == slots.MAX_SLOTS
    got: list[slots.Slot] = []
    waiter = threading.Thread(target=lambda: got.append(slots.take(tmp_path, "debian-6.12")))
    waiter.start()
    time.sleep(0.3)
    assert got == []  # still waiting
    err = capsys.readouterr().err
    assert "all 8 slots of debian-6.12 are busy" in err and "waiting" in err
    import os

    assert f"pid {os.getpid()}" in err  # who holds it: the lock file keeps the holder's pid
    held[0].release()
    waiter.join(timeout=5)
    assert got and got[0].root.name == "debian-6.12-0"
    assert "got slot 0" in capsys.readouterr().err
    for slot in [*held[1:], *got]:
        slot.release()


def test_a_slot_with_a_built_kernel_is_preferred_to_one_whose_build_failed(tmp_path: Path) -> None:
    """When a cold build failed in slot 0, slot 0 and slot 1 both have a
    build dir for the config, and only slot 1 a kernel: a run takes slot 1, not a cold build."""
    for n in (0, 1):
        (tmp_path / f"slots/debian-6.12-{n}/builds/abc").mkdir(parents=True)
    (tmp_path / "slots/debian-6.12-1/builds/abc/arch/x86/boot").mkdir(parents=True)
    (tmp_path / "slots/debian-6.12-1/builds/abc/arch/x86/boot/bzImage").write_bytes(b"k")
    first = slots.take(tmp_path, "debian-6.12", "abc")
    assert first.root.is_dir()  # a taken slot's dir exists: a run's logs go there first
    second = slots.take(tmp_path, "debian-6.12", "abc")
    third = slots.take(tmp_path, "debian-6.12", "abc")
    assert [s.root.name for s in (first, second, third)] == [
        "debian-6.12-1",
        "debian-6.12-0",
        "debian-6.12-2",
    ]
    for slot in (first, second, third):
        slot.release()
