"""Worktree slots: a reusable worktree + build dir per base, locked per run.

Reusing one worktree path per base keeps Kbuild's recorded paths stable, so a
rerun (or another series on the same base) rebuilds only the files that differ.
A second concurrent run on the same base takes the next slot.

Input: the cache dir, a base tag, a config key. Output: a Slot (worktree path, build dir,
held lock). Writes <cache>/worktrees/<tag>-<n>.lock with the holder's pid; waits for
slot 0 when every slot is busy. Raises nothing of its own.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

MAX_SLOTS = 8


@dataclass
class Slot:
    worktree: Path
    lock: IO[str]

    def build_dir(self, config_key: str) -> Path:
        return self.worktree.parent.parent / "builds" / f"{self.worktree.name}-{config_key}"

    def release(self) -> None:
        self.lock.close()


def take(cache: Path, base_tag: str, config_key: str = "") -> Slot:
    """The first free slot, preferring one that already has a build dir for
    `config_key` (an incremental build instead of a cold one)."""
    root = cache / "worktrees"
    root.mkdir(parents=True, exist_ok=True)
    warm = [
        n
        for n in range(MAX_SLOTS)
        if config_key and (cache / "builds" / f"{base_tag}-{n}-{config_key}").is_dir()
    ]
    for n in warm + [n for n in range(MAX_SLOTS) if n not in warm]:
        lock = open(root / f"{base_tag}-{n}.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        return Slot(root / f"{base_tag}-{n}", lock)
    lock = open(root / f"{base_tag}-0.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)  # all busy: wait for the first
    return Slot(root / f"{base_tag}-0", lock)
