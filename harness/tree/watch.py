"""Know, without walking it, that nothing in a worktree changed since it was checked clean.

`harness test --loop` stays resident between runs. A rerun with nothing changed would
otherwise spend its largest share of harness time in reuse.clean's git walks: a stat of
each of the 86k tracked files and a read of its 5.7k directories. Here one inotify watch
per directory reports every write, create, delete, rename and attribute change under the
tree, by any process in any namespace, and the walks run only when one was reported.

The states: unarmed (no watches yet, or the queue overflowed) -> armed but unproven (a
change may have happened before or while the watches were added) -> proven clean (a
full `clean` check passed that started after every watch was in place and saw no event
while it ran) -> touched (an event since). Only "proven clean, and no event since" lets
a run skip the walks; everything else takes them, so a missed watch can only cost time.

Not seen by inotify, and so not by this: writes through a shared mmap of a tree file,
and changes made while the tree's filesystem was unmounted.

Input: a worktree path. Output: `untouched()`. Writes nothing. Raises nothing: without
inotify (or past the watch limit) `arm` says so, and every run walks.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from inotify_simple import INotify, flags

from harness.proc import note

# Reads and opens are not changes; everything that can alter what git would see is.
CHANGES = (
    flags.MODIFY
    | flags.ATTRIB
    | flags.CLOSE_WRITE
    | flags.MOVED_FROM
    | flags.MOVED_TO
    | flags.CREATE
    | flags.DELETE
    | flags.DELETE_SELF
    | flags.MOVE_SELF
)
# A linked worktree's .git is a file (its git dir lives elsewhere, and HEAD, locks and the
# record there are stat'ed each run by reuse.reuse); a .git dir is git's, not the tree's.
SKIPPED_DIRS = {".git"}


def watch_dirs(
    inotify: INotify, top: Path, mask: int, skipped: Callable[[str], bool]
) -> dict[int, Path]:
    """A watch on `top` and on every directory under it but those whose name is `skipped`
    (and what is under them): watch descriptor -> directory. Shared with loop.Triggers."""
    watched: dict[int, Path] = {}
    for where, dirs, _files in os.walk(top):
        dirs[:] = [d for d in dirs if not skipped(d)]
        try:
            wd = inotify.add_watch(where, mask | flags.ONLYDIR | flags.DONT_FOLLOW)
        except FileNotFoundError:
            continue  # gone since the walk listed it: its parent's watch saw that
        watched[wd] = Path(where)
    return watched


class TreeWatch:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._inotify: INotify | None = None
        self._watched: dict[int, Path] = {}
        self._proven = False  # a clean check passed with every watch in place, no event since
        self.unavailable = ""  # why inotify cannot watch this tree: every run walks it

    def arm(self) -> bool:
        """Watch every directory of the tree (once; again after an overflow). Proves nothing:
        what changed before a watch was added is for the next `clean` check to find. False,
        from then on, where inotify cannot watch it (none here, or the watch limit)."""
        if self.unavailable:
            return False
        if self._inotify is None:
            try:
                self._inotify = INotify()
                self._watch_tree(self.root)
            except OSError as err:
                self.close()
                self.unavailable = err.strerror or str(err)
                note(f"not watching {self.root} ({self.unavailable}): git checks it each run")
                return False
        return True

    def begin_check(self) -> None:
        """A `clean` check starts now: the events so far are what it will look at."""
        self._drain()
        self._proven = False

    def end_check(self, clean: bool) -> None:
        """The check found the tree clean: proven, unless something changed while it ran."""
        touched = self._drain()
        self._proven = clean and not touched and self._inotify is not None

    def untouched(self) -> bool:
        """Proven clean and no change reported since: the walks would find nothing."""
        if not self._proven or self._drain():
            self._proven = False
            return False
        return True

    def close(self) -> None:
        if self._inotify is not None:
            self._inotify.close()
        self._inotify, self._watched, self._proven = None, {}, False

    def _watch_tree(self, top: Path) -> None:
        assert self._inotify is not None
        self._watched |= watch_dirs(self._inotify, top, CHANGES, SKIPPED_DIRS.__contains__)

    def _drain(self) -> bool:
        """Read every pending event; True if any was a change. New directories are watched
        as they appear, so that a later change inside one is seen too."""
        if self._inotify is None:
            return True
        changed = False
        for event in self._inotify.read(timeout=0):
            if event.mask & flags.Q_OVERFLOW:
                self.close()  # events were lost: unarmed, so the next check walks
                return True
            if event.mask & flags.IGNORED:
                self._watched.pop(event.wd, None)  # its directory was deleted
                continue
            changed = True
            parent = self._watched.get(event.wd)
            if parent is not None and event.mask & flags.ISDIR and event.mask & flags.CREATE:
                try:
                    self._watch_tree(parent / event.name)
                except OSError:  # the watch limit: unarmed, so the next check walks
                    self.close()
                    return True
        return changed


class TreeWatches:
    """One TreeWatch per worktree a resident loop has used (a rerun may get another slot)."""

    def __init__(self) -> None:
        self._by_root: dict[Path, TreeWatch] = {}

    def get(self, root: Path) -> TreeWatch:
        return self._by_root.setdefault(root, TreeWatch(root))

    def close(self) -> None:
        for watch in self._by_root.values():
            watch.close()
        self._by_root.clear()
