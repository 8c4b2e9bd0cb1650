"""`harness parse` on real recorded logs, and the guest-output splitter."""

from __future__ import annotations

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
