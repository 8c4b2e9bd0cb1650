"""Fill the shared ccache from the bare base, once per base commit and config.

A series' build only reads the shared ccache (build/ccache.py). Without a trusted build
of the same base and config in it, every new series would compile the whole kernel; with
one, it compiles what its patches touch and takes the rest from the cache. So the first
series build on a base and config builds the bare base first, in a worktree of its own,
as the trusted owner; `--compare-base` and compare's base side then reuse that build.
Not for a series that changes a shared header (include/, arch/*/include/): its own build
recompiles most of the kernel whatever the cache holds, and priming would double it.

Input: the TreeSpec, the slot, the fragments, make's -j, a log. Output: the priming
build's Case, or None when it was done already. Writes <slot worktree>-base, the slot's
base build dir and <cache>/ccache/primed/<commit>-<config key>. Raises EnvError (git).
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.build import ccache, kconfig, make
from harness.cases import Case, Status
from harness.intake.series import Series
from harness.proc import note
from harness.tree import slots, worktree

SHARED_HEADER = re.compile(r"^(arch/[^/]+/)?include/.*\.h$")


def pays_off(series: Series) -> bool:
    """The series has patches and changes no shared header: its build, on a primed cache,
    compiles only what its patches touch."""
    touched = [f for patch in series.patches for f in patch.files]
    return bool(series.patches) and not any(SHARED_HEADER.match(f) for f in touched)


def base_worktree(slot: slots.Slot) -> Path:
    """The slot's worktree of the bare base: trusted builds only, never a series."""
    return slot.worktree.with_name(slot.worktree.name + "-base")


def base_build_dir(slot: slots.Slot, fragments: list[Path]) -> Path:
    return slot.build_dir(kconfig.config_key(fragments) + ccache.owner_suffix(ccache.TRUSTED))


def prime(
    tree: worktree.TreeSpec, slot: slots.Slot, fragments: list[Path], jobs: int, log: Path
) -> Case | None:
    bdir = base_build_dir(slot, fragments)
    rev = worktree.git(tree.repo, "rev-parse", f"{tree.rev}^{{commit}}").output.strip()
    primed = bdir.parent.parent / "ccache" / "primed"
    marker = primed / f"{rev[:12]}-{kconfig.config_key(fragments)}"
    if marker.exists():
        return None
    with slots.exclusive(marker.parent / "lock", "priming the shared ccache"):
        if marker.exists():
            return None
        wt = worktree.prepare_worktree(tree, base_worktree(slot), log)
        note(f"priming the shared ccache: the bare base in {bdir} (once per base and config)")
        configured = kconfig.configure(wt.path, bdir, fragments, log)
        if configured.status is Status.ERROR:  # dropped options (the series adds them) are fine
            return Case("prime", Status.SKIP, f"base config failed: {configured.message}")
        built = make.build(make.BuildSpec(wt.path, bdir, jobs, owner=ccache.TRUSTED), log, "prime")
        if built.kernel is None:
            return Case("prime", Status.SKIP, f"the bare base did not build: {built.case.message}")
        marker.touch()
        return Case("prime", Status.PASS, f"shared ccache primed: {built.case.message}")
