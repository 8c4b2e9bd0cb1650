"""JUnit and JSON writers for a list of top-level Cases (one testsuite each).

Input: cases. Output: junit.xml / results.json text, written atomically so a
reader never sees half a file. Nested Cases become dotted classnames, since JUnit
consumers (Jenkins, GitLab) show those as a tree. A testcase is each of Case.leaves(): a
test without subtests, or a parent that fails on its own (named like a leaf where it stands).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from junit_xml import TestCase, TestSuite, to_xml_report_string

from harness.cases import Case, Status


def junit_cases(case: Case, prefix: str) -> list[TestCase]:
    if not case.children:
        return [_testcase(case, prefix)]
    path = f"{prefix}.{case.name}" if prefix else case.name
    cases = [tc for child in case.children for tc in junit_cases(child, path)]
    if case.fails_on_its_own:  # its own result line, after its subtests' as in the log
        cases.append(_testcase(case, prefix or case.name))
    return cases


def _testcase(case: Case, classname: str) -> TestCase:
    status, message = case.status, case.explain()
    if case.fails_on_its_own:  # the testcase stands for the parent's result line: name it
        message = f"{case.name}: {message}"
    tc = TestCase(
        case.name,
        classname=classname,
        elapsed_sec=case.seconds or None,
        stdout=case.details if status is Status.PASS and case.details else None,
    )
    if status is Status.FAIL:
        tc.add_failure_info(message=message or "failed", output=case.details or None)
    elif status is Status.ERROR:
        tc.add_error_info(message=message or "error", output=case.details or None)
    elif status is Status.SKIP:
        tc.add_skipped_info(message=message or "skipped", output=case.details or None)
    elif status is Status.XFAIL:
        tc.add_skipped_info(message=f"expected failure: {message}", output=case.details)
    return tc


def to_junit(suites: list[Case], run_name: str) -> str:
    junit_suites = []
    for suite in suites:
        cases = junit_cases(suite, "") if suite.children else [_testcase(suite, suite.name)]
        junit_suites.append(
            TestSuite(f"{run_name}.{suite.name}", cases, properties=suite.properties or None)
        )
    return str(to_xml_report_string(junit_suites, prettyprint=True))


def case_to_dict(case: Case) -> dict[str, Any]:
    """`status` is the derived one, for readers; a parent's own result line, when it said
    anything but ok, is `own` (a leaf's own is its status)."""
    data: dict[str, Any] = {"name": case.name, "status": case.status.value}
    if case.children and case.own is not Status.PASS:
        data["own"] = case.own.value
    for key in ("message", "details", "properties"):
        if getattr(case, key):
            data[key] = getattr(case, key)
    if case.seconds:
        data["seconds"] = round(case.seconds, 3)
    for flag in ("placeholder", "crashed"):
        if getattr(case, flag):
            data[flag] = True
    if case.children:
        data["children"] = [case_to_dict(c) for c in case.children]
    return data


def case_from_dict(data: dict[str, Any]) -> Case:
    """The inverse of case_to_dict: results.json can be read back (report, compare)."""
    own = data.get("own", "pass" if data.get("children") else data["status"])
    return Case(
        name=str(data["name"]),
        own=Status(own),
        message=data.get("message", ""),
        details=data.get("details", ""),
        seconds=float(data.get("seconds", 0.0)),
        children=[case_from_dict(c) for c in data.get("children", [])],
        properties=dict(data.get("properties", {})),
        placeholder=bool(data.get("placeholder", False)),
        crashed=bool(data.get("crashed", False)),
    )


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(path: Path, meta: dict[str, Any], suites: list[Case]) -> None:
    payload = {**meta, "suites": [case_to_dict(s) for s in suites]}
    write_atomic(path, json.dumps(payload, indent=2) + "\n")
