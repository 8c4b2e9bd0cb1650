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
    """One testcase, or one suite when it has children."""

    name: str
    status: Status = Status.PASS
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
    def is_suite(self) -> bool:
        return bool(self.children)

    def leaves(self) -> list[Case]:
        if not self.children:
            return [self]
        return [leaf for child in self.children for leaf in child.leaves()]

    def worst(self) -> Status:
        """FAIL/ERROR anywhere below wins; a suite with only skips is SKIP."""
        statuses = [leaf.status for leaf in self.leaves()]
        for bad in (Status.ERROR, Status.FAIL):
            if bad in statuses:
                return bad
        if statuses and all(s is Status.SKIP for s in statuses):
            return Status.SKIP
        return Status.PASS
