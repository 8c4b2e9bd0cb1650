"""Hostile mail at intake: every path git would write is checked, absurd patch counts are
refused in constant memory, and the CLI says so in one line with exit 2."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest
from conftest import PROJECT

from harness import cli
from harness.errors import UserError
from harness.intake import series, thread

BUILD_BREAK = next((PROJECT / "patches/fixtures/build-break").glob("*.patch"))

RENAME = """\
diff --git a/mm/mmap.c b/mm/{new}
similarity index 100%
{kind} from {old}
{kind} to {to}
"""


def _series_with(tmp_path: Path, text: str) -> Path:
    (tmp_path / "0001-x.patch").write_text(text)
    return tmp_path


def _rename_patch(kind: str, old: str, to: str) -> str:
    """The build-break fixture's mail with a rename or copy before its diff."""
    mail = BUILD_BREAK.read_text()
    extra = RENAME.format(kind=kind, old=old, to=to, new="mmap2.c")
    return mail.replace("diff --git a/mm/mmap.c", extra + "diff --git a/mm/mmap.c", 1)


@pytest.mark.parametrize(
    ("kind", "old", "to"),
    [
        ("rename", "mm/mmap.c", "../../x"),
        ("rename", "../../etc/passwd", "mm/x"),
        ("copy", "/etc/shadow", "mm/x"),
        ("copy", "mm/mmap.c", "/tmp/x"),
        ("rename", "mm/mmap.c", '"mm/\\056\\056/\\056\\056/x"'),
    ],
)
def test_rename_and_copy_paths_are_checked(tmp_path: Path, kind: str, old: str, to: str) -> None:
    _series_with(tmp_path, _rename_patch(kind, old, to))
    with pytest.raises(UserError, match="escapes the tree"):
        series.load(tmp_path)


def test_a_harmless_rename_is_read(tmp_path: Path) -> None:
    _series_with(tmp_path, _rename_patch("rename", "mm/mmap.c", "mm/mmap2.c"))
    (s,) = series.load(tmp_path)
    assert "mm/mmap2.c" in s.patches[0].files


@pytest.mark.parametrize(
    "header",
    [
        'diff --git "a/\\056\\056/etc/passwd" "b/\\056\\056/etc/passwd"',
        'diff --git "a/mm/../../x y" "b/mm/../../x y"',
        'diff --git "a/\\057etc/passwd" "b/\\057etc/passwd"',
    ],
)
def test_c_quoted_header_paths_are_unquoted_then_checked(tmp_path: Path, header: str) -> None:
    """git reads "a/\\056\\056/x" as a/../x: the check must see what git sees."""
    _series_with(
        tmp_path, BUILD_BREAK.read_text().replace("diff --git a/mm/mmap.c b/mm/mmap.c", header)
    )
    with pytest.raises(UserError, match="escapes the tree"):
        series.load(tmp_path)


def test_c_quoted_path_with_a_space_and_utf8_is_a_file(tmp_path: Path) -> None:
    text = BUILD_BREAK.read_text().replace(
        "diff --git a/mm/mmap.c b/mm/mmap.c",
        'diff --git "a/mm/m \\303\\244p.c" "b/mm/m \\303\\244p.c"',
    )
    (s,) = series.load(_series_with(tmp_path, text))
    assert s.patches[0].files[0] == "mm/m äp.c"


def test_malformed_quoting_is_bad_input(tmp_path: Path) -> None:
    text = BUILD_BREAK.read_text().replace("+++ b/mm/mmap.c", '+++ "b/mm/\\q"')
    with pytest.raises(UserError, match="malformed quoted path"):
        series.load(_series_with(tmp_path, text))


@pytest.mark.parametrize("total", ["999999999", "9" * 5000, "0" * 3000 + "5001"])
def test_an_absurd_patch_count_is_refused_in_constant_memory(tmp_path: Path, total: str) -> None:
    text = BUILD_BREAK.read_text().replace("[PATCH]", f"[PATCH 1/{total}]")
    _series_with(tmp_path, text)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(UserError, match="at most 5000 patches"):
            series.load(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000 and time.monotonic() - started < 2


def test_a_large_but_plausible_count_still_says_what_is_missing() -> None:
    with pytest.raises(UserError, match="missing 2/300, 3/300"):
        thread.check_numbering(["[PATCH 1/300] a"], Path("x"))


def test_the_cli_says_it_in_one_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _series_with(tmp_path, _rename_patch("rename", "mm/mmap.c", "../../x"))
    out = tmp_path / "results"
    assert cli.main(["apply", str(tmp_path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "escapes the tree" in err[0]
    assert not out.exists()
