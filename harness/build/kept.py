"""Build dirs kept by the tree they were built from: a build another command made is taken,
not made again.

`harness check` builds the base and every prefix of a series, one after another, in one
build dir. A bisection of the same series then needs prefix k again, and a warm review
every one of them. A make over a build dir last built from another tree recompiles what
the two trees differ in: for a series that changes a shared header, most of the kernel.
So after a build that passed, `keep` copies the whole build dir, with what harness knows
of it (tree/mtimes.py's manifest, build/unchanged.py's record), keyed by the worktree's
git tree id; `take`, before the next configure of that dir for a tree it does not hold,
puts a kept copy of that tree in its place. make then finds nothing to do.

The key is the git tree (what the sources are) in one build dir, whose name is already
the config and the owner (build/ccache.py: no series takes another's build, nor the
base's), in one slot (the objects' dependency files name that slot's worktree). The
toolchain and make's command line are in .config and in unchanged's record, which make
and `unchanged` check as they do for any build dir. The copies live in
builds/.harness-kept/, hidden from every sandbox with builds/ (tree/slots.py); the oldest
beyond KEEP per build dir go. A copy that fails (a full disk) is skipped: it only costs a
later build.

Input: a build dir, a git tree id. Output: whether a copy was taken. Raises nothing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from harness.proc import note
from harness.tree import slots

KEEP = 8  # per build dir: a series' base and prefixes
HELD = "kept-tree"  # in the build dir's state dir: the tree its objects were built from
STATE = ".harness-state"  # the state dir's files, inside a kept copy


def _root(build: Path) -> Path:
    return build.parent / ".harness-kept" / build.name


def held(build: Path) -> str:
    """The git tree the build dir's objects were last built from ('' when unknown)."""
    try:
        return (slots.state_dir(build) / HELD).read_text().strip()
    except OSError:
        return ""


def forget(build: Path) -> None:
    """Before make runs: until it passes, the dir holds no known tree."""
    (slots.state_dir(build) / HELD).unlink(missing_ok=True)


def hold(build: Path, tree: str) -> None:
    """After a build that passed (or was found done), from `tree`."""
    (slots.state_dir(build) / HELD).write_text(tree + "\n")


def keep(build: Path, tree: str) -> None:
    """After a build that passed, from `tree`: a copy of the dir, unless one is kept."""
    hold(build, tree)
    target = _root(build) / tree
    if target.is_dir():
        os.utime(target)
        return
    partial = target.with_name(f".{tree}.partial")
    pairs = [(build, partial), (slots.state_dir(build), partial / STATE)]
    if _copied(pairs, "build dir not kept: a later build of this tree makes it"):
        partial.rename(target)
        _evict(_root(build))


def take(build: Path, tree: str) -> bool:
    """Put the kept build of `tree` in `build`'s place, unless it holds that tree already
    or none is kept. True when a copy was taken."""
    source = _root(build) / tree
    if not tree or held(build) == tree or not source.is_dir():
        return False
    state = slots.state_dir(build)
    # Copied beside first: a copy that fails leaves the build dir as it was (make then
    # rebuilds what differs), never half of one.
    taking = build.with_name(f".{build.name}.taking")
    taking_state = state.with_name(f".{state.name}.taking")
    pairs = [(source, taking), (source / STATE, taking_state)]
    if not _copied(pairs, f"kept build of tree {tree[:12]} not taken: building"):
        return False
    shutil.rmtree(build, ignore_errors=True)
    shutil.rmtree(state, ignore_errors=True)
    taking.rename(build)
    taking_state.rename(state)
    os.utime(source)
    note(f"taking the build of tree {tree[:12]} kept in {source}: make has nothing to redo")
    return True


def _copied(pairs: list[tuple[Path, Path]], why: str) -> bool:
    """Each (from, to) dir copied whole (a build dir without its state dir copy), or none
    of them: a copy that fails (a full disk) is removed and `why` noted."""
    try:
        for source, target in pairs:
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns(STATE))
    except OSError as err:
        for _, target in pairs:
            shutil.rmtree(target, ignore_errors=True)
        note(f"{why} ({err.strerror or err})")
        return False
    return True


def _evict(root: Path) -> None:
    kept = sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime,
    )
    for old in kept[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
