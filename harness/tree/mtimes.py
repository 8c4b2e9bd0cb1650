"""Keep make incremental across re-applies: unchanged files get their old mtimes back.

Input: a worktree and the build dir it is built into. Output: nothing; touches mtimes.
Every run resets the worktree and re-applies the series, which rewrites each patched
file with a new mtime, so make would recompile everything that includes, say,
mm_types.h even when its content is what the build dir last saw. We record each
tracked file's blob id and mtime after a build and, before the next build into the
same dir, put back the recorded mtime on every file whose blob is unchanged.
restore() consumes the manifest (removes it) and only save(), after make returns,
writes a new one: a build interrupted in between leaves none, so the next run never
restores mtimes make has not seen (it rebuilds the patched files instead).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from harness import proc

MANIFEST = ".harness-sources.json"


def tracked_blobs(worktree: Path) -> dict[str, str]:
    """path -> blob id of every tracked file as checked out (git's index)."""
    listing = proc.run(["git", "-C", str(worktree), "ls-files", "-s", "-z"], timeout=120)
    blobs = {}
    for entry in listing.output.split("\0"):
        meta, _, path = entry.partition("\t")
        fields = meta.split()
        if len(fields) == 3 and path:
            blobs[path] = fields[1]
    return blobs


def save(worktree: Path, build: Path) -> None:
    state = {}
    for path, blob in tracked_blobs(worktree).items():
        try:
            state[path] = [blob, (worktree / path).stat().st_mtime_ns]
        except OSError:
            continue
    tmp = build / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(state))
    os.replace(tmp, build / MANIFEST)


def restore(worktree: Path, build: Path) -> int:
    """Put back old mtimes on unchanged files; returns how many were reset. Call it right
    before make, and save() after: the manifest is removed here, before make starts."""
    try:
        state = json.loads((build / MANIFEST).read_text())
    except (OSError, ValueError):
        return 0
    finally:
        (build / MANIFEST).unlink(missing_ok=True)
    reset = 0
    for path, blob in tracked_blobs(worktree).items():
        saved = state.get(path)
        if not saved or saved[0] != blob:
            continue
        target = worktree / path
        try:
            if target.stat().st_mtime_ns != saved[1]:
                os.utime(target, ns=(saved[1], saved[1]), follow_symlinks=False)
                reset += 1
        except OSError:
            continue
    return reset
