"""`harness parse` on real recorded logs, and the guest-output splitter."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from conftest import FIXTURES, PROJECT

from harness.cases import Status
from harness.results import parse_log
from harness.suites import guest

RUNS = FIXTURES / "runs"


def test_guest_output_splits_into_named_suites() -> None:
    text = (RUNS / "demo-guest.out").read_text()
    assert [(name, rc) for name, _, rc in guest.split_output(text)] == [("smoke", 0), ("demo", 0)]
    smoke, demo = guest.suite_results(text, ["smoke", "demo"], "unused")
    assert [c.name for c in demo.children] == ["proc_file_exists", "proc_format_v2", "read_counter"]
    anon = next(c for c in smoke.children if c.name == "anon_mmap")
    assert [c.name for c in anon.children] == ["mmap", "fault", "contents", "munmap"]
    assert smoke.status is Status.PASS and demo.status is Status.PASS


def test_a_suite_cut_short_is_an_error_not_a_pass() -> None:
    text = (RUNS / "demo-guest.out").read_text()
    cut = text[: text.index("ok 2 proc_format_v2")]
    smoke, demo, never = guest.suite_results(cut, ["smoke", "demo", "later"], "guest died")
    assert smoke.status is Status.PASS
    assert demo.status is Status.ERROR
    assert any(c.name == "(suite did not finish)" for c in demo.children)
    assert never.status is Status.ERROR and "guest died" in never.children[0].message


def test_parse_panic_console_reports_the_panic() -> None:
    suites = parse_log.parse_log((RUNS / "panic-console.log").read_text(), "panic")
    (incidents,) = [s for s in suites if s.name.startswith("console")]
    (panic,) = incidents.children
    assert panic.properties["kind"] == "PANIC"
    assert panic.message == "Kernel panic - not syncing: harness fixture: deliberate panic at boot"


def test_parse_command_writes_junit_and_exit_status(tmp_path: Path) -> None:
    junit = tmp_path / "j.xml"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "parse",
            str(RUNS / "demo-guest.out"),
            "--junit",
            str(junit),
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    assert result.returncode == 0, result.stderr
    names = [s.get("name") for s in ET.parse(junit).getroot().findall("testsuite")]
    assert names == ["demo-guest.smoke", "demo-guest.demo"]
    failed = subprocess.run(
        [sys.executable, "-m", "harness.cli", "parse", str(RUNS / "panic-console.log")],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    assert failed.returncode == 1


def test_isolated_crash_is_named_after_the_workload() -> None:
    out = "# harness: suite gmem begin\nKTAP version 1\n1..1\n    KTAP version 1\n    1..3\n"
    (suite,) = guest.suite_results(out, ["gmem"], "guest died")
    guest.name_isolated(suite, "mmap_flags", "guest died; console: BUG: NULL pointer")
    assert [c.name for c in suite.children] == ["mmap_flags"]
    assert suite.children[0].status is Status.ERROR
    assert "BUG: NULL pointer" in suite.children[0].message


def test_a_workload_that_fails_after_passing_subtests_fails_the_parse(tmp_path: Path) -> None:
    """GMEM run.sh prints `not ok 2 exit_teardown` after the workload's passing subtests
    when it was killed (or timed out) once they were done: that is a failure, in the exit
    status, the JUnit and results.json, named after the workload."""
    log = RUNS / "gmem-parent-fails-after-subtests.out"
    junit, results = tmp_path / "j.xml", tmp_path / "results.json"
    argv = [sys.executable, "-m", "harness.cli", "parse", str(log), "--junit", str(junit)]
    done = subprocess.run(
        [*argv, "--json", str(results)], capture_output=True, text=True, cwd=PROJECT
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == "FAIL  gmem: 19 tests, 2 bad"
    assert "exit_teardown: not ok after 2 passing subtests (killed by signal 9)" in done.stdout
    cases = ET.parse(junit).getroot().iter("testcase")
    failures = {(c.get("classname"), c.get("name")): c.find("failure") for c in cases}
    killed = failures[("gmem", "exit_teardown")]
    assert killed is not None
    assert killed.get("message") == (
        "exit_teardown: not ok after 2 passing subtests (killed by signal 9)"
    )
    assert failures[("gmem.exit_teardown", "attach_then_exit")] is None
    wedged = failures[("gmem", "fork")]
    assert wedged is not None and wedged.get("message") == (
        "fork: not ok after 2 passing and 4 skipped subtests"
        " (workload timed out after 150s (state D))"
    )
    assert "# stack: [<0>] exit_mmap" in (wedged.text or "")
    (suite,) = json.loads(results.read_text())["suites"]
    assert suite["status"] == "fail"
    by_name = {c["name"]: c for c in suite["children"]}
    assert (by_name["exit_teardown"]["status"], by_name["mmap_flags"]["status"]) == ("fail", "pass")


def test_parse_log_reads_a_parents_own_failure() -> None:
    text = (RUNS / "gmem-parent-fails-after-subtests.out").read_text()
    (suite,) = parse_log.parse_log(text, "gmem")
    killed = next(c for c in suite.children if c.name == "exit_teardown")
    assert [c.status for c in killed.children] == [Status.PASS, Status.PASS]
    assert (killed.own, killed.status, killed.message) == (
        Status.FAIL,
        Status.FAIL,
        "killed by signal 9",
    )
    assert suite.status is Status.FAIL
