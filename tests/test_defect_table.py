"""The findings table (review/defect_table.py, defect_report.py) on synthetic Cases and on the
recorded GMEM runs of tests/fixtures/findings/ (see the README there)."""

from pathlib import Path

from harness.cases import Case, Status
from harness.review import defect_report, defect_table

FIX = Path(__file__).parent / "fixtures"
GMEM = sorted((FIX / "check" / "gmem").glob("000*.patch"))
SERIES = defect_table.SeriesText(
    tuple((n, p.read_text()) for n, p in enumerate(GMEM, 1)), len(GMEM), "harness test x"
)
KASAN = """BUG: KASAN: slab-use-after-free in gm_alloc_va_in_peer_devices+0x5c/0x1a0
Read of size 8 at addr ffff888004a1b2c0 by task as_lifecycle/93
Call Trace:
 <TASK>
 dump_stack_lvl+0x5d/0x80
 gm_alloc_va_in_peer_devices+0x5c/0x1a0
 mmap_region+0x1f3/0x2a0
"""


def incident() -> Case:
    props = {"kind": "KASAN", "workload": "gmem/as_lifecycle", "line": "10"}
    title = "BUG: KASAN: slab-use-after-free in gm_alloc_va_in_peer_devices+0x5c/0x1a0"
    return Case("KASAN during gmem/as_lifecycle", Status.FAIL, title, KASAN, properties=props)


def subtest(name: str, blame: str = "") -> Case:
    diag = [f"# {name}: /x/as_lifecycle.c:60: expected a == b", f"# {name}: the device forgot"]
    diag += [f"# {name}: blame: {blame}"] if blame else []
    return Case(name, Status.FAIL, f"{name}: expected", "\n".join(diag))


def check_suite() -> Case:
    api = Case(
        "api",
        Status.FAIL,
        "x",
        "error: mm/gmem.c:121: __WQ_LEGACY is internal to the workqueue code\n"
        "    __WQ_LEGACY | WQ_UNBOUND | WQ_HIGHPRI |",
    )
    hygiene = Case("hygiene", Status.PASS, "", "warning: mm/gmem.c: SPDX line")
    return Case("0003 mm/gmem: add GMEM", children=[api, hygiene])


def test_rows_are_placed_and_ordered_by_severity() -> None:
    gm = Case("gmem", children=[Case("as_lifecycle", children=[subtest("loop", "gm_as_destroy")])])
    tests = [gm, Case("console gmem:as_lifecycle", children=[incident()])]
    rows = defect_table.defects([check_suite()], SERIES, tests, SERIES)
    assert [(r.severity, r.patch, r.where) for r in rows] == [
        ("memory safety", "5/6", "mm/gmem.c gm_alloc_va_in_peer_devices()"),
        ("broken promise", "3/6", "mm/gmem.c gm_as_destroy()"),
        ("error", "3/6", "mm/gmem.c:121 gmem_init()"),
    ]  # the hygiene warning is style, not a defect
    assert rows[0].found_by == "kasan report (as_lifecycle)"
    assert rows[1].what == "the device forgot"
    # `--suite SUITE:WORKLOAD` boots that workload only: the row's one-line reproducer
    assert rows[0].reproducer == "harness test x --suite gmem:as_lifecycle"
    assert rows[1].reproducer == (
        "harness test x --suite gmem:as_lifecycle"
        "  # one subtest, by hand: GMEM_ONLY=loop sh run.sh as_lifecycle"
    )


def test_the_same_defect_found_twice_is_one_row_naming_both() -> None:
    twice = [Case("c1", children=[incident()]), Case("c2", children=[incident()])]
    (row,) = defect_table.defects([], SERIES, twice, SERIES)
    assert row.found_by == "kasan report (as_lifecycle)"
    other = incident()
    other.properties["workload"] = "gmem/fork"
    rows = defect_table.defects([], SERIES, [Case("c", children=[incident(), other])], SERIES)
    assert [r.found_by for r in rows] == ["kasan report (as_lifecycle); kasan report (fork)"]


def test_a_subtest_without_blame_has_no_place_and_passes_are_no_rows() -> None:
    ok = Case("fine", Status.PASS)
    gm = Case("gmem", children=[Case("mmap_retry", children=[subtest("first"), ok])])
    (row,) = defect_table.defects([], SERIES, [gm], SERIES)
    assert (row.patch, row.where, row.found_by) == ("", "-", "workload mmap_retry/first")


def test_a_syscall_definition_is_named_after_its_sys_function() -> None:
    assert defect_table.defined_name(
        "SYSCALL_DEFINE4(hmadvise, int, hnid, unsigned long, start,"
    ) == ("sys_hmadvise")
    assert (
        defect_table.defined_name("static int gm_as_destroy(struct gm_as *as)") == "gm_as_destroy"
    )
    assert defect_table.defined_name("if (x) {") == ""
    assert defect_table.defined_name("int gm_as_destroy(struct gm_as *as);") == ""
    assert defect_table.locate("sys_hmadvise", SERIES) == ("4/6", "mm/gmem.c")


def test_markdown_escapes_pipes_and_the_readme_markers_take_the_table() -> None:
    row = defect_table.Defect(0, "crash", "1/6", "a|b", "x", "y", "z")
    table = defect_table.markdown([row])
    assert "`a\\|b`" in table
    readme = f"head\n{defect_report.BEGIN}\nold\n{defect_report.END}\ntail\n"
    assert defect_report.with_table(readme, table) == (
        f"head\n{defect_report.BEGIN}\n{table}{defect_report.END}\ntail\n"
    )


