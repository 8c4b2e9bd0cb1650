"""Findings of the static review checkers, and how they become a Case.

Input: what a checker found. Output: Finding values and, per check, one Case.
A checker that could not finish says so with a CRASH finding: its Case is an ERROR.
Errors raised: none.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from harness.cases import Case, Status


class Severity(enum.Enum):
    ERROR = "error"  # the patch is wrong as posted: the check fails
    WARNING = "warning"  # a reviewer should look: the check still passes
    INFO = "info"  # context for the reviewer
    CRASH = "crash"  # the checker itself failed: the check is an ERROR, never a pass


@dataclass(frozen=True)
class Finding:
    """One thing a checker noticed in one patch."""

    check: str
    severity: Severity
    message: str
    file: str = ""
    lines: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        return f"{self.severity.value}: {where}{self.message}"


def render(findings: Sequence[Finding]) -> str:
    """Findings as text: one line each, with the quoted lines indented below it."""
    out: list[str] = []
    for finding in findings:
        out.append(str(finding))
        out.extend(f"    {line}" for line in finding.lines)
    return "\n".join(out)


def findings_case(check: str, findings: Sequence[Finding]) -> Case:
    """One Case for one check: any ERROR fails it; warnings and infos go into details."""
    mine = list(findings)
    crashes = [f for f in mine if f.severity is Severity.CRASH]
    errors = [f for f in mine if f.severity is Severity.ERROR]
    warnings = [f for f in mine if f.severity is Severity.WARNING]
    if crashes:
        status, message = Status.ERROR, crashes[0].message
    elif errors:
        status, first = Status.FAIL, errors[0]
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        message = f"{first.file}: {first.message}{more}" if first.file else first.message + more
    elif warnings:
        status, message = Status.PASS, f"{len(warnings)} warning(s)"
    else:
        status, message = Status.PASS, f"{len(mine)} note(s)" if mine else ""
    worst = "crash" if crashes else "error" if errors else "warning" if warnings else ""
    worst = worst or ("info" if mine else "")
    properties = {"worst": worst} if worst else {}
    return Case(check, status, message, details=render(mine), properties=properties)
