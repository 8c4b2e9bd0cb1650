"""checkpatch parsing on real recorded output (see fixtures/checkpatch/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import proc
from harness.cases import Status
from harness.review import checkpatch

FIX = Path(__file__).parent / "fixtures" / "checkpatch"


def recorded(name: str) -> str:
    return (FIX / name).read_text()


def test_gmem_0001_warnings_keep_their_exact_lines() -> None:
    report = checkpatch.parse(recorded("gmem-0001.out"))
    assert report.complete
    assert [(i.level, i.type) for i in report.items] == [
        ("WARNING", "FILE_PATH_CHANGES"),
        ("WARNING", "SPDX_LICENSE_TAG"),
        ("WARNING", "SPDX_LICENSE_TAG"),
    ]
    assert report.items[1].lines == (
        "#173: FILE: mm/gmem.c:1:",
        "+/* SPDX-License-Identifier: GPL-2.0-only */",
    )
    case = checkpatch.report_case(report, "")
    assert case.status is Status.PASS
    assert case.properties == {"errors": "0", "warnings": "3", "checks": "0"}
    assert case.details.startswith(
        "WARNING:FILE_PATH_CHANGES: added, moved or deleted file(s), does MAINTAINERS need"
    )


def test_strict_checks_are_counted_and_listed() -> None:
    report = checkpatch.parse(recorded("gmem-0002.out"))
    assert (report.count("ERROR"), report.count("WARNING"), report.count("CHECK")) == (0, 1, 13)
    case = checkpatch.report_case(report, "")
    assert case.status is Status.PASS
    assert case.message == "0 errors, 1 warnings, 13 checks"
    assert ("\n" + case.details).count("\nCHECK:") == 13


def test_multi_line_quote_stays_with_its_item() -> None:
    (_, align) = checkpatch.parse(recorded("gmem-0004.out")).items
    assert align.type == "PARENTHESIS_ALIGNMENT"
    assert align.lines[1:] == (
        '+\t\t\tpr_err("hmadvise: behavior %d need hnid or is invalid\\n",',
        "+\t\t\t\tbehavior);",
    )


def test_errors_fail_the_case() -> None:
    report = checkpatch.parse(recorded("demo-broken.out"))
    case = checkpatch.report_case(report, recorded("demo-broken.out"))
    assert case.status is Status.FAIL
    assert case.message == "3 errors, 2 warnings, 0 checks; first: TRAILING_WHITESPACE"
    assert "+\tif(v) return 0;" in case.details
    assert "NOTE:" not in case.details and "has style problems" not in case.details


def test_clean_patch_passes_with_empty_details() -> None:
    case = checkpatch.report_case(checkpatch.parse(recorded("gmem-0006.out")), "")
    assert (case.status, case.details) == (Status.PASS, "")


def test_cut_output_is_an_error_not_a_pass() -> None:
    text = recorded("demo-broken.out").split("total:")[0]
    case = checkpatch.report_case(checkpatch.parse(text), text)
    assert case.status is Status.ERROR


@pytest.mark.parametrize("junk", ["", "\n\n", "ERROR:", "total: banana", "CHECK:X: y\n#1:"])
def test_parse_never_raises_and_junk_is_never_a_pass(junk: str) -> None:
    report = checkpatch.parse(junk)
    assert not report.complete  # no `total:` line: checkpatch did not run to the end
    assert checkpatch.report_case(report, junk).status is Status.ERROR


def test_check_runs_from_the_tree_on_a_file_outside_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts/checkpatch.pl").write_text("")
    seen: list[tuple[list[str], Path | None, bytes]] = []

    def fake_run(argv: list[str], cwd: Path | None = None, **_: object) -> proc.Completed:
        seen.append((argv, cwd, Path(argv[-1]).read_bytes()))
        return proc.Completed(tuple(argv), 1, recorded("demo-broken.out"), 0.5)

    monkeypatch.setattr(checkpatch.proc, "run", fake_run)
    case = checkpatch.check(tmp_path, b"Subject: x\n\nbody\n")
    ((argv, cwd, mail),) = seen
    assert argv[:5] == [
        "perl",
        "scripts/checkpatch.pl",
        "--strict",
        "--show-types",
        "--color=never",
    ]
    assert "--no-tree" not in argv and cwd == tmp_path and argv[-1].startswith("/tmp/")
    assert mail == b"Subject: x\n\nbody\n"
    assert (case.status, case.seconds) == (Status.FAIL, 0.5)


def test_tree_without_checkpatch_is_skipped(tmp_path: Path) -> None:
    assert checkpatch.check(tmp_path, b"").status is Status.SKIP