def test_reproducers_leave_out_where_the_run_wrote() -> None:
    argv = ["check", "patches/gmem-rfc-v1", "--out", "/tmp/x", "--cache=/c", "--base", "d"]
    assert defect_report.reproducer(argv) == ["check", "patches/gmem-rfc-v1", "--base", "d"]
    ran = ["test", "p", "--suite", "gmem:mmap_retry,thp_race", "--kconfig", "debug.config"]
    assert defect_report.reproducer(ran) == ["test", "p", "--kconfig", "debug.config"]


def other_runs() -> list[Path]:
    """The recorded runs beside the verbatim series' check: the port's test runs and its
    build-matrix check (tests/fixtures/findings/README.md)."""
    runs = FIX / "findings"
    return sorted(p for p in [*runs.glob("test-*"), *runs.glob("matrix-*")] if p.is_dir())


def test_the_gmem_readme_table_is_the_one_the_recorded_runs_generate() -> None:
    runs = FIX / "findings"
    table = defect_table.markdown(defect_report.rows(runs / "check-gmem-rfc-v1", other_runs()))
    readme = (Path(__file__).parents[1] / "guest-tests" / "gmem" / "README.md").read_text()
    assert defect_report.with_table(readme, table) == readme, "regenerate: see the README"


def test_every_workload_blame_names_a_function_the_port_defines_or_changes() -> None:
    """A KT_CASE_B blame is where a failing subtest's findings row points: a name the
    series neither defines nor changes (a typo, a function of the base) has no place."""
    import re

    root = Path(__file__).parents[1]
    port = sorted((root / "patches" / "gmem-rfc-v1-6.12").glob("000[1-9]-*.patch"))
    series = defect_table.SeriesText(tuple((n, p.read_text()) for n, p in enumerate(port, 1)), 7)
    blames = {
        (src.stem, m[1], m[2])
        for src in (root / "guest-tests" / "gmem" / "src").glob("*.c")
        for m in re.finditer(r'KT_CASE_B\(t_(\w+), \d+, "(\w+)"\)', src.read_text())
    }
    assert len(blames) > 70  # all 16 workloads carry some
    unplaced = [b for b in sorted(blames) if defect_table.locate(b[2], series) == ("", "")]
    assert unplaced == []


def test_report_takes_every_recorded_run_and_writes_the_readme_table(tmp_path: Path) -> None:
    """The README's regenerate command: `--tests` once per recorded test run."""
    import shutil

    from harness import cli

    runs = FIX / "findings"
    check = tmp_path / "check"
    shutil.copytree(runs / "check-gmem-rfc-v1", check)  # report writes its mail there
    readme = Path(__file__).parents[1] / "guest-tests" / "gmem" / "README.md"
    target = tmp_path / "README.md"
    target.write_text(defect_report.with_table(readme.read_text(), "stale\n"))
    tests = [a for p in other_runs() for a in ("--tests", str(p))]
    assert cli.main(["report", str(check), *tests, "--findings-md", str(target)]) == 0
    assert target.read_text() == readme.read_text()


def test_a_row_merged_twice_names_each_finder_once() -> None:
    row = defect_table.Defect(
        0, "crash", "2/7", "f()", "bug report (a); bug report (b)", "BUG", "r"
    )
    merged = defect_table._with_finder(row, "bug report (c); bug report (a)")
    assert merged.found_by == "bug report (a); bug report (b); bug report (c)"


def test_the_build_matrix_s_findings_are_rows_found_by_their_cells() -> None:
    from harness.build import matrix
    from harness.build.compiler_warnings import ObjectBuild

    patch = (
        "diff --git a/drivers/x/x.c b/drivers/x/x.c\n--- a/drivers/x/x.c\n+++ b/drivers/x/x.c\n"
        "@@ -1,2 +1,4 @@\n int a;\n+static int x_probe(void)\n+{\n+\treturn ret;\n"
    )
    series = defect_table.SeriesText(((1, patch),), 1)
    warning = "drivers/x/x.c:4:9: warning: variable 'ret' is uninitialized when used here"
    obj = ("drivers/x/x.o",)
    cells = [
        matrix.cell_case(matrix.CellResult(matrix.CELLS[name], ObjectBuild(obj), after))
        for name, after in [
            ("x86_64-clang", ObjectBuild(obj, (), (warning,))),
            ("i386", ObjectBuild(obj, (), (), undefined=("drivers/x/x.o __udivdi3",))),
        ]
    ]
    check = [Case("0001 x", children=[Case("matrix", children=cells)])]
    rows = defect_table.defects(check, series, [], series)
    assert [(r.severity, r.where, r.found_by) for r in rows] == [
        ("error", "drivers/x/x.ko", "check matrix i386"),
        ("warning", "drivers/x/x.c:4 x_probe()", "check matrix x86_64-clang"),
    ]
    assert rows[0].what.startswith('modpost: "__udivdi3" [drivers/x/x.ko]')
    assert rows[1].reproducer.endswith("W=1 drivers/x/x.o")
    # one message in many places of a file is one row, in every cell that printed it
    again = warning.replace(":4:9:", ":9:2:")
    twice = matrix.cell_case(
        matrix.CellResult(
            matrix.CELLS["arm64"], ObjectBuild(obj), ObjectBuild(obj, (), (warning, again))
        )
    )
    check[0].children[0].children.append(twice)
    (row,) = [r for r in defect_table.defects(check, series, [], series) if r.severity == "warning"]
    assert row.found_by == "check matrix x86_64-clang, arm64" and row.what.endswith("(2 places)")
