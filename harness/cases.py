"""Typed results shared by every stage: a tree of Cases with a Status.

Input: nothing. Output: the dataclasses other stages fill in.
Kernel failures (conflict, build error, panic, failing test) are Cases, not exceptions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Status(enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    XFAIL = "xfail"  # failed, and series.yaml or the test itself said it would
    ERROR = "error"  # could not run to a verdict (crash, timeout, infrastructure)

    @property
    def is_bad(self) -> bool:
        return self in (Status.FAIL, Status.ERROR)


@dataclass
class Case:
    """One testcase, or one suite when it has children.

    `own` is what the test said of itself (a leaf's verdict, a parent's own result line);
    `status` is derived from it and the children's whenever it is read (status_of).
    """

    name: str
    own: Status = Status.PASS
    message: str = ""  # one line: why it failed or was skipped
    details: str = ""  # log excerpt, compiler errors, console lines
    seconds: float = 0.0
    children: list[Case] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)
    # Stands for a missing result or for nothing to run ("(no KTAP output)", "(no KUnit
    # suites)"): no test by that name exists, so it is never matched or counted as one.
    placeholder: bool = False
    # Announced (or expected) but never reported: the guest died or hung first.
    crashed: bool = False

    @property
    def status(self) -> Status:
        return status_of(self)

    @property
    def is_suite(self) -> bool:
        return bool(self.children)

    @property
    def fails_on_its_own(self) -> bool:
        """A parent whose own result is worse than all its subtests together: a workload
        that says `not ok` after passing subtests (killed once they were done, say)."""
        return bool(self.children) and _rank(self.own) > _rank(_subtests_status(self))

    def leaves(self) -> list[Case]:
        """Every result that stands on its own: each test without subtests, and each parent
        that fails on its own, after its subtests (where its result line is in the log)."""
        if not self.children:
            return [self]
        found = [leaf for child in self.children for leaf in child.leaves()]
        return [*found, self] if self.fails_on_its_own else found

    def explain(self) -> str:
        """One line on this result: its message; for a parent that fails on its own, its
        result line over its subtests and its own reason ("not ok after 2 passing subtests
        (killed by signal 9)")."""
        if not self.fails_on_its_own:
            return self.message
        tally = {s: sum(c.status is s for c in self.children) for s in _ADJECTIVE}
        counted = [f"{n} {_ADJECTIVE[s]}" for s, n in tally.items() if n]
        noun = "subtest" if len(self.children) == 1 else "subtests"
        word = "not ok" if self.own is Status.FAIL else "no verdict"
        reason = f" ({self.message})" if self.message else ""
        return f"{word} after {' and '.join(counted)} {noun}{reason}"


_ADJECTIVE = {
    Status.PASS: "passing",
    Status.SKIP: "skipped",
    Status.XFAIL: "expected-failing",
    Status.FAIL: "failing",
}


def _rank(status: Status) -> int:
    return {Status.ERROR: 2, Status.FAIL: 1}.get(status, 0)


def _subtests_status(case: Case) -> Status:
    """The children's statuses together: ERROR, else FAIL, else SKIP when all skipped."""
    statuses = [child.status for child in case.children]
    for bad in (Status.ERROR, Status.FAIL):
        if bad in statuses:
            return bad
    return Status.SKIP if all(s is Status.SKIP for s in statuses) else Status.PASS


def status_of(case: Case) -> Status:
    """A test's status, as kunit_tool computes it: the worse of its own result line and its
    subtests'. A failing parent over passing subtests fails; `ok` over a failing subtest
    fails; an `ok` parent over skips only is SKIP. Every reader of a status comes here."""
    if not case.children:
        return case.own
    below = _subtests_status(case)
    return case.own if _rank(case.own) > _rank(below) else below
