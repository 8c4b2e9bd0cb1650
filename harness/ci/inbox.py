"""A public-inbox v2 archive (the format lore serves), read through its git epochs.

Input: an inbox directory (git/0.git, git/1.git, ...) and, per epoch, the last commit
already read. Output: the mails added since, with where their blobs live. Every message
is one commit that adds or replaces the blob `m`; a removal (spam) deletes `m`. Reading
the git objects needs no daemon and sees exactly what public-inbox-mda committed.
Raises UserError for a directory that is not a v2 inbox, EnvError without git.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness import git, proc
from harness.errors import EnvError, UserError

EPOCH = re.compile(r"^(\d+)\.git$")
# `git log --raw --no-abbrev`: ":100644 100644 <old> <new> M\tm"
RAW_LINE = re.compile(r"^:\d+ \d+ [0-9a-f]+ (?P<blob>[0-9a-f]+) (?P<op>[AMD])\tm$")
GIT_TIMEOUT = 300


@dataclass(frozen=True)
class Stored:
    """One message as committed: its epoch and the blob holding the raw mail."""

    epoch: str
    commit: str
    blob: str


def epochs(inbox: Path) -> list[Path]:
    """The epoch repositories in order, oldest first."""
    found = [p for p in (inbox / "git").glob("*.git") if EPOCH.match(p.name)]
    if not found:
        raise UserError(f"{inbox}: not a public-inbox v2 inbox (no git/N.git epochs)")
    return sorted(found, key=lambda p: int(EPOCH.match(p.name)[1]))  # type: ignore[index]


def added_blobs(raw_log: str, epoch: str) -> list[Stored]:
    """The messages a `git log --reverse --raw --format='C %H'` adds, in commit order."""
    found: list[Stored] = []
    commit = ""
    for line in raw_log.splitlines():
        if line.startswith("C "):
            commit = line[2:].strip()
            continue
        match = RAW_LINE.match(line)
        if match and match["op"] != "D" and commit:
            found.append(Stored(epoch, commit, match["blob"]))
    return found


def _git(epoch: Path, *args: str) -> proc.Completed:
    return git.run(epoch, *args, timeout=GIT_TIMEOUT)


def head(epoch: Path) -> str:
    """The epoch's newest commit, '' while it has none."""
    done = _git(epoch, "rev-parse", "--verify", "-q", "HEAD")
    return done.output.strip() if done.ok else ""


def new_messages(inbox: Path, seen: dict[str, str]) -> tuple[list[Stored], dict[str, str]]:
    """The messages committed after `seen` (epoch name -> last commit read), and the
    new cursor to save once they are safely recorded."""
    found: list[Stored] = []
    cursor = dict(seen)
    for epoch in epochs(inbox):
        tip = head(epoch)
        if not tip or tip == seen.get(epoch.name):
            continue
        since = seen.get(epoch.name)
        span = f"{since}..{tip}" if since else tip
        log = _git(epoch, "log", "--reverse", "--raw", "--no-abbrev", "--format=C %H", span)
        if not log.ok:
            raise EnvError(f"{epoch}: git log failed: {log.output.strip()[-200:]}")
        found += added_blobs(log.output, epoch.name)
        cursor[epoch.name] = tip
    return found, cursor


def read_message(inbox: Path, stored: Stored) -> bytes:
    done = _git(inbox / "git" / stored.epoch, "cat-file", "blob", stored.blob)
    if not done.ok:
        raise EnvError(f"{inbox}: message {stored.blob} of {stored.epoch} unreadable")
    return done.output.encode("utf-8", errors="replace")
