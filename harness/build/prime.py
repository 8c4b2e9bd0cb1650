"""Fill the shared ccache from the bare base, once per base commit and config.

A series' build only reads the shared ccache (build/ccache.py). Without a trusted build
of the same base and config in it, every new series would compile the whole kernel; with
one, it compiles what its patches touch and takes the rest from the cache. So the first
series build on a base and config builds the bare base first, as the trusted owner, in
its slot's worktree; every slot's compiler sees the same paths, relative to its build dir
(tree/slots.py), so the objects serve every slot. `--compare-base` and compare's base side
reuse that build dir in that slot. Not for a series that changes a shared header
(include/, arch/*/include/): its own build recompiles most of the kernel whatever the
cache holds, and priming would double it.

Input: the slot (its worktree at the bare base: the caller puts it there), the base
commit, the fragments, make's -j, a log. Output: the priming build's Case, or None when
another run did it first. Writes the slot's base build dir and
<cache>/ccache/primed/<commit>-<config key> and <commit>-config-<digest of the .config>
(a config that comes out the same is not built twice). Raises nothing of its own.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from harness.build import ccache, kconfig, make
from harness.cases import Case, Status
from harness.intake.series import Series
from harness.proc import note
from harness.tree import slots

SHARED_HEADER = re.compile(r"^(arch/[^/]+/)?include/.*\.h$")


def pays_off(series: Series) -> bool:
    """The series has patches and changes no shared header: its build, on a primed cache,
    compiles only what its patches touch."""
    touched = [f for patch in series.patches for f in patch.files]
    return bool(series.patches) and not any(SHARED_HEADER.match(f) for f in touched)


def base_build_dir(slot: slots.Slot, fragments: list[Path]) -> Path:
    return slot.build_dir(ccache.build_key(fragments, ccache.TRUSTED))


def _marker(slot: slots.Slot, fragments: list[Path], base: str) -> Path:
    cache = slots.cache_of(base_build_dir(slot, fragments))
    return cache / "ccache" / "primed" / f"{base[:12]}-{kconfig.config_key(fragments)}"


def needed(series: Series, slot: slots.Slot, fragments: list[Path], base: str) -> bool:
    """Priming pays off and no slot has been primed for this base and config."""
    return pays_off(series) and needed_at(slot, fragments, base)


def needed_at(slot: slots.Slot, fragments: list[Path], base: str) -> bool:
    return not _marker(slot, fragments, base).exists()


def prime(slot: slots.Slot, base: str, fragments: list[Path], jobs: int, log: Path) -> Case | None:
    marker = _marker(slot, fragments, base)
    with slots.exclusive(marker.parent / "lock", "priming the shared ccache"):
        if marker.exists():
            return None
        bdir = base_build_dir(slot, fragments)
        note(f"priming the shared ccache: the bare base in {bdir} (once per base and config)")
        src = slot.worktree
        configured = kconfig.configure(src, bdir, fragments, log)
        if configured.status is Status.ERROR:  # dropped options (the series adds them) are fine
            return Case("prime", Status.SKIP, f"base config failed: {configured.message}")
        # Fragments whose options the base lacks (a series' own KUnit test) configure the
        # bare base exactly as others did: its objects are in the shared ccache already.
        digest = _digest(bdir / ".config")
        same = marker.parent / f"{base[:12]}-config-{digest}"
        if digest and same.exists():
            marker.touch()
            why = "the bare base configures to a .config already primed"
            return Case("prime", Status.PASS, f"shared ccache primed: {why}")
        built = make.build(make.BuildSpec(src, bdir, jobs, owner=ccache.TRUSTED), log, "prime")
        if built.kernel is None:
            return Case("prime", Status.SKIP, f"the bare base did not build: {built.case.message}")
        marker.touch()
        if digest:
            same.touch()
        return Case("prime", Status.PASS, f"shared ccache primed: {built.case.message}")


def _digest(config: Path) -> str:
    """'' when configuring wrote no .config (then nothing is taken as primed by it)."""
    try:
        return hashlib.sha256(config.read_bytes()).hexdigest()[:16]
    except OSError:
        return ""
