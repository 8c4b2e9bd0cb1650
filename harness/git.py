"""Every git command harness runs: no config can make it run a program, and a worktree's
.git must still name the repository harness made it from.

Input: a repository or worktree path and git's arguments. Output: a proc.Completed.
Raises WorktreeTampered, before git runs, when a worktree's .git is not the file harness
wrote: a symlink, a dir, or a gitdir that is not a worktree of a repository only harness's
own uid can write, or that does not point back at this worktree. The tree's code never has
the worktree writable (sandbox.POLICY), so this is the second line, not the first.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from harness import proc, sandbox
from harness.errors import HarnessError

# Each setting a repository's or the user's config could use to make a command run a
# program, overridden on the command line (which beats every config file). An empty
# diff.external would make `git diff` fail, not skip it: the repositories are harness's
# own (check_worktree), so their config sets none.
NO_PROGRAMS = (
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "core.pager=cat",
    "core.editor=true",
    "sequence.editor=true",
    "core.askPass=",
    "core.sshCommand=false",
    "core.alternateRefsCommand=",
    "credential.helper=",
    "gpg.program=false",
    "protocol.allow=never",
)
NO_PROGRAMS_ENV = {
    "GIT_PAGER": "cat",
    "GIT_EDITOR": "true",
    "GIT_SEQUENCE_EDITOR": "true",
    "GIT_TERMINAL_PROMPT": "0",
}


class WorktreeTampered(HarnessError):
    """A worktree's .git no longer names the gitdir harness made: something rewrote it."""

    def __init__(self, worktree: Path, why: str) -> None:
        super().__init__(f"{worktree}/.git was rewritten: {why}")
        self.worktree = worktree
        self.why = why


def argv(where: Path, *args: str) -> list[str]:
    """The git command line: every program-running setting off, then the command."""
    return ["git", *(a for kv in NO_PROGRAMS for a in ("-c", kv)), "-C", str(where), *args]


def run(
    where: Path,
    *args: str,
    log: Path | None = None,
    timeout: float = 600,
    env: Mapping[str, str] | None = None,
) -> proc.Completed:
    """git in `where` (a repository, a worktree, or a dir inside one), checked first."""
    check_worktree(where)
    return proc.run(
        argv(where, *args), log=log, timeout=timeout, env={**NO_PROGRAMS_ENV, **(env or {})}
    )


def check_worktree(where: Path) -> None:
    """Raise WorktreeTampered unless `where`'s .git (when it has one that is not a plain
    repository dir) is a regular file naming a gitdir of a repository that only harness's
    uid can write, whose own record points back at it."""
    dotgit = where / ".git"
    if not os.path.lexists(dotgit):
        return
    info = os.lstat(dotgit)
    if stat.S_ISDIR(info.st_mode):
        return  # a repository of its own: the cache's base repo or the user's --tree
    if not stat.S_ISREG(info.st_mode):
        raise WorktreeTampered(where, ".git is not a regular file")
    text = dotgit.read_text(errors="replace").strip()
    if not text.startswith("gitdir: "):
        raise WorktreeTampered(where, f".git says {text[:80]!r}")
    gitdir = (where / text.removeprefix("gitdir: ").strip()).resolve()
    back = gitdir / "gitdir"
    named = back.read_text(errors="replace").strip() if back.is_file() else ""
    if not named or Path(named).resolve() != dotgit.resolve():
        raise WorktreeTampered(where, f"{gitdir} is not this worktree's gitdir")
    common = gitdir.parent.parent
    if gitdir.parent.name != "worktrees" or not all(
        _ours(p) for p in (gitdir, common, common / "config")
    ):
        raise WorktreeTampered(where, f"{gitdir} is not in a repository harness made")


def _ours(path: Path) -> bool:
    """Writable by its owner only, and that owner is not the uid the tree's code runs as."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    jailed = sandbox.drop_uid(os.geteuid())
    return info.st_uid != jailed and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
