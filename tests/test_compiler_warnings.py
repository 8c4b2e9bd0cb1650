"""New-warning detection: pure diff of gcc output by (file, function, message)."""

from __future__ import annotations

from pathlib import Path

from harness.build import compiler_warnings, make
from harness.cases import Status

FIX = Path(__file__).parent / "fixtures" / "warnings"

BEFORE = """\
  CC      mm/gmem.c
mm/gmem.c: In function 'gm_dev_create':
mm/gmem.c:120:13: warning: variable 'ret' set but not used [-Wunused-but-set-variable]
  120 |         int ret;
      |             ^~~
mm/gmem.c: At top level:
mm/gmem.c:300:6: warning: no previous prototype for 'gm_helper' [-Wmissing-prototypes]
  300 | void gm_helper(void)
      |      ^~~~~~~~~
""".splitlines()


def shifted(lines: list[str], by: int) -> list[str]:
    """The same warnings after code above them moved: new line numbers and columns."""
    out = []
    for line in lines:
        m = make.DIAGNOSTIC.match(line)
        if m:
            line = line.replace(f":{m['line']}:{m['col']}:", f":{int(m['line']) + by}:9:")
        out.append(line)
    return out


def test_moved_warnings_are_not_new() -> None:
    assert compiler_warnings.new_warnings(BEFORE, shifted(BEFORE, 40)) == []


def test_new_and_replaced_warnings_are_reported() -> None:
    after = [
        *shifted(BEFORE, 3),
        "mm/gmem.c: In function 'gm_dev_create':",
        "mm/gmem.c:130:9: warning: unused variable 'x' [-Wunused-variable]",
    ]
    assert compiler_warnings.new_warnings(BEFORE, after) == [
        "mm/gmem.c:130:9: warning: unused variable 'x' [-Wunused-variable]"
    ]
    replaced = [line.replace("'ret'", "'err'") for line in BEFORE]
    assert compiler_warnings.new_warnings(BEFORE, replaced) == [
        "mm/gmem.c:120:13: warning: variable 'err' set but not used [-Wunused-but-set-variable]"
    ]


def test_same_message_in_another_function_is_new() -> None:
    after = [line.replace("gm_dev_create", "gm_dev_destroy") for line in BEFORE]
    assert len(compiler_warnings.new_warnings(BEFORE, after)) == 1


def test_a_second_copy_of_a_warning_is_new() -> None:
    after = [*BEFORE, "mm/gmem.c:310:6: warning: no previous prototype for 'gm_helper' [-Wx]"]
    assert len(compiler_warnings.new_warnings(BEFORE, after + after[-1:])) == 2


def test_unicode_quotes_and_context_lines() -> None:
    (diag,) = compiler_warnings.parse(
        [
            "fs/x.c: In function ‘f’:",
            "fs/x.c:3:7: warning: unused variable ‘y’ [-Wunused-variable]",
            "    3 |   int y;",
            "      |       ^",
        ]
    )
    assert diag.key == ("fs/x.c", "f", "unused variable ‘y’ [-Wunused-variable]")
    assert compiler_warnings.render([diag]).splitlines() == [
        "   fs/x.c: In function ‘f’:",
        ">> fs/x.c:3:7: warning: unused variable ‘y’ [-Wunused-variable]",
        "       3 |   int y;",
        "         |       ^",
    ]


def test_errors_are_diagnostics_of_their_own_kind_and_notes_are_none() -> None:
    found = compiler_warnings.parse(["a.c:1:1: error: x", "a.c:1:1: note: y", "garbage", ""])
    assert [(d.kind, d.message) for d in found] == [("error", "x")]
    assert compiler_warnings.new_warnings([], ["a.c:1:1: error: x"]) == []


def test_paths_are_made_tree_relative() -> None:
    text = "../../worktrees/debian-6.12-1/mm/a.c:1:2: warning: w\n/src/wt/mm/b.c:3:4: warning: v"
    out = compiler_warnings.strip_prefixes(text, ["/src/wt/", "../../worktrees/debian-6.12-1/"])
    assert out == "mm/a.c:1:2: warning: w\nmm/b.c:3:4: warning: v"


def test_touched_objects_are_the_c_files() -> None:
    files = ["mm/Makefile", "mm/gmem.c", "include/linux/gmem.h", "/dev/null", "fs/a.c"]
    assert compiler_warnings.touched_objects(files) == ["mm/gmem.o", "fs/a.o"]


def test_case_fails_on_new_warnings_only() -> None:
    before = compiler_warnings.ObjectBuild(
        ("mm/gmem.o",), (), tuple(BEFORE), "make O=build_dir W=1 mm/gmem.o"
    )
    same = compiler_warnings.warnings_case(before, before)
    assert (same.status, same.message) == (Status.PASS, "no new W=1 warnings (2 already there)")
    after = compiler_warnings.ObjectBuild(
        ("mm/gmem.o",), (), (*BEFORE, "mm/gmem.c:9:1: warning: w [-Wx]"), before.command
    )
    case = compiler_warnings.warnings_case(before, after)
    assert case.status is Status.FAIL
    assert case.details == ">> mm/gmem.c:9:1: warning: w [-Wx]"
    assert case.properties["new"] == "1"
    assert case.properties["make"] == "make O=build_dir W=1 mm/gmem.o"


def test_case_without_objects() -> None:
    empty = compiler_warnings.ObjectBuild()
    assert compiler_warnings.warnings_case(empty, empty).status is Status.PASS
    broken = compiler_warnings.ObjectBuild((), ("mm/gmem.o",), ())
    assert compiler_warnings.warnings_case(empty, broken).status is Status.SKIP


def test_recorded_kernel_w1_output() -> None:
    prefix = ["../../worktrees/debian-6.12-1/"]
    before = compiler_warnings.strip_prefixes(
        (FIX / "w1-before.log").read_text(), prefix
    ).splitlines()
    after = compiler_warnings.strip_prefixes(
        (FIX / "w1-after.log").read_text(), prefix
    ).splitlines()
    expected = (FIX / "w1-new.txt").read_text().splitlines()
    assert compiler_warnings.new_warnings(before, after) == expected
    (diag,) = compiler_warnings.new_diagnostics(before, after)
    assert diag.function == "harness_demo_show"
    assert diag.source == ("   15 |         int shown;", "      |             ^~~~~")
