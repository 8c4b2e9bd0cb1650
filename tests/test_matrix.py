"""The build robots' matrix (build/matrix.py) on recorded compiler output and on the real
patches of the kernel test robot corpus (tests/fixtures/robot-cases): which options a
patch is built with turned off, and what a cell says about a patch."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.build import compiler_warnings, matrix
from harness.build.compiler_warnings import ObjectBuild
from harness.cases import Status
from harness.errors import EnvError, UserError

CASES = Path(__file__).parent / "fixtures" / "robot-cases"


def patches(case: str) -> list[str]:
    return [p.read_text(errors="replace") for p in sorted(CASES.glob(f"{case}/0*.patch"))]


def test_the_matrix_is_named_on_the_command_line() -> None:
    assert matrix.parse("sparse,kernel, i386") == ("kernel", "i386", "sparse")
    assert matrix.DEFAULT == matrix.NAMES
    for bad in ("", "mips", "kernel,riscv"):
        with pytest.raises(UserError, match="--matrix"):
            matrix.parse(bad)


def test_each_cell_builds_as_the_robots_do() -> None:
    cells = matrix.CELLS
    assert cells["i386"].make_args() == ("ARCH=i386", "CROSS_COMPILE=i686-linux-gnu-")
    assert cells["arm64"].make_args() == ("ARCH=arm64", "CROSS_COMPILE=aarch64-linux-gnu-")
    assert cells["sparse"].make_args() == ("ARCH=x86_64", "C=1")
    clang = cells["x86_64-clang"].make_args()
    assert clang[0] == "ARCH=x86_64" and clang[1].startswith("LLVM=")
    assert cells["sparse"].prepared_as == cells["x86_64"].prepared_as  # one prepared dir
    off = matrix.Cell("x86_64-no-CONFIG_OF", "x86_64", "gcc", off="CONFIG_OF")
    line = off.reproduce(["drivers/hwmon/pmbus/lt3074.o"])
    assert line == (
        "make ARCH=x86_64 allmodconfig && scripts/config -d OF && make ARCH=x86_64 olddefconfig"
        " && make ARCH=x86_64 W=1 drivers/hwmon/pmbus/lt3074.o"
    )


def test_a_missing_toolchain_names_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matrix.shutil, "which", lambda program: None)
    matrix.clang_suffix.cache_clear()
    try:
        with pytest.raises(EnvError, match="gcc-i686-linux-gnu") as err:
            matrix.require(("kernel", "i386", "arm64", "sparse"))
        assert "gcc-aarch64-linux-gnu" in str(err.value) and "sparse" in str(err.value)
        matrix.require(("kernel",))  # today's build alone needs no more than before
    finally:
        matrix.clang_suffix.cache_clear()


@pytest.mark.parametrize(
    ("case", "number", "wanted"),
    [
        # IS_ENABLED(CONFIG_SENSORS_LT3074_REGULATOR), its `depends on REGULATOR`, and
        # of_match_ptr(): the robot's finding needed CONFIG_OF=n
        ("lt3074-of-match-unused", 2, ["CONFIG_SENSORS_LT3074_REGULATOR", "CONFIG_OF"]),
        ("ltp8800-unused-const", 2, ["CONFIG_SENSORS_LTP8800_REGULATOR"]),
        # struct acpi_device dereferenced in a driver that does not depend on ACPI
        ("applesmc-mmio-acpi-off", 1, ["CONFIG_ACPI"]),
    ],
)
def test_the_options_a_patch_is_built_with_off(case: str, number: int, wanted: list[str]) -> None:
    texts = patches(case)
    adds = matrix.added_options(texts)
    patch = next(t for t in texts if "Subject: [PATCH" in t and f" {number}/" in t)
    found = matrix.options_to_turn_off(patch, adds)
    assert set(wanted) <= set(found) and len(found) <= matrix.MAX_FLIPS, found
    # the series' own options only where its code tests them, not the driver's own
    assert all(o in wanted or o[len("CONFIG_") :] not in adds for o in found), found


def test_an_option_a_series_adds_counts_only_where_its_code_tests_it() -> None:
    patch = "\n".join(
        [
            "diff --git a/drivers/x/Kconfig b/drivers/x/Kconfig",
            "@@ -1,2 +1,5 @@",
            "+config X_NEW",
            "+\tdepends on I2C && X_NEW_PARENT",
            "diff --git a/drivers/x/x.c b/drivers/x/x.c",
            "@@ -1,2 +1,4 @@",
            "+#ifdef CONFIG_X_GUARD",
            "+\t.of_match_table = of_match_ptr(x_ids),",
        ]
    )
    assert matrix.options_to_turn_off(patch, ["X_NEW", "X_NEW_PARENT"]) == [
        "CONFIG_X_GUARD", "CONFIG_I2C", "CONFIG_OF"
    ]  # fmt: skip


CLANG = (
    "drivers/iio/dac/ad5791.c:370:35: warning: variable 'ret' is uninitialized when used here"
    " [-Wuninitialized]"
)


def cell_result(before: list[str], after: list[str], **kw: object) -> matrix.CellResult:
    objects = ("drivers/iio/dac/ad5791.o",)
    return matrix.CellResult(
        matrix.CELLS["x86_64-clang"],
        ObjectBuild(objects, (), tuple(before)),
        ObjectBuild(objects, (), tuple(after), **kw),  # type: ignore[arg-type]
        "config-x86_64-clang",
    )


def test_a_new_clang_warning_is_a_finding_in_the_robot_s_shape() -> None:
    case = matrix.cell_case(cell_result([], [CLANG, "  370 |  return ret;", "      |         ^~~"]))
    assert case.status is Status.FAIL
    assert case.message.startswith("1 new warning(s) in x86_64-clang: drivers/iio/dac/ad5791.c")
    assert f">> {CLANG}" in case.details and "config-x86_64-clang in the run dir" in case.details
    props = case.properties
    assert props["arch"] == "x86_64" and props["config"] == "allmodconfig"
    assert props["reproduce"].endswith("W=1 drivers/iio/dac/ad5791.o")


def test_a_warning_that_only_moved_is_not_new_and_says_so() -> None:
    moved = CLANG.replace(":370:35:", ":372:35:")
    case = matrix.cell_case(cell_result([CLANG], [moved]))
    assert case.status is Status.PASS and "1 warning(s) only moved" in case.message


def test_a_new_libgcc_division_on_a_32_bit_cell_is_modpost_s_error() -> None:
    obj = ("drivers/hwmon/pwm-fan.o",)
    result = matrix.CellResult(
        matrix.CELLS["i386"],
        ObjectBuild(obj, (), ()),
        ObjectBuild(obj, (), (), undefined=("drivers/hwmon/pwm-fan.o __udivdi3",)),
    )
    case = matrix.cell_case(result)
    assert case.status is Status.FAIL
    assert '>> ERROR: modpost: "__udivdi3" [drivers/hwmon/pwm-fan.ko] undefined!' in case.details


def test_an_object_that_stops_compiling_is_a_finding_never_a_skip() -> None:
    error = (
        "drivers/hwmon/applesmc.c:500:12: error: incomplete definition of type 'struct acpi_device'"
    )
    obj = ("drivers/hwmon/applesmc.o",)
    result = matrix.CellResult(
        matrix.Cell("x86_64-no-CONFIG_ACPI", "x86_64", "gcc", off="CONFIG_ACPI"),
        ObjectBuild(obj, (), ()),
        ObjectBuild((), obj, (error,)),
    )
    case = matrix.cell_case(result)
    assert case.status is Status.FAIL and "error(s)" in case.message
    assert "(only with CONFIG_ACPI=n)" in case.message and f">> {error}" in case.details
    # an object that does not compile on the base either: said, not failed, not hidden
    neither = matrix.cell_case(
        matrix.CellResult(
            matrix.CELLS["arm64"], ObjectBuild((), obj, (error,)), ObjectBuild((), obj, (error,))
        )
    )
    assert neither.status is Status.SKIP and "on the base either" in neither.message


def test_the_kernel_config_s_warnings_case_fails_an_object_that_stops_compiling() -> None:
    error = "mm/mmap.c:3:1: error: expected ';'"
    obj = ("mm/mmap.o",)
    case = compiler_warnings.warnings_case(ObjectBuild(obj, (), ()), ObjectBuild((), obj, (error,)))
    assert case.status is Status.FAIL and "1 new error(s): mm/mmap.c" in case.message
    base_too = compiler_warnings.warnings_case(
        ObjectBuild((), obj, (error,)), ObjectBuild((), obj, (error,))
    )
    assert base_too.status is Status.SKIP and "on the base either" in base_too.message


def test_sparse_s_type_lines_stay_with_their_warning() -> None:
    where = "drivers/hwmon/applesmc.c:257:31:"
    lines = [
        f"{where} warning: incorrect type in argument 1 (different address spaces)",
        f"{where}    expected void const [noderef] __iomem *",
        f"{where}    got unsigned char [usertype] *",
    ]
    (diag,) = compiler_warnings.parse(lines)
    assert diag.source == tuple(lines[1:]) and diag.message.startswith("incorrect type")
    assert compiler_warnings.normalised("'x' declared at line 12") == "'x' declared at line N"


def test_a_changed_header_brings_the_files_that_include_it(tmp_path: Path) -> None:
    """A struct changed in a header breaks a user the patch never touched (the robot's
    arm64 build of iio-test-rescale.c after struct rescale lost two members)."""
    import subprocess

    tree = tmp_path / "tree"
    files = {
        "include/linux/iio/afe/rescale.h": "struct rescale { int numerator; };\n",
        "drivers/iio/afe/iio-rescale.c": "#include <linux/iio/afe/rescale.h>\n",
        "drivers/iio/test/iio-test-rescale.c": "#include <linux/iio/afe/rescale.h>\n",
        "drivers/other/x.c": "#include <linux/kernel.h>\n",
        "drivers/iio/afe/local.h": "\n",
        "drivers/iio/afe/uses-local.c": '#include "local.h"\n',
    }
    for name, text in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
    subprocess.run(["git", "init", "-q", str(tree)], check=True)
    subprocess.run(["git", "-C", str(tree), "add", "-A"], check=True)
    touched = ["drivers/iio/afe/iio-rescale.c", "include/linux/iio/afe/rescale.h"]
    assert matrix.objects_for(touched, tree) == [
        "drivers/iio/afe/iio-rescale.o", "drivers/iio/test/iio-test-rescale.o"
    ]  # fmt: skip
    assert matrix.header_users("drivers/iio/afe/local.h", tree) == ["drivers/iio/afe/uses-local.c"]


def test_kcidb_gets_a_build_per_cell_that_its_schema_takes() -> None:
    from harness.cases import Case
    from harness.ci import kcidb

    clang = matrix.cell_case(cell_result([], [CLANG]))
    quiet = matrix.cell_case(
        matrix.CellResult(matrix.CELLS["i386"], ObjectBuild(("a.o",)), ObjectBuild(("a.o",)))
    )
    suites = [
        Case("0001 a", children=[Case("matrix", children=[clang, quiet])]),
        Case("0002 b", children=[Case("matrix", children=[quiet, quiet])]),
    ]
    meta = {"run": "r1", "base_commit": "a" * 40, "compiler": "gcc 12"}
    data = kcidb.report(meta, suites, "harness")
    kcidb.validate(data)
    builds = {b["misc"]["cell"]: b for b in data["builds"]}
    assert builds["x86_64-clang"]["status"] == "FAIL" and builds["i386"]["status"] == "PASS"
    assert builds["i386"]["architecture"] == "i386"
    assert builds["i386"]["config_name"] == "allmodconfig with CONFIG_CC_OPTIMIZE_FOR_SIZE=y"
    assert "ad5791.c" in builds["x86_64-clang"]["comment"]


def test_a_cell_does_not_repeat_what_its_parent_cell_found(tmp_path: Path) -> None:
    """sparse compiles with W=1 too, and an option-off cell is its compiler's cell with one
    option off: each reports only what its parent did not, so "only with CONFIG_OF=n" is
    true when it is said."""
    kerneldoc = "drivers/x/x.c:9: warning: Function parameter or struct member 'name' not described"
    unused = (
        "drivers/x/x.c:30:34: warning: 'x_of_match' defined but not used [-Wunused-const-variable=]"
    )
    sparse = "drivers/x/x.c:12:5: warning: incorrect type in assignment (different base types)"
    obj = ("drivers/x/x.o",)
    grid = matrix.Matrix(("sparse", "options-off"), None, "s1", 2, tmp_path)  # type: ignore[arg-type]
    off = matrix.Cell("x86_64-no-CONFIG_OF", "x86_64", "gcc", off="CONFIG_OF")
    cells = [matrix.CELLS["sparse"], matrix.CELLS["x86_64"], off]
    before = {c.name: ObjectBuild(obj) for c in cells}
    after = {
        "x86_64": ObjectBuild(obj, (), (kerneldoc,)),
        "sparse": ObjectBuild(obj, (), (kerneldoc, sparse)),
        off.name: ObjectBuild(obj, (), (kerneldoc, unused)),
    }
    case = grid.case(cells, before, after)
    by_name = {c.name: c for c in case.children}
    assert list(by_name) == ["sparse", "x86_64-no-CONFIG_OF"]  # x86_64 was not asked for
    assert by_name["sparse"].status is Status.FAIL and "incorrect type" in by_name["sparse"].message
    assert "Function parameter" not in by_name["sparse"].details
    found = by_name[off.name]
    assert found.status is Status.FAIL and "(only with CONFIG_OF=n)" in found.message
    assert "x_of_match" in found.message and "Function parameter" not in found.details


def test_an_object_whose_option_is_off_in_a_cell_is_not_compiled_there(tmp_path: Path) -> None:
    """A robot's build never compiles mm/gmem.o with CONFIG_GMEM=n: its errors there are
    not findings; code that every config builds still is judged with the option off."""
    (tmp_path / "mm").mkdir()
    (tmp_path / "mm/Makefile").write_text(
        "obj-y += memory.o\nobj-$(CONFIG_GMEM) += gmem.o \\\n\tvm_object.o\n"
    )
    (tmp_path / "drivers").mkdir()
    (tmp_path / "drivers/Makefile").write_text(
        "obj-$(CONFIG_INV) += inv.o\ninv-y += inv_core.o\ninv-$(CONFIG_INV_SPI) += inv_spi.o\n"
    )
    assert matrix.enabling_options("mm/gmem.o", tmp_path) == ["CONFIG_GMEM"]
    assert matrix.enabling_options("mm/vm_object.o", tmp_path) == ["CONFIG_GMEM"]
    assert matrix.enabling_options("mm/memory.o", tmp_path) == []
    assert matrix.enabling_options("drivers/inv_core.o", tmp_path) == ["CONFIG_INV"]
    assert matrix.enabling_options("drivers/inv_spi.o", tmp_path) == [
        "CONFIG_INV_SPI",
        "CONFIG_INV",
    ]
    assert matrix.enabling_options("drivers/unknown.o", tmp_path) == []


def test_an_arch_s_own_file_is_compiled_only_for_that_arch() -> None:
    x86, i386, arm64 = (matrix.CELLS[n] for n in ("x86_64", "i386", "arm64"))
    assert x86.builds_arch_of("arch/x86/mm/init.o") and i386.builds_arch_of("arch/x86/mm/init.o")
    assert not x86.builds_arch_of("arch/arm64/mm/init.o")
    assert arm64.builds_arch_of("arch/arm64/mm/init.o") and arm64.builds_arch_of("mm/gmem.o")
