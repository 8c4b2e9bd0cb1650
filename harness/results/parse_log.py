"""`harness parse LOG`: a saved console or KTAP log -> results, with no kernel.

Input: a log file (console.log, guest output, kunit test.log). Output: JUnit and
JSON files when asked, a terminal summary, exit 1 when anything failed.
A log with no KTAP and no kernel incident is one ERROR case (exit 1): that run tested
nothing. Raises UserError for an unreadable log.
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness.boot.console_cases import incident_cases
from harness.cases import Case, Status
from harness.errors import UserError
from harness.suites import guest, ktap


def parse_log(text: str, name: str) -> list[Case]:
    segments = guest.split_output(text)
    if segments:
        suites = guest.suite_results(text, [s[0] for s in segments], "log ended")
    else:
        suites = []
        for i, doc in enumerate(ktap.parse_ktap(text.splitlines())):
            if not doc.name:
                doc.name = f"{name}.{i}" if i else name
            suites.append(doc)
    incidents = incident_cases(text, name)
    if incidents.children:
        suites.append(incidents)
    return suites


def parse_command(log: Path, junit_path: Path | None, json_path: Path | None) -> int:
    try:
        text = log.read_text(errors="replace")
    except OSError as err:
        raise UserError(f"{log}: {err.strerror}") from None
    # A log with no test output at all is a run that tested nothing (the guest never got
    # to its tests): a failed run, as kunit_tool has it, not bad input.
    suites = parse_log(text, log.stem) or [
        Case(log.stem, Status.ERROR, "no test output: no KTAP and no kernel incident in the log")
    ]
    if junit_path or json_path:  # junit_xml and xml.dom cost a fifth of the command's time
        from harness.results import junit

        if junit_path:
            junit.write_atomic(junit_path, junit.to_junit(suites, log.stem))
        if json_path:
            junit.write_json(json_path, {"log": str(log)}, suites)
    failed = False
    for suite in suites:
        status = suite.status
        leaves = suite.leaves()
        bad = [leaf for leaf in leaves if leaf.status.is_bad]
        print(f"{status.value.upper():5} {suite.name}: {len(leaves)} tests, {len(bad)} bad")
        for leaf in bad:
            print(f"      {leaf.status.value.upper():5} {leaf.name}: {leaf.explain()[:100]}")
        failed = failed or status.is_bad
    sys.stdout.flush()
    return 1 if failed else 0
