"""diffparse on real GMEM mails and on broken input."""

from pathlib import Path

from harness.intake.diffparse import added_lines, parse_diff, removed_lines

GMEM = Path(__file__).parent / "fixtures" / "check" / "gmem"


def gmem(n: int) -> str:
    return next(GMEM.glob(f"000{n}-*.patch")).read_text()


def test_gmem_1_files_and_counts_match_the_diffstat() -> None:
    files = parse_diff(gmem(1))
    assert [(f.path, f.is_new, len(f.added), len(f.removed)) for f in files] == [
        ("drivers/base/node.c", False, 6, 0),
        ("include/linux/gmem.h", True, 19, 0),
        ("include/linux/nodemask.h", False, 10, 0),
        ("init/main.c", False, 2, 0),
        ("mm/Kconfig", False, 14, 0),
        ("mm/Makefile", False, 1, 0),
        ("mm/gmem.c", True, 78, 0),
        ("mm/page_alloc.c", False, 3, 0),
    ]


def test_every_gmem_patch_matches_its_diffstat_totals() -> None:
    totals = {1: (133, 0), 2: (309, 1), 3: (605, 0), 4: (247, 3), 5: (159, 4), 6: (203, 13)}
    for n, (plus, minus) in totals.items():
        files = parse_diff(gmem(n))
        assert sum(len(f.added) for f in files) == plus, n
        assert sum(len(f.removed) for f in files) == minus, n


def test_line_numbers_follow_the_hunk_header() -> None:
    files = parse_diff(gmem(4))
    generic = added_lines(files, "include/uapi/asm-generic/unistd.h")
    (lines,) = generic.values()
    assert (lines[0].number, lines[0].text) == (832, "#define __NR_hmadvise 453")
    (gone,) = removed_lines(files, "include/uapi/asm-generic/unistd.h").values()
    assert (gone[0].number, gone[0].text) == (833, "#define __NR_syscalls 457")


def test_glob_patterns_cross_directories() -> None:
    files = parse_diff(gmem(4))
    assert sorted(added_lines(files, "*unistd*.h")) == [
        "arch/arm64/include/asm/unistd.h",
        "arch/arm64/include/asm/unistd32.h",
        "include/uapi/asm-generic/unistd.h",
        "tools/include/uapi/asm-generic/unistd.h",
    ]


def test_the_mail_signature_is_not_part_of_the_last_hunk() -> None:
    last = parse_diff(gmem(4))[-1]
    assert all(not line.text.startswith("- ") for line in last.removed)
    assert last.removed[-1].text == "#define __NR_syscalls 453"


def test_deleted_file_and_no_newline_marker() -> None:
    diff = (
        "diff --git a/old.c b/old.c\ndeleted file mode 100644\n--- a/old.c\n+++ /dev/null\n"
        "@@ -1,2 +0,0 @@\n-int a;\n-int b;\n\\ No newline at end of file\n"
    )
    (f,) = parse_diff(diff)
    assert (
        f.is_deleted and f.path == "old.c" and [x.text for x in f.removed] == ["int a;", "int b;"]
    )


def test_garbage_never_raises() -> None:
    assert parse_diff("") == []
    assert parse_diff("hello\n@@ -1 +1 @@\n+x\n") == []
    assert parse_diff(None) == []  # type: ignore[arg-type]
    short = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,5 +1,6 @@\n ctx\n+new\n@@ bogus\n"
    (f,) = parse_diff(short)
    assert [x.text for x in f.added] == ["new"]
    binary = "diff --git a/a.bin b/a.bin\nBinary files a/a.bin and b/a.bin differ\n"
    assert parse_diff(binary)[0].hunks == ()
