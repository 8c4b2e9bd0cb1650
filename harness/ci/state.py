"""The watcher's memory: what it has read from each inbox and done with each series.

Input/output: a JSON file, rewritten atomically (tmp + rename) after every change, and
locked (flock on STATE.lock) so two watchers never share it. Because the inbox cursor,
the mails still waiting and each series' status are saved in one write, a restart
neither drops nor repeats a series: a series recorded as `started` (the watcher died
during its run) is run again, `done`, `rejected` and `incomplete` ones never are.
Raises UserError for a state file that is not ours, or that another watcher holds.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.ci.assemble import MailRef
from harness.errors import UserError

FINISHED = ("done", "rejected", "incomplete")


@dataclass
class ListState:
    cursor: dict[str, str] = field(default_factory=dict)  # epoch -> last commit read
    waiting: list[MailRef] = field(default_factory=list)  # mails of unfinished series


@dataclass
class SeriesState:
    status: str  # waiting, started, done, rejected, incomplete
    list_name: str
    subject: str
    first_seen: float
    runs: list[str] = field(default_factory=list)
    message: str = ""


@dataclass
class State:
    path: Path
    lists: dict[str, ListState] = field(default_factory=dict)
    series: dict[str, SeriesState] = field(default_factory=dict)

    def of_list(self, name: str) -> ListState:
        return self.lists.setdefault(name, ListState())

    def save(self) -> None:
        data = {
            "lists": {n: asdict(s) for n, s in self.lists.items()},
            "series": {k: asdict(s) for k, s in self.series.items()},
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, self.path)


def read(path: Path) -> State:
    if not path.exists():
        return State(path)
    try:
        data = json.loads(path.read_text())
        lists = {
            name: ListState(dict(s["cursor"]), [_ref(m) for m in s["waiting"]])
            for name, s in data["lists"].items()
        }
        series = {key: SeriesState(**s) for key, s in data["series"].items()}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UserError(f"{path}: not a harness watch state file ({err})") from None
    return State(path, lists, series)


def _ref(data: dict[str, Any]) -> MailRef:
    return MailRef(**{**data, "references": tuple(data["references"])})  # JSON has lists


@contextmanager
def held(path: Path) -> Iterator[State]:
    """The state, locked against a second watcher for as long as the block runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UserError(f"{path}: another harness watch is using this state") from None
        yield read(path)
