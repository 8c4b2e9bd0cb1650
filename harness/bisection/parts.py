"""A bisection's moving parts, shared by the series mode (command.py) and the range mode
(git_range.py): the Bisection record, its run directory and the test options each step's
`harness test` runs with.

Input: a BisectRequest. Output: a RunDir with its saved state (new, or the one --resume
names), TestOptions. Writes RUN/state.json for a new run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.bisection import state as saved
from harness.bisection import summary
from harness.bisection.candidates import Candidates, SeriesOracle
from harness.bisection.perf_oracle import PerfOracle
from harness.bisection.request import BisectRequest
from harness.bisection.signature import Predicate
from harness.pipeline import TestOptions
from harness.results.rundir import RunDir


def note(message: str) -> None:
    print(f"harness: {message}", file=sys.stderr, flush=True)


@dataclass
class Bisection:
    """One bisection's moving parts: its run dir, state, candidates and oracle."""

    request: BisectRequest
    run: RunDir
    state: dict[str, Any]
    candidates: Candidates
    predicate: Predicate
    oracle: SeriesOracle | PerfOracle
    culprit_of: Callable[[int, str], summary.Culprit]


def test_options(request: BisectRequest, run: RunDir, tree: Path | None) -> TestOptions:
    return TestOptions(
        argv=list(request.argv),
        out=run.path,
        cache=request.cache,
        base=request.base,
        tree=tree,
        kconfig=request.kconfig,
        suites=request.suites,
        jobs=request.jobs,
        timeout=request.timeout,
    )


def open_run(request: BisectRequest, name: str) -> tuple[RunDir, dict[str, Any]]:
    if request.resume is not None:
        state = saved.load(request.resume)
        run = RunDir(request.resume, request.resume.name, {"run": request.resume.name})
        note(f"resuming {run.path}: {len(state['runs'])} recorded run(s) are replayed")
        return run, state
    run = RunDir.create(request.out, f"bisect-{name}", list(request.argv))
    state = saved.new_state(list(request.argv), request.mode, request.bad_when)
    saved.save(run.path, state)
    return run, state
