"""Reuse a worktree that already holds this series on this base: no reset, no re-apply.

A warm rerun with nothing changed would otherwise reset 86k files and re-apply every patch
only to arrive where it started. After a series applied cleanly, `remember` writes
<gitdir>/harness-applied.json: the base commit, a digest of the patch mails, the HEAD
that resulted and each patch's outcome. `reuse` accepts the worktree only when
- the record names this base and this digest, and HEAD is the recorded commit (git am
  with fixed committer dates makes that commit a function of base and mails);
- no git operation is half done or holds a lock (rebase-apply/, index.lock): those go
  the reset path, whose stale-lock checks stay the only way past them;
- nothing is edited, staged or left over, checked with one stat of the tree (`clean`):
  what `git status --porcelain --ignored` shows, without a second stat of 86k files
  in mtimes.restore's refresh (Debian's packaging .gitignore ignores everything, so
  ignored files are the untracked ones).
- in a resident `harness test --loop`, that one stat is skipped while inotify has
  reported no change under the tree since a stat found it clean (tree/watch.py).
Input: a TreeSpec's commit, the worktree path, the Series (and a TreeWatch). Output: the
apply suite rebuilt from the record, or None. Writes only the record (and git's refreshed
index). Raises nothing (a bad record is no reuse).
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness import git
from harness.cases import Case, Status
from harness.intake.series import Series
from harness.tree.watch import TreeWatch
from harness.tree.worktree import PatchCase

RECORD = "harness-applied.json"


def series_digest(series: Series) -> str:
    digest = hashlib.sha256()
    for patch in series.patches:
        digest.update(f"{patch.number}\0".encode() + patch.mail + b"\0")
    return digest.hexdigest()


def gitdir(worktree: Path) -> Path | None:
    """A linked worktree's .git is a file naming its git dir; read, not asked of git."""
    try:
        text = (worktree / ".git").read_text()
    except OSError:
        return None
    return Path(text.removeprefix("gitdir:").strip()) if text.startswith("gitdir:") else None


def _head(git_dir: Path) -> str:
    try:
        return (git_dir / "HEAD").read_text().strip()
    except OSError:
        return ""


def remember(worktree: Path, base: str, series: Series, applied: Case) -> None:
    """Record a clean apply (every patch PASS); anything else leaves no record."""
    git_dir = gitdir(worktree)
    if git_dir is None or applied.status is not Status.PASS:
        return
    outcomes = [[c.name, c.message, c.properties.get("apply", "")] for c in applied.children]
    record = {
        "base": base,
        "series": series_digest(series),
        "head": _head(git_dir),
        "patches": outcomes,
    }
    tmp = git_dir / f".{RECORD}.tmp"
    tmp.write_text(json.dumps(record))
    tmp.replace(git_dir / RECORD)


def reuse(
    worktree: Path, base: str, series: Series, log: Path, watch: TreeWatch | None = None
) -> Case | None:
    """The apply suite as the record has it when the worktree is exactly that state, else None.
    With a `watch` (a resident `harness test --loop`), the git walks are skipped when inotify
    reported no change since a walk last found the tree clean. A worktree whose .git was
    rewritten is never reused (worktree.prepare_worktree makes it again)."""
    try:
        git.check_worktree(worktree)
    except git.WorktreeTampered:
        return None
    git_dir = gitdir(worktree)
    if git_dir is None:
        return None
    try:
        record = json.loads((git_dir / RECORD).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("base") != base:
        return None
    if record.get("series") != series_digest(series) or record.get("head") != _head(git_dir):
        return None
    if (git_dir / "index.lock").exists() or (git_dir / "rebase-apply").exists():
        return None
    untouched = watch is not None and watch.untouched()
    if not untouched and not _clean_watched(worktree, log, watch):
        return None
    suite = _apply_suite(record["patches"], record["head"])
    if untouched:
        suite.properties["checked"] = "no change under the tree since it was checked (inotify)"
    return suite


def _clean_watched(worktree: Path, log: Path, watch: TreeWatch | None) -> bool:
    """`clean`, with the watches armed before it starts so that its verdict can stand
    until inotify reports a change."""
    watching = watch if watch is not None and watch.arm() else None
    if watching is not None:
        watching.begin_check()
    verdict = clean(worktree, log)
    if watching is not None:
        watching.end_check(verdict)
    return verdict


def clean(worktree: Path, log: Path) -> bool:
    """Every tracked file as the index has it, the index as HEAD has it, no other file.
    `update-index --refresh` is the one stat of every tracked file: it exits 1 naming a
    file that differs and leaves the index refreshed (so mtimes.restore need not refresh
    again); a staged edit matches the index, so the index is compared with HEAD; then
    every file git does not track, ignored or not (empty dirs, as `status`, are none)."""
    checks = (
        ["update-index", "--refresh"],
        ["diff-index", "--cached", "--quiet", "HEAD"],
        ["ls-files", "--others", "--directory", "--no-empty-directory"],
    )
    # At once: each reads the index, and the refresh replaces it atomically (the others
    # see the old or the new one, which name the same files and blobs): about a third
    # faster than one after another (docs/measurements.md).
    with ThreadPoolExecutor(len(checks)) as pool:
        refreshed, staged, left = pool.map(
            lambda args: git.run(worktree, *args, log=log, timeout=300), checks
        )
    return refreshed.ok and staged.ok and left.ok and not left.output.strip()


def _apply_suite(patches: list[list[str]], head: str) -> Case:
    children: list[Case] = [
        PatchCase(name, Status.PASS, message, properties={"apply": how} if how else {})
        for name, message, how in patches
    ]
    suite = Case("apply", Status.PASS, children=children)
    suite.properties["reused"] = f"worktree already at {head[:12]}: not reset, not re-applied"
    return suite
