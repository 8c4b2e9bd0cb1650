"""RUN/bisect.json: every run of every candidate, written the moment it ends, so
`harness bisect --resume RUN` continues after a crash or Ctrl-C.

Input: the live oracle and the state file. Output: a Recorder, itself an oracle: on resume
it answers from the recorded runs first (the search is a function of the outcomes, so
replaying them brings it back to where it stopped, without a build), then asks the live
oracle and records each new run. Raises UserError for a missing or unreadable state file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.bisection.search import Kind, Oracle, Outcome
from harness.errors import UserError
from harness.results.junit import write_atomic

STATE_FILE = "bisect.json"
VERSION = 1


def load(run_dir: Path) -> dict[str, Any]:
    path = run_dir / STATE_FILE
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"--resume {run_dir}: cannot read {STATE_FILE}: {err}") from None
    if state.get("version") != VERSION or not isinstance(state.get("argv"), list):
        raise UserError(f"--resume {run_dir}: {STATE_FILE} is not a harness bisect state")
    return state


def save(run_dir: Path, state: dict[str, Any]) -> None:
    write_atomic(run_dir / STATE_FILE, json.dumps(state, indent=2) + "\n")


def new_state(argv: list[str], mode: str, predicate: str) -> dict[str, Any]:
    return {
        "version": VERSION,
        "argv": argv,
        "mode": mode,
        "predicate": predicate,
        "target": "",
        "runs": [],
        "steps": [],
        "result": None,
    }


class Recorder:
    """An oracle that replays the recorded runs, then records the live ones."""

    def __init__(self, live: Oracle, run_dir: Path, state: dict[str, Any]) -> None:
        self.live, self.run_dir, self.state = live, run_dir, state
        self.replay = list(state["runs"])
        self.replayed = 0

    def __call__(self, candidate: int) -> Outcome:
        if self.replay and self.replay[0]["candidate"] == candidate:
            record = self.replay.pop(0)
            self.replayed += 1
            return Outcome(
                Kind(record["kind"]),
                record["signature"],
                record["seconds"],
                record.get("error"),
                record.get("detail", ""),
                record.get("exact", False),
            )
        # A record that does not fit means the search went elsewhere (another --alpha):
        # the rest of the records are dropped and the candidates run again.
        del self.state["runs"][len(self.state["runs"]) - len(self.replay) :]
        self.replay = []
        outcome = self.live(candidate)
        self.state["runs"].append(
            {
                "candidate": candidate,
                "kind": outcome.kind.value,
                "signature": outcome.signature,
                "seconds": round(outcome.seconds, 1),
                "error": outcome.error,  # perf mode: the step's planned error rate
                "exact": outcome.exact,
                "detail": outcome.detail,
            }
        )
        save(self.run_dir, self.state)
        return outcome
