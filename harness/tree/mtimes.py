"""Keep make incremental across re-applies: unchanged files get their old mtimes back.

Input: a worktree and the build dir it is built into. Output: nothing; touches mtimes.
A re-apply rewrites each patched file with a new mtime, so make would recompile
everything that includes, say, mm_types.h even when its content is what the build dir
last saw. After a build we record each tracked file's blob id and mtime; before the next
build into the same dir, every file whose blob is unchanged gets its recorded mtime back.
restore() takes the manifest away (to <build>/.harness-sources.taken) and only save(),
after make returns, puts one back: a build interrupted in between leaves none, so the
next run never restores mtimes make has not seen (it rebuilds the patched files instead).

Incremental: the manifest's first line names the worktree's git index as it was at save
(its trailing checksum; git rewrites the index whenever it writes a tracked file, and
`git update-index --refresh`, run first, whenever a file was touched). When the index is
still that one, no tracked file was rewritten: restore stats nothing in Python and save
puts the taken manifest back as it was. Otherwise save re-stats only the files whose
blob changed, and refreshes the index first so the next run finds it unchanged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from harness import git
from harness.tree import slots
from harness.tree.reuse import gitdir

MANIFEST = ".harness-sources.json"
TAKEN = ".harness-sources.taken"

Files = dict[str, list[Any]]  # path -> [blob id, mtime in ns]


def tracked_blobs(worktree: Path) -> dict[str, str]:
    """path -> blob id of every tracked file as checked out (git's index)."""
    listing = git.run(worktree, "ls-files", "-s", "-z", timeout=120)
    blobs = {}
    for entry in listing.output.split("\0"):
        meta, _, path = entry.partition("\t")
        fields = meta.split()
        if len(fields) == 3 and path:
            blobs[path] = fields[1]
    return blobs


def index_id(worktree: Path) -> str:
    """The index's trailing checksum ('' when unknown: no index, or index.skipHash's zeros)."""
    git_dir = gitdir(worktree)
    try:
        with open((git_dir or worktree / ".git") / "index", "rb") as index:
            index.seek(-20, os.SEEK_END)
            trailer = index.read(20)
    except OSError:
        return ""
    return trailer.hex() if trailer.strip(b"\0") else ""


def _refresh(worktree: Path) -> None:
    """git's own stat of every tracked file: it rewrites the index only if one changed."""
    git.run(worktree, "update-index", "-q", "--refresh", timeout=300)


def _header(path: Path) -> str:
    """The index id a manifest was saved with ('' for an old one-object manifest)."""
    try:
        with open(path, encoding="utf-8") as f:
            first = json.loads(f.readline())
    except (OSError, ValueError):
        return ""
    return first.get("index", "") if isinstance(first, dict) and "files" not in first else ""


def _files(path: Path) -> Files:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        files = json.loads(lines[-1]) if lines else {}
    except (OSError, ValueError):
        return {}
    return files if isinstance(files, dict) else {}


def save(worktree: Path, build: Path) -> None:
    """After make returns: the manifest for the next run (stats only what changed)."""
    kept = slots.state_dir(build)
    taken = kept / TAKEN
    index = index_id(worktree)
    if index and _header(taken) == index:  # nothing was rewritten since it was saved
        os.replace(taken, kept / MANIFEST)
        return
    old = _files(taken)
    if old and index:  # restore put old mtimes back: let the index see them
        _refresh(worktree)
        index = index_id(worktree)
    files: Files = {}
    for path, blob in tracked_blobs(worktree).items():
        before = old.get(path)
        if before and before[0] == blob:
            files[path] = before  # restore() gave it this mtime back
            continue
        try:
            files[path] = [blob, os.stat(os.path.join(worktree, path)).st_mtime_ns]
        except OSError:
            continue
    tmp = kept / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps({"index": index}) + "\n" + json.dumps(files))
    os.replace(tmp, kept / MANIFEST)
    taken.unlink(missing_ok=True)


def restore(worktree: Path, build: Path, refreshed: bool = False) -> int:
    """Put back old mtimes on unchanged files; returns how many were reset. Call it right
    before make, and save() after: the manifest is taken away here, before make starts.
    `refreshed`: git's index was refreshed since the tree was last touched (reuse.clean)."""
    kept = slots.state_dir(build)
    taken = kept / TAKEN
    taken.unlink(missing_ok=True)  # left by a build that was interrupted: never reused
    try:
        os.replace(kept / MANIFEST, taken)
    except OSError:
        return 0
    if not refreshed:
        _refresh(worktree)  # a file touched without git changes the index now
    index = index_id(worktree)
    if index and _header(taken) == index:
        return 0
    state = _files(taken)
    reset = 0
    for path, blob in tracked_blobs(worktree).items():
        saved = state.get(path)
        if not saved or saved[0] != blob:
            continue
        target = os.path.join(worktree, path)
        try:
            if os.stat(target).st_mtime_ns != saved[1]:
                os.utime(target, ns=(saved[1], saved[1]), follow_symlinks=False)
                reset += 1
        except OSError:
            continue
    return reset
