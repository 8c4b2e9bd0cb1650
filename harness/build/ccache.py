"""Whose ccache a build writes: a series' build never writes what the base or another
series reads.

A trusted build (the bare base tree) writes the shared store; every build reads it. A
build with a series' code in it writes only its owner's own cache, with the shared store
(and any remote storage the user configured) read-only under it. Build dirs follow the
same rule (owner_suffix): each series has its own, the base has one of its own.

Input: the build dir, the build's owner. Output: a Ccache (the dirs to bind, the
environment ccache reads). Raises nothing; `configured_remote` runs `ccache -k`.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import proc
from harness.build import kconfig
from harness.intake.series import Series
from harness.tree import slots

TRUSTED = "base"
# An untrusted owner's own cache: what its patches changed, plus copies of shared hits.
OWNER_MAX_SIZE = "2G"


def owner_of(series: Series | None) -> str:
    """The owner of a build: TRUSTED for the bare base, else one key per series (where it
    was read from and its Message-ID), so prefixes and reruns of one series share a build
    dir and a cache, and no other series or the base ever consumes them."""
    if series is None:
        return TRUSTED
    where = str(series.path.resolve())
    mail = series.message_id if series.cover or series.patches else series.base_commit
    return "s" + hashlib.sha256(f"{where}\0{mail}".encode()).hexdigest()[:12]


def owner_suffix(owner: str) -> str:
    """What a build dir's name ends with: one dir per owner for each slot and config."""
    return f"-{owner}"


def build_key(fragments: Sequence[Path], owner: str) -> str:
    """What names a build dir within a slot: its config and its owner."""
    return kconfig.config_key(list(fragments)) + owner_suffix(owner)


@dataclass(frozen=True)
class Ccache:
    local: Path  # CCACHE_DIR: written by this build
    shared: Path  # the store trusted builds write: read-only unless this one is trusted
    trusted: bool

    @property
    def writes(self) -> tuple[Path, ...]:
        return (self.local, self.shared) if self.trusted else (self.local,)

    @property
    def reads(self) -> tuple[Path, ...]:
        return () if self.trusted else (self.shared,)

    def env(self, user_remote: str) -> dict[str, str]:
        """ccache's settings: its dir, the shared store and the user's remote storage
        (read-only unless trusted), and a size bound on an owner's own cache."""
        mode = "" if self.trusted else "|read-only"
        remotes = [f"file:{self.shared}{mode}", *(r + mode for r in user_remote.split())]
        env = {"CCACHE_DIR": str(self.local), "CCACHE_REMOTE_STORAGE": " ".join(remotes)}
        if not self.trusted:
            env["CCACHE_MAXSIZE"] = OWNER_MAX_SIZE
        return env


def for_build(build: Path, owner: str) -> Ccache:
    """The caches of a slot's build dir: <cache>/ccache/{shared,<owner>}. A build with no
    owner named gets a cache of its own dir's."""
    root = slots.cache_of(build) / "ccache"
    name = owner or f"dir-{build.parent.parent.name}-{build.name}"
    return Ccache(root / name, root / "shared", owner == TRUSTED)


@functools.cache
def configured_remote() -> str:
    """The remote storage the user's ccache config or environment names ('' when none)."""
    if shutil.which("ccache") is None:
        return ""
    done = proc.run(["ccache", "-k", "remote_storage"], timeout=60)
    return done.output.strip() if done.ok else ""
