"""checkpatch: run the tree's own scripts/checkpatch.pl on one patch mail and parse it.

Input: a kernel tree (a worktree: checkpatch reads MAINTAINERS, spelling.txt, ...) and the
mail bytes. Output: a Case "checkpatch": ERRORs fail it, WARNINGs and CHECKs (--strict)
are listed in its details with their exact lines; counts go into its properties.
Files: the mail is written to a temporary file outside any git repository, because
checkpatch switches to --file mode for a path git tracks. Raises EnvError without perl.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness import proc, sandbox
from harness.cases import Case, Status
from harness.sandbox import Step

SCRIPT = "scripts/checkpatch.pl"
OPTIONS = ("--strict", "--show-types", "--color=never")
ITEM = re.compile(r"^(?P<level>ERROR|WARNING|CHECK):(?:(?P<type>[A-Z0-9_]+):)? (?P<msg>.*)$")
TOTAL = re.compile(r"^total: (\d+) errors, (\d+) warnings, (?:(\d+) checks, )?(\d+) lines checked")


@dataclass(frozen=True)
class Item:
    """One checkpatch report: its first line and the lines quoting the patch."""

    level: str  # ERROR, WARNING or CHECK
    type: str  # e.g. TRAILING_WHITESPACE ('' without --show-types)
    message: str
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        kind = f"{self.level}:{self.type}" if self.type else self.level
        return "\n".join([f"{kind}: {self.message}", *self.lines])


@dataclass(frozen=True)
class Report:
    items: tuple[Item, ...]
    complete: bool  # the 'total:' line was seen: checkpatch ran to the end

    def count(self, level: str) -> int:
        return sum(1 for item in self.items if item.level == level)


def argv(mail: Path) -> list[str]:
    return ["perl", SCRIPT, *OPTIONS, str(mail)]


def parse(output: str) -> Report:
    """checkpatch's output -> items; never raises, unknown lines are ignored."""
    items: list[Item] = []
    current: list[str] | None = None
    head: re.Match[str] | None = None
    complete = False
    for line in [*output.splitlines(), ""]:
        if head is not None and current is not None and not line.strip():
            items.append(Item(head["level"], head["type"] or "", head["msg"], tuple(current)))
            head, current = None, None
        elif head is not None and current is not None:
            current.append(line.rstrip("\n"))
        elif m := ITEM.match(line):
            head, current = m, []
        elif TOTAL.match(line):
            complete = True
    return Report(tuple(items), complete)


def report_case(report: Report, output: str) -> Case:
    errors, warnings, checks = (report.count(k) for k in ("ERROR", "WARNING", "CHECK"))
    props = {"errors": str(errors), "warnings": str(warnings), "checks": str(checks)}
    details = "\n\n".join(item.text for item in report.items)
    if not report.complete:
        return Case("checkpatch", Status.ERROR, "checkpatch did not finish", output[-2000:])
    counts = f"{errors} errors, {warnings} warnings, {checks} checks"
    if errors:
        first = next(i for i in report.items if i.level == "ERROR")
        message = f"{counts}; first: {first.type or first.message}"
        return Case("checkpatch", Status.FAIL, message, details, properties=props)
    return Case("checkpatch", Status.PASS, counts, details, properties=props)


def check(tree: Path, mail: bytes, log: Path | None = None) -> Case:
    """Run checkpatch from `tree` on one mail (the tree need not have it applied)."""
    if not (tree / SCRIPT).is_file():
        return Case("checkpatch", Status.SKIP, f"no {SCRIPT} in {tree}")
    with tempfile.NamedTemporaryFile(suffix=".mail", dir="/tmp") as tmp:
        tmp.write(mail)
        tmp.flush()
        os.chmod(tmp.name, 0o644)  # the sandbox uid reads it
        box = sandbox.for_step(Step.TREE_SCRIPT, reads=(tree, Path(tmp.name)))
        result = proc.run(argv(Path(tmp.name)), cwd=tree, log=log, timeout=300, box=box)
    if result.denied:  # the tree's checkpatch.pl tried to write, read or connect out
        return Case("checkpatch", Status.FAIL, sandbox.stopped(result.denied), result.output)
    case = report_case(parse(result.output), result.output)
    case.seconds = result.seconds
    return case
