from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.cases import Case, Status
from harness.pipeline import apply_xfail
from harness.results import junit, rundir


def _tree() -> list[Case]:
    gmem = Case(
        "gmem",
        children=[
            Case(
                "mmap_flags",
                children=[
                    Case("no_device", Status.PASS),
                    Case("with_shared", Status.FAIL, "EINVAL expected", "# got 0"),
                ],
            ),
            Case("hmadvise", Status.SKIP, "no hmadvise"),
            Case("fork", Status.ERROR, "no result: crashed or hung?"),
        ],
    )
    return [Case("build", Status.PASS, "built"), gmem]


def test_junit_nests_by_classname_and_counts() -> None:
    root = ET.fromstring(junit.to_junit(_tree(), "run"))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["run.build", "run.gmem"]
    cases = suites[1].findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("gmem.mmap_flags", "no_device"),
        ("gmem.mmap_flags", "with_shared"),
        ("gmem", "hmadvise"),
        ("gmem", "fork"),
    ]
    assert cases[1].find("failure").get("message") == "EINVAL expected"
    assert cases[2].find("skipped") is not None
    assert cases[3].find("error") is not None


def test_results_json_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    junit.write_json(path, {"run": "x"}, _tree())
    data = json.loads(path.read_text())
    back = [junit.case_from_dict(s) for s in data["suites"]]
    assert back == _tree()


def test_run_dir_is_valid_after_every_stage(tmp_path: Path) -> None:
    run = rundir.RunDir.create(tmp_path, "gmem rfc/v1", ["test", "x"])
    ET.parse(run.file("junit.xml"))  # valid before any stage
    assert run.file("reproduce.sh").stat().st_mode & 0o111
    run.add(Case("apply", Status.FAIL, "conflict"))
    assert ET.parse(run.file("junit.xml")).getroot().get("failures") == "1"
    assert run.failed
    assert "**apply / apply**: conflict" in run.file("summary.md").read_text()


def test_xfail_marks_failures_and_flags_unexpected_passes() -> None:
    suites = _tree()
    apply_xfail(
        suites[1],
        {"gmem.mmap_flags.with_shared": "RFC bug", "gmem.mmap_flags.no_device": "was broken"},
    )
    flags = suites[1].children[0].children
    assert flags[1].status is Status.XFAIL and flags[1].message.startswith("RFC bug")
    assert flags[0].status is Status.FAIL and "expects a failure" in flags[0].message


def test_a_parent_failing_on_its_own_is_a_testcase_where_it_stands() -> None:
    workload = Case(
        "exit_teardown",
        Status.FAIL,
        "killed by signal 9",
        "# exit_teardown: killed by signal 9",
        children=[Case("a", Status.PASS), Case("b", Status.PASS)],
    )
    suites = [Case("gmem", children=[workload])]
    root = ET.fromstring(junit.to_junit(suites, "run"))
    cases = root.findall("testsuite/testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("gmem.exit_teardown", "a"),
        ("gmem.exit_teardown", "b"),
        ("gmem", "exit_teardown"),
    ]
    failure = cases[2].find("failure")
    assert failure is not None and failure.text == "# exit_teardown: killed by signal 9"
    assert failure.get("message") == (
        "exit_teardown: not ok after 2 passing subtests (killed by signal 9)"
    )
    assert root.get("failures") == "1" and cases[0].find("failure") is None
    assert "- **gmem / exit_teardown**: not ok after 2 passing subtests" in (
        rundir.summary_markdown("run", suites)
    )
