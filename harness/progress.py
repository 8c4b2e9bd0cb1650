"""Progress while the user waits: notes, a status line, an ETA, stage wall times.

One layer every command uses. `note` prints "harness: ..." on stderr (stdout stays the
run's summary). A `Ticker` follows something long (a build, an unpack): on a terminal
one rewritten line, elsewhere (CI logs) a plain line every PLAIN_EVERY seconds, so a
log never sits silent for minutes. `StageClock` times the stages for results.json and
the summary. `quiet()` (the CLI's -q) silences all of it; results and errors still print.
The switch lives in the `harness` logger of the stdlib's logging registry.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

PLAIN_EVERY = 30.0  # seconds between two progress lines off a terminal
REDRAW_EVERY = 0.1  # seconds between two redraws of the terminal line

_log = logging.getLogger("harness")


class _Stderr(logging.Handler):
    """Writes to whatever sys.stderr is at the time (pytest swaps it per test)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"harness: {record.getMessage()}", file=sys.stderr, flush=True)


if not _log.handlers:
    _log.addHandler(_Stderr())
    _log.setLevel(logging.INFO)
    _log.propagate = False


def quiet(on: bool = True) -> None:
    """-q: no progress at all; errors are printed by cli.main, not through here."""
    _log.setLevel(logging.WARNING if on else logging.INFO)


def enabled() -> bool:
    return _log.isEnabledFor(logging.INFO)


def note(message: str) -> None:
    """A progress line for the user."""
    _log.info(message)


def eta(done: int, total: int, elapsed: float) -> str:
    """'k/n, ETA 1m20s' from the mean time per finished item ('k/n' before the first)."""
    if done <= 0 or done >= total:
        return f"{done}/{total}"
    left = elapsed / done * (total - done)
    return f"{done}/{total}, ETA {_duration(left)}"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Ticker:
    """A status that changes often (the file being compiled, files unpacked so far)."""

    def __init__(self, label: str, every: float = PLAIN_EVERY, tty: bool | None = None) -> None:
        self.label = label
        self.every = every
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.started = time.monotonic()
        self._last = self.started if not self.tty else 0.0
        self._drawn = False

    def update(self, status: str) -> None:
        if not enabled():
            return
        now = time.monotonic()
        if now - self._last < (REDRAW_EVERY if self.tty else self.every):
            return
        self._last = now
        elapsed = _duration(now - self.started)
        if self.tty:
            sys.stderr.write(f"\r\033[K  {self.label}: {status[:70]} ({elapsed})")
            sys.stderr.flush()
            self._drawn = True
        else:
            note(f"{self.label}: {status} ({elapsed} so far)")

    def done(self) -> None:
        if self._drawn:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self._drawn = False


@dataclass
class StageClock:
    """Wall time per stage, printed as each ends and kept in results.json. A stage entered
    twice (one boot per isolated workload) adds up."""

    seconds: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    say: bool = True  # note "stage X: Ns" as each ends

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.add(name, time.monotonic() - started)
            if self.say:
                note(f"stage {name}: {self.seconds[name]:.0f}s")

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = round(self.seconds.get(name, 0.0) + seconds, 2)

    def with_remainder(self, name: str = "harness") -> dict[str, float]:
        """The stages, and `name`: the wall time since the clock started that no stage had."""
        total = time.monotonic() - self.started
        rest = max(0.0, total - sum(self.seconds.values()))
        return {**self.seconds, name: round(rest, 2), "total": round(total, 2)}
