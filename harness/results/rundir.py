"""Run directory: where every stage's results land as soon as the stage ends.

Input: --out and a run name. Output: <out>/<run-id>/ with junit.xml, results.json,
summary.md and reproduce.sh rewritten after each stage, so a crash, a hang or
Ctrl-C still leaves valid JUnit and a way to reproduce.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.cases import Case, Status
from harness.errors import UserError
from harness.progress import StageClock
from harness.results import junit

SYMBOL = {
    Status.PASS: "PASS",
    Status.FAIL: "FAIL",
    Status.SKIP: "SKIP",
    Status.XFAIL: "XFAIL",
    Status.ERROR: "ERROR",
}


@dataclass
class RunDir:
    path: Path
    name: str
    meta: dict[str, Any] = field(default_factory=dict)
    suites: list[Case] = field(default_factory=list)
    # Each stage's wall time (apply, kconfig, build, boot, tests); the pipeline puts them
    # in meta["stage_seconds"] with the harness's own remainder when the run ends.
    clock: StageClock = field(default_factory=lambda: StageClock(say=False))

    @classmethod
    def create(cls, out: Path, name: str, argv: list[str]) -> RunDir:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "run"
        # Absolute: the guest runs the suites from another cwd (vng's chdir), and a
        # relative --out (the default `results`, a CI job's) would name nothing there.
        path = _new_dir(out.absolute(), f"{safe}-{stamp}")
        run = cls(path, safe, {"run": path.name, "argv": argv, "started": stamp})
        run.write_reproducer(argv)
        run.flush()
        return run

    def file(self, name: str) -> Path:
        return self.path / name

    def write_reproducer(self, argv: list[str], extra: list[str] | None = None) -> None:
        lines = [
            "#!/bin/sh",
            "# Re-run this exact harness invocation.",
            "set -e",
            f"cd {shlex.quote(str(Path.cwd()))}",
            shlex.join(["harness", *argv]),
        ]
        if extra:
            lines += ["", "# The commands the stages ran, in order:"] + [f"# {c}" for c in extra]
        target = self.file("reproduce.sh")
        target.write_text("\n".join(lines) + "\n")
        target.chmod(0o755)

    def add(self, case: Case) -> Case:
        self.suites.append(case)
        self.flush()
        return case

    def flush(self) -> None:
        junit.write_atomic(self.file("junit.xml"), junit.to_junit(self.suites, self.name))
        junit.write_json(self.file("results.json"), self.meta, self.suites)
        junit.write_atomic(self.file("summary.md"), summary_markdown(self.name, self.suites))

    @property
    def failed(self) -> bool:
        return any(s.status.is_bad for s in self.suites)


def load(run_dir: Path) -> tuple[dict[str, Any], list[Case]]:
    """A run directory read back: results.json's meta, and its suites as Cases."""
    path = run_dir / "results.json"
    try:
        data = json.loads(path.read_text())
        suites = [junit.case_from_dict(s) for s in data.pop("suites")]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UserError(f"{path}: not a harness results file ({err})") from None
    return data, suites


def _new_dir(out: Path, stem: str) -> Path:
    """out/stem, else out/stem-2, -3...: made with mkdir itself, which fails when the name
    is taken, so two runs started in the same second never share (or crash on) one dir."""
    out.mkdir(parents=True, exist_ok=True)
    for suffix in itertools.count(1):
        path = out / (stem if suffix == 1 else f"{stem}-{suffix}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise AssertionError("unreachable")


def counts(suites: list[Case]) -> dict[Status, int]:
    tally = {status: 0 for status in Status}
    for suite in suites:
        for leaf in suite.leaves():
            tally[leaf.status] += 1
    return tally


def summary_markdown(name: str, suites: list[Case]) -> str:
    tally = counts(suites)
    lines = [f"# {name}", "", " · ".join(f"{n} {s.value}" for s, n in tally.items() if n), ""]
    lines += ["| stage | result | detail |", "|---|---|---|"]
    for suite in suites:
        lines.append(f"| {suite.name} | {SYMBOL[suite.status]} | {_one_line(suite)} |")
    bad = [(s, leaf) for s in suites for leaf in s.leaves() if leaf.status.is_bad]
    if bad:
        lines += ["", "## Failures", ""]
        for suite, leaf in bad:
            lines.append(f"- **{suite.name} / {leaf.name}**: {leaf.explain()}")
    return "\n".join(lines) + "\n"


def _one_line(suite: Case) -> str:
    if not suite.children:
        return suite.message.replace("|", "\\|")[:120]
    tally = counts([suite])
    return ", ".join(f"{n} {s.value}" for s, n in tally.items() if n)


def terminal_summary(run: RunDir, stream: Any = sys.stdout) -> None:
    for suite in run.suites:
        status = suite.status
        print(f"  {SYMBOL[status]:5} {suite.name:28} {_one_line(suite)}", file=stream)
        for leaf in suite.leaves():
            if leaf.status.is_bad and suite.children:  # else the line above says it
                print(
                    f"        {SYMBOL[leaf.status]:5} {leaf.name}: {leaf.explain()[:100]}",
                    file=stream,
                )
    tally = counts(run.suites)
    print("  " + ", ".join(f"{n} {s.value}" for s, n in tally.items() if n), file=stream)
    if run.meta.get("stage_seconds"):
        print(f"  time: {stage_line(run.meta['stage_seconds'])}", file=stream)
    print(f"  results: {run.path}", file=stream)


def stage_line(seconds: dict[str, float]) -> str:
    """'apply 0.6s, kconfig 0.1s, build 10.2s, boot 6.9s, tests 7.4s, harness 1.2s (total 26.4s)'"""
    parts = [f"{name} {s:.1f}s" for name, s in seconds.items() if name != "total"]
    total = f" (total {seconds['total']:.1f}s)" if "total" in seconds else ""
    return ", ".join(parts) + total
