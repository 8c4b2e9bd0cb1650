"""`harness test --loop`: stay resident, and run again when what the run reads changes.

A reviewer's loop is edit, rerun, read. Started afresh each time, a warm rerun of the demo
with nothing changed spends about 0.5 s of its 5.8 s outside the build and the boot: the
interpreter, the imports, and git's walk of the 86k-file worktree (bench/bench.py). A
resident loop pays the first two once, and the walk only after inotify saw the tree
change (tree/watch.py).

A run starts again when a file under the series (its directory, or the mbox), a Kconfig
fragment directory or guest-tests/ changes, once 0.1 s passed without another change (an
editor's save is several events), or when a line is read on stdin (Enter). Ctrl-C while
waiting ends the loop with the exit status of the last run; Ctrl-C during a run stops it as
without --loop. A series edited into bad input is one line, and the loop waits for the next
change; bad input in the first run is exit status 2, as without --loop.

Input: the series path and TestOptions. Output: a run dir per run and its terminal summary.
Raises what `harness test` raises, in the first run.
"""

from __future__ import annotations

import dataclasses
import select
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from inotify_simple import INotify, flags

from harness import pipeline, progress
from harness.build.kconfig import KCONFIG_DIR
from harness.errors import UserError
from harness.intake import series as intake
from harness.results.rundir import terminal_summary
from harness.suites.guest import GUEST_TESTS
from harness.tree import slots
from harness.tree.watch import CHANGES, TreeWatches, watch_dirs

SETTLE_MS = 100  # no further change for this long: the edit is complete
# Not CLOSE_WRITE: Python's mailbox.mbox opens every patch file rb+ (intake/mail.py), so
# the run's own reading of the series would look like an edit and rerun it forever. A
# write is a MODIFY, a save by rename a MOVED_TO.
EDITS = CHANGES & ~flags.CLOSE_WRITE
EXIT_OK, EXIT_FAILED = 0, 1


def test_all(all_series: Iterable[intake.Series], opts: pipeline.TestOptions) -> int:
    """Each series through the pipeline, its summary on stdout: 1 if any failed, else 0."""
    failed = False
    for one in all_series:
        run = pipeline.test_series(one, opts)
        print(f"\n{one.name}: {one.subject}")
        terminal_summary(run)
        failed = failed or run.failed
    sys.stdout.flush()
    return EXIT_FAILED if failed else EXIT_OK


def run_loop(series_path: Path, opts: pipeline.TestOptions, stdin: TextIO = sys.stdin) -> int:
    watches, keeper = TreeWatches(), slots.Keeper()
    opts = dataclasses.replace(opts, tree_watches=watches, slot_keeper=keeper)
    status, first = EXIT_OK, True  # the first run's bad input is exit status 2, not a wait
    try:
        while True:
            # Watching before the run starts: an edit made while it runs is a rerun after it.
            with Triggers(inputs(series_path, opts), stdin) as triggers:
                if first:
                    status, first = test_all(intake.load(series_path), opts), False
                else:
                    status = _rerun(series_path, opts)
                try:  # from the line on: a Ctrl-C after it ends the loop, not a run
                    progress.note(
                        f"--loop: waiting for a change ({triggers.describe()}); Enter reruns"
                    )
                    why = triggers.wait()
                except KeyboardInterrupt:
                    return status
            progress.note(f"--loop: {why}: running again")
    finally:
        watches.close()
        keeper.close()


def _rerun(series_path: Path, opts: pipeline.TestOptions) -> int:
    try:
        return test_all(intake.load(series_path), opts)
    except UserError as err:  # an edit in progress: say so once, wait for the next one
        print(f"harness: {err}", file=sys.stderr)
        return err.exit_status


def inputs(series_path: Path, opts: pipeline.TestOptions) -> list[Path]:
    """What a run reads that a reviewer edits: the series, the fragment dirs, the guest tests."""
    fragment_dirs = {KCONFIG_DIR, *(Path(k).resolve().parent for k in opts.kconfig if "/" in k)}
    return [series_path.resolve(), *sorted(fragment_dirs), GUEST_TESTS]


class Triggers:
    """inotify on the inputs (every directory under each; a file: its directory, for that
    name), and stdin, until one of them has something."""

    def __init__(self, paths: list[Path], stdin: TextIO) -> None:
        self.paths = paths
        self._inotify = INotify()
        self._only: dict[int, str] = {}  # a watched file's directory: that name only
        self._where: dict[int, Path] = {}
        self._stdin: TextIO | None = stdin if _readable(stdin) else None
        for path in paths:
            self._watch(path)

    def __enter__(self) -> Triggers:
        return self

    def __exit__(self, *exc: object) -> None:
        self._inotify.close()

    def describe(self) -> str:
        return ", ".join(_short(p) for p in self.paths)

    def wait(self) -> str:
        """Block until an input changed (and settled) or stdin gave a line: what it was."""
        while True:
            fds: list[int] = [self._inotify.fileno()]
            if self._stdin is not None:
                fds.append(self._stdin.fileno())
            ready, _, _ = select.select(fds, [], [])
            if self._stdin is not None and self._stdin.fileno() in ready:
                if self._stdin.readline():
                    return "Enter"
                self._stdin = None  # end of input (e.g. </dev/null): only changes rerun
            if self._inotify.fileno() in ready:
                changed = self._changed(self._inotify.read(timeout=0))
                if changed:
                    self._settle()
                    return f"{_short(changed)} changed"

    def _settle(self) -> None:
        while self._inotify.read(timeout=SETTLE_MS):
            pass

    def _changed(self, events: Iterable[object]) -> Path | None:
        for event in events:
            wd: int = event.wd  # type: ignore[attr-defined]
            mask: int = event.mask  # type: ignore[attr-defined]
            name: str = event.name  # type: ignore[attr-defined]
            if mask & flags.Q_OVERFLOW:
                return self.paths[0]
            where = self._where.get(wd)
            only = self._only.get(wd, "")
            if where is None or (only and name != only) or _editor_scratch(name):
                continue
            return where / name  # a new dir too: the next run's Triggers watch inside it
        return None

    def _watch(self, path: Path) -> None:
        """A file: its directory, for that name only. A directory: all of it but dot-dirs."""
        if path.is_file():
            watched = watch_dirs(self._inotify, path.parent, EDITS, lambda name: True)
            self._only |= dict.fromkeys(watched, path.name)
        else:
            watched = watch_dirs(self._inotify, path, EDITS, lambda name: name.startswith("."))
        self._where |= watched


def _editor_scratch(name: str) -> bool:
    """vim's swap and backup files, emacs' locks and autosaves: not an edit of an input."""
    return name.endswith((".swp", ".swx", "~")) or name.startswith((".#", "#")) or name == "4913"


def _readable(stream: TextIO) -> bool:
    try:
        stream.fileno()
    except (OSError, ValueError):
        return False  # pytest's captured stdin, a closed stream
    return not stream.closed


def _short(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
