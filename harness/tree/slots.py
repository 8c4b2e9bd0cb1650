"""Worktree slots: a reusable worktree + build dirs per base, locked per run.

Reusing one worktree path per base keeps Kbuild's recorded paths stable, so a
rerun (or another series on the same base) rebuilds only the files that differ.
A second concurrent run on the same base takes the next slot.

A slot is <cache>/slots/<tag>-<n>/: its worktree `tree/` and its build dirs `builds/<key>/`.
The compiler runs in the build dir and ccache makes the tree's paths relative to it
(CCACHE_BASEDIR): `../../tree/mm/mmap.c` in every slot, so one slot's objects are hits
in every other.

Input: the cache dir, a base tag, a config key. Output: a Slot (worktree path, build dirs,
held lock). Writes <cache>/slots/<tag>-<n>.lock with the holder's pid; waits for
slot 0 when every slot is busy, and says so. exclusive(): any other cache lock (the first
unpack of a tree). Raises nothing of its own.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from harness.proc import note

MAX_SLOTS = 8


SLOTS = "slots"


@dataclass
class Slot:
    root: Path  # <cache>/slots/<tag>-<n>
    lock: IO[str]
    kept: bool = False  # held by a Keeper: a run's release leaves it held

    @property
    def worktree(self) -> Path:
        return self.root / "tree"

    def build_dir(self, config_key: str) -> Path:
        return self.root / "builds" / config_key

    def release(self) -> None:
        if not self.kept:
            self.lock.close()


class Keeper:
    """The slots a resident process (`harness test --loop`) holds between its runs: no
    other run takes its worktree while it waits, so what inotify proved clean stays its
    own and its build dirs stay warm. One slot per cache and base; `close` frees them."""

    def __init__(self) -> None:
        self.held: dict[tuple[Path, str], Slot] = {}

    def take(self, cache: Path, base_tag: str, config_key: str = "") -> Slot:
        where = (cache.resolve(), base_tag)
        if where not in self.held:
            slot = take(cache, base_tag, config_key)
            slot.kept = True
            self.held[where] = slot
        return self.held[where]

    def close(self) -> None:
        for slot in self.held.values():
            slot.lock.close()
        self.held.clear()


def take(cache: Path, base_tag: str, config_key: str = "") -> Slot:
    """The first free slot, preferring one whose build dir for `config_key` holds a built
    kernel, then one that has that build dir at all (an incremental build instead of a
    cold one)."""
    root = cache / SLOTS
    root.mkdir(parents=True, exist_ok=True)
    warm = sorted(
        (
            n
            for n in range(MAX_SLOTS)
            if config_key and _build_dir(cache, base_tag, n, config_key).is_dir()
        ),
        key=lambda n: not (_build_dir(cache, base_tag, n, config_key) / KERNEL).is_file(),
    )
    for n in warm + [n for n in range(MAX_SLOTS) if n not in warm]:
        # "a", not "w": opening must not erase the pid a busy slot's holder wrote
        lock = open(root / f"{base_tag}-{n}.lock", "a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        _record_holder(lock)
        return _made(Slot(root / f"{base_tag}-{n}", lock))
    first = root / f"{base_tag}-0.lock"
    holder = first.read_text().strip() if first.exists() else "?"
    note(
        f"all {MAX_SLOTS} slots of {base_tag} are busy (slot 0 is held by pid {holder or '?'}); "
        "waiting for it"
    )
    lock = open(first, "a")
    fcntl.flock(lock, fcntl.LOCK_EX)  # all busy: wait for the first
    _record_holder(lock)
    note(f"got slot 0 of {base_tag}")
    return _made(Slot(root / f"{base_tag}-0", lock))


def _made(slot: Slot) -> Slot:
    """A slot's dir exists once it is taken: runs keep logs there before the worktree."""
    slot.root.mkdir(exist_ok=True)
    return slot


# A build dir whose build failed or was interrupted early (a cold build stopped half way)
# is not warm: a slot whose build dir holds this is.
KERNEL = "arch/x86/boot/bzImage"


def _build_dir(cache: Path, base_tag: str, n: int, config_key: str) -> Path:
    return cache / SLOTS / f"{base_tag}-{n}" / "builds" / config_key


def state_dir(build: Path) -> Path:
    """Where harness keeps what it knows of a build dir (config stamp, build record, source
    mtimes): beside it, never in it. The tree's code writes the build dir, so a file of
    harness's there could be swapped for a link that aims harness's next write elsewhere,
    or forged. builds/.harness-state/ is hidden from the sandbox with builds/ itself."""
    where = build.parent / ".harness-state" / build.name
    where.mkdir(parents=True, exist_ok=True)
    return where


def cache_of(build: Path) -> Path:
    """The cache a slot's build dir <cache>/slots/<slot>/builds/<key> belongs to."""
    return build.parents[3]


def _record_holder(lock: IO[str]) -> None:
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()


@contextmanager
def exclusive(lock_path: Path, what: str) -> Iterator[None]:
    """Hold an flock on `lock_path` for the block; says so when another run holds it
    (the first unpack of a tree takes minutes: a second run waits instead of racing it)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            note(f"waiting for another run to finish {what} ({lock_path})")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield
