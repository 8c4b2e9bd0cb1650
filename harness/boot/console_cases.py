"""Kernel incidents on the console -> failed Cases that name the workload.

Input: console text and a label for the boot. Output: a "console" Case with one
failing child per incident (panic, oops, KASAN, lockdep, hung task, ...), its
excerpt in the details, named after the workload running when it happened.
Writes nothing; raises nothing.
"""

from __future__ import annotations

from harness.boot import console
from harness.cases import Case, Status


def incident_cases(text: str, label: str) -> Case:
    suite = Case(f"console {label}")
    for incident in console.scan_console(text):
        workload = console.workload_at(text, incident.line) or "(no workload running: boot)"
        kind = incident.kind.name
        suite.children.append(
            Case(
                f"{kind} during {workload}",
                Status.FAIL,
                incident.title,
                details=incident.excerpt,
                properties={"kind": kind, "workload": workload, "line": str(incident.line)},
            )
        )
    return suite
