"""Review mail and Markdown from results.json: golden files from a real `harness check` run
(see fixtures/report/README.md), plus the parts that must hold for any run."""

from __future__ import annotations

import email
import json
import os
import shutil
from pathlib import Path

import pytest

from harness.cases import Case, Status
from harness.errors import UserError
from harness.results import rundir
from harness.review import report

FIX = Path(__file__).parent / "fixtures" / "report"
UPDATE = os.environ.get("HARNESS_UPDATE_GOLDEN") == "1"


def golden(name: str, text: str) -> None:
    path = FIX / name
    if UPDATE:
        path.write_text(text)
    assert text == path.read_text()


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    shutil.copy(FIX / "check-demo.results.json", tmp_path / "results.json")
    return tmp_path


def test_review_mail_matches_golden(run_dir: Path) -> None:
    meta, suites = rundir.load(run_dir)
    golden("check-demo.review.eml", report.email_text(meta, suites))


def test_review_markdown_matches_golden(run_dir: Path) -> None:
    meta, suites = rundir.load(run_dir)
    golden("check-demo.review.md", report.markdown_text(meta, suites))


def test_mail_is_a_threaded_reply(run_dir: Path) -> None:
    report.write(run_dir)
    msg = email.message_from_bytes((run_dir / "review.eml").read_bytes())
    meta = json.loads((run_dir / "results.json").read_text())
    assert msg["Subject"] == f"Re: {meta['subject']}"
    assert msg["In-Reply-To"] == msg["References"] == meta["message_id"]
    body = msg.get_payload()
    assert isinstance(body, str)
    assert "To reproduce:" in body and f"harness {' '.join(meta['argv'])}" in body
    assert "/root/" not in body and meta["started"] not in body  # no paths, no timestamps


def test_new_warnings_keep_their_marks() -> None:
    new = Case(
        "warnings",
        Status.FAIL,
        "1 new W=1 warning(s)",
        ">> fs/a.c:1:2: warning: w [-Wx]",
        properties={"make": "make O=build_dir W=1 fs/a.o"},
    )
    suite = Case("0001 fs: a", children=[new], properties={"subject": "[PATCH 1/1] fs: a"})
    text = report.email_text({"subject": "[PATCH] fs: a", "argv": ["check", "s"]}, [suite])
    assert "\n    >> fs/a.c:1:2: warning: w [-Wx]\n" in text
    assert "make O=build_dir W=1 fs/a.o   # patch 1" in text
    assert "1 of 1 patches need attention: patch 1." in text


def test_patch_titles_number_the_series() -> None:
    assert report.patch_title(Case("0004 mm: x"), 6) == "[PATCH 4/6] mm: x"


def test_report_command_writes_what_was_asked(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report.report_command(run_dir, email=False, markdown=True) == 0
    assert capsys.readouterr().out.strip() == str(run_dir / "review.md")
    assert not (run_dir / "review.eml").exists()
    report.report_command(run_dir, email=False, markdown=False)  # neither: the mail
    assert (run_dir / "review.eml").exists()


def test_bad_run_dir_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError):
        report.report_command(tmp_path / "nope", True, False)
    (tmp_path / "results.json").write_text("{")
    with pytest.raises(UserError):
        rundir.load(tmp_path)


def test_cli_report_and_check_exit_statuses(run_dir: Path, tmp_path: Path) -> None:
    from harness import cli

    assert cli.main(["report", str(run_dir), "--email"]) == 0
    assert cli.main(["report", str(tmp_path / "missing")]) == 2
    assert cli.main(["check", str(tmp_path / "no-series")]) == 2  # before any tree is touched


def test_notes_alone_are_not_findings_but_warnings_are() -> None:
    from harness.review.checker_findings import Finding, Severity, findings_case

    note = Finding("hygiene", Severity.INFO, "only the catch-all list", "kernel/fork.c")
    warn = Finding("hygiene", Severity.WARNING, "header names another file", "mm/x.c")
    quiet = findings_case("hygiene", [note])
    loud = findings_case("hygiene", [note, warn])
    assert (quiet.status, quiet.message, report.case_details(quiet)) == (
        Status.PASS,
        "1 note(s)",
        [],
    )
    assert loud.message == "1 warning(s)" and report.case_details(loud)
    assert report._cell(quiet) == "✅" and report._cell(loud) == "⚠️"


def test_a_compare_run_s_mail_names_what_failed_and_carries_the_cost_table(
    tmp_path: Path,
) -> None:
    """A compare run has no per-patch results: its mail must not read "all passed" when a
    cost is beyond its threshold, and it carries the table compare wrote."""
    worse = Case("lock.anon4k.threads.serial_pct", Status.FAIL, "worse: +69.7 pp")
    same = Case("pf1.thp_never.pages_per_s", Status.PASS, "same")
    suites = [
        Case("build A", Status.PASS),
        Case("compare", children=[same]),
        Case("serialization", children=[worse]),
    ]
    meta = {"subject": "[PATCH] mm: lock", "argv": ["compare", "s"], "compare": {}}
    (tmp_path / "table.txt").write_text("slower\n\nmore serialized\nanon4k.threads  -  0.032\n")
    text = report.email_text(meta, suites, cost_lines=tuple(report.costs(tmp_path, meta)))
    assert "Failed: serialization (lock.anon4k.threads.serial_pct)." in text
    assert "harness measured what your series costs against base" in text
    assert "passed" not in text.split("Costs")[0]
    assert "Costs (harness compare):\n\n  slower\n\n  more serialized\n" in text
    assert report.costs(tmp_path, {"argv": ["check", "s"]}) == []  # not a compare run
    green = [Case("compare", children=[same])]
    assert "Every result passed" in report.email_text(meta, green)


def test_a_finding_made_of_parts_names_the_parts_that_failed() -> None:
    """The matrix says nothing of itself: its mail line names the failing cells, and its
    details are theirs, or the maintainer reads 'matrix: FAIL' and nothing more."""
    cells = [
        Case("x86_64", Status.FAIL, "1 new warning(s) in x86_64: mm/gmem.c: unused", ">> w1"),
        Case("i386", Status.PASS, "no new warnings"),
        Case("arm64", Status.FAIL, "build failed in arm64", ">> error: e"),
    ]
    matrix = Case("matrix", children=cells)
    assert report.case_line(matrix) == (
        "  matrix:     FAIL: x86_64: 1 new warning(s) in x86_64: mm/gmem.c: unused; "
        "arm64: build failed in arm64"
    )
    assert report.case_details(matrix) == [
        "", "    x86_64:", "    >> w1", "", "    arm64:", "    >> error: e", ""
    ]  # fmt: skip
