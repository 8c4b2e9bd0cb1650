from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PROJECT

from harness.errors import UserError
from harness.intake import series

GMEM = PROJECT / "patches/gmem-rfc-v1"


def test_gmem_verbatim_series_is_read_with_cover_and_ids() -> None:
    (s,) = series.load(GMEM)
    assert s.cover is not None
    assert s.subject.startswith("[RFC PATCH 0/6] Supporting GMEM")
    assert len(s.patches) == 6
    assert [p.number for p in s.patches] == [1, 2, 3, 4, 5, 6]
    assert s.message_id == "<20231128125025.4449-1-weixi.zhu@huawei.com>"
    assert s.patches[0].message_id == "<20231128125025.4449-2-weixi.zhu@huawei.com>"
    assert all(p.in_reply_to == s.message_id for p in s.patches)
    assert "mm/gmem.c" in s.patches[0].files
    assert s.config.cmdline == ("gmem=on",)
    assert s.base_commit == ""


def test_fixture_series_reads_series_yaml() -> None:
    (s,) = series.load(PROJECT / "patches/fixtures/demo")
    assert s.name == "fixture-demo"
    assert s.config.suites == ("smoke", "demo")


def test_directory_of_series_gives_each(tmp_path: Path) -> None:
    found = series.load(PROJECT / "patches/fixtures")
    assert {s.name for s in found} >= {"fixture-demo", "fixture-build-break", "fixture-boot-panic"}


def test_single_mbox_file(tmp_path: Path) -> None:
    mbox = tmp_path / "all.mbox"
    mbox.write_bytes(b"".join(p.read_bytes() for p in sorted(GMEM.glob("*.patch"))))
    (s,) = series.load(mbox)
    assert len(s.patches) == 6 and s.cover is not None


def test_base_commit_trailer_is_kept(tmp_path: Path) -> None:
    src = (PROJECT / "patches/fixtures/build-break").glob("*.patch")
    text = next(src).read_text().replace("-- \n", "base-commit: 0123456789abcdef\n-- \n", 1)
    (tmp_path / "0001-x.patch").write_text(text)
    (s,) = series.load(tmp_path)
    assert s.base_commit == "0123456789abcdef"


BAD_INPUTS = {
    "empty.patch": ("", "empty file"),
    "notes.txt": ("hello", "not a patch file"),
    "nomail.patch": ("just some text\n", "not a mail"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_files_are_user_errors(tmp_path: Path, name: str) -> None:
    content, expected = BAD_INPUTS[name]
    (tmp_path / name).write_text(content)
    with pytest.raises(UserError, match=expected):
        series.load(tmp_path)


def _one_patch(tmp_path: Path, transform: str, replacement: str) -> Path:
    text = next((PROJECT / "patches/fixtures/build-break").glob("*.patch")).read_text()
    assert transform in text
    (tmp_path / "0001-x.patch").write_text(text.replace(transform, replacement))
    return tmp_path


def test_path_escaping_the_tree_is_refused(tmp_path: Path) -> None:
    _one_patch(tmp_path, "a/mm/mmap.c b/mm/mmap.c", "a/../etc/passwd b/../etc/passwd")
    with pytest.raises(UserError, match="escapes the tree"):
        series.load(tmp_path)


def test_absolute_path_is_refused(tmp_path: Path) -> None:
    _one_patch(tmp_path, "+++ b/mm/mmap.c", "+++ /etc/passwd")
    with pytest.raises(UserError, match="escapes the tree"):
        series.load(tmp_path)


def test_corrupt_hunk_is_refused(tmp_path: Path) -> None:
    _one_patch(tmp_path, "@@ -59,6 +59,9 @@", "@@ -59,6 +59,12 @@")
    with pytest.raises(UserError, match="corrupt hunk"):
        series.load(tmp_path)


def test_a_form_feed_inside_a_line_is_part_of_that_line(tmp_path: Path) -> None:
    """One line walker for validation and for the checkers: newlines end lines, nothing else
    (str.splitlines() would split at the form feed and call the hunk corrupt)."""
    from harness.intake.diffparse import parse_diff

    text = next((PROJECT / "patches/fixtures/build-break").glob("*.patch")).read_text()
    added = next(line for line in text.split("\n") if line.startswith("+static"))
    _one_patch(tmp_path, added, added + "  /* \x0c */")
    (s,) = series.load(tmp_path)
    (diff,) = parse_diff(s.patches[0].diff)
    assert any("\x0c" in line.text for line in diff.added)


def test_empty_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="empty series"):
        series.load(tmp_path)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        series.load(tmp_path / "nope")


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("name: [unclosed", "invalid YAML"),
        ("colour: blue\n", "unknown key 'colour'"),
        ("timeout: soon\n", "'timeout' must be a int"),
        ("suites: smoke\n", "'suites' must be a list"),
        ("suites: [1, 2]\n", "every item of 'suites'"),
        ("- a\n- b\n", "expected a mapping"),
        ("xfail: {a: 3}\n", "reason strings"),
        ("timeout: true\n", "'timeout' must be a int"),
    ],
)
def test_bad_series_yaml(tmp_path: Path, yaml_text: str, expected: str) -> None:
    _one_patch(tmp_path, "static int", "static int")
    (tmp_path / "series.yaml").write_text(yaml_text)
    with pytest.raises(UserError, match=expected):
        series.load(tmp_path)
