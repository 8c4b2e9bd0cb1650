"""check_hygiene on the GMEM mails, a synthetic sloppy patch and a clean one.

get_maintainer.pl output was recorded from the Debian 6.12.117 tree for every target the
GMEM mails touch (tests/fixtures/check/get_maintainer.json); tree/ has empty placeholders for
the touched files, because only their existence matters (file vs. directory target).
"""

import json
from collections.abc import Sequence
from pathlib import Path

from harness.cases import Status
from harness.review import check_hygiene
from harness.review.checker_findings import Severity, findings_case, render

FIX = Path(__file__).parent / "fixtures" / "check"
TREE = FIX / "tree"
RECORDED: dict[str, str] = json.loads((FIX / "get_maintainer.json").read_text())
MM_ONLY = (
    "Andrew Morton <akpm@linux-foundation.org> (maintainer:MEMORY MANAGEMENT)\n"
    "linux-mm@kvack.org (open list:MEMORY MANAGEMENT)\n"
)


def recorded(argv: Sequence[str], cwd: Path) -> str:
    assert list(argv[:4]) == ["perl", "scripts/get_maintainer.pl", "--no-git", "--no-git-fallback"]
    return RECORDED.get(argv[-1], MM_ONLY)


def gmem(n: int) -> str:
    return next((FIX / "gmem").glob(f"000{n}-*.patch")).read_text()


def test_gmem_series_matches_golden() -> None:
    parts = []
    for p in sorted((FIX / "gmem").glob("000*.patch")):
        parts.append(
            f"== {p.name}\n" + render(check_hygiene.check_patch(p.read_text(), TREE, recorded))
        )
    assert "\n".join(parts) + "\n" == (FIX / "gmem" / "expected-hygiene.txt").read_text()


def test_gmem_vm_object_header_was_copied_from_alpha_bootp() -> None:
    (finding,) = [
        f
        for f in check_hygiene.check_patch(gmem(2), TREE, recorded)
        if f.severity is Severity.WARNING
    ]
    assert finding.file == "mm/vm_object.c"
    assert "arch/alpha/boot/bootp.c" in finding.message
    assert " * Copyright (C) 1997 Jay Estabrook" in finding.lines


def test_gmem_long_subjects_warn_but_pass() -> None:
    findings = check_hygiene.check_patch(gmem(4), TREE, recorded)
    assert "subject is 86 characters (max 75)" in [f.message for f in findings]
    assert findings_case("hygiene", findings).status is Status.PASS


def test_synthetic_sloppy_patch() -> None:
    text = (FIX / "synthetic" / "collisions.patch").read_text()
    findings = check_hygiene.check_patch(text, TREE, recorded)
    messages = {(f.severity, f.message) for f in findings}
    assert (
        Severity.ERROR,
        "no Signed-off-by from the author Ada Example <ada@example.org>",
    ) in messages
    assert (Severity.WARNING, "subject has no `subsystem: ` prefix") in messages
    assert (Severity.WARNING, "subject ends with a period") in messages
    assert (Severity.ERROR, "new file has no SPDX-License-Identifier on line 1") in messages
    assert any("header comment names linux/mm/mmap.c, not mm/frob.c" in m for _, m in messages)
    assert findings_case("hygiene", findings).status is Status.FAIL


def test_clean_patch_has_no_findings() -> None:
    text = (FIX / "synthetic" / "clean.patch").read_text()
    assert check_hygiene.check_patch(text, TREE, recorded) == []


def test_file_without_any_list_warns() -> None:
    def no_list(argv: Sequence[str], cwd: Path) -> str:
        return "Some One <one@example.org> (maintainer:FROB)\n"

    text = (FIX / "synthetic" / "clean.patch").read_text()
    findings = check_hygiene.check_patch(text, TREE, no_list)
    assert findings and all("finds no mailing list" in f.message for f in findings)


def test_runner_failure_is_a_crash_finding_not_an_exception() -> None:
    """get_maintainer.pl that fails means the check could not run: an ERROR case, not a pass."""

    def broken(argv: Sequence[str], cwd: Path) -> str:
        raise OSError(f"{argv[0]} exited with 2")  # what run_command raises

    (finding,) = check_hygiene.check_patch(gmem(1), TREE, broken)[-1:]
    assert finding.severity is Severity.CRASH and "get_maintainer.pl failed" in finding.message
    assert findings_case("hygiene", [finding]).status is Status.ERROR


def test_cover_letter_and_garbage() -> None:
    cover = Path("/work/shared/series/gmem-rfc-v1") / "0000-cover-letter.patch"
    if cover.is_file():
        assert check_hygiene.check_patch(cover.read_text(), TREE, recorded) == []
    assert check_hygiene.check_patch("", TREE, recorded) == []
    assert check_hygiene.check_patch("\x00\xff garbage", None) == []


def test_signoff_matches_by_name_or_address() -> None:
    body = "text\n\nSigned-off-by: ADA <Ada@Example.org>\n---\n"
    assert check_hygiene.signoff_findings("Ada Example <ada@example.org>", body) == []
    assert (
        check_hygiene.signoff_findings("x <x@y>", "no trailers\n---\n")[0].message
        == "no Signed-off-by"
    )
