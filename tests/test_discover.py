"""Discovery of the tests a series brings, on patches modeled on upstream series and
Kconfig/Makefile excerpts copied from the 6.12 tree (see fixtures/discover/README.md)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, PROJECT

from harness.build.kconfig import ConfigCase
from harness.cases import Status
from harness.errors import UserError
from harness.intake.series import Patch, load_one
from harness.suites import kunit, series_tests
from harness.suites.discover import Discovery, discover, listed_programs

DISCOVER = FIXTURES / "discover"
TREE = DISCOVER / "tree"


def _patch(number: int) -> tuple[Patch, ...]:
    series = load_one(DISCOVER / "series")
    return (series.patches[number - 1],)


def test_kselftest_program_from_the_mm_makefile() -> None:
    found = discover(_patch(1), TREE)
    assert found.kselftest_targets == {"mm": ("ksm_functional_tests",)}
    assert found.why == (
        "kselftest mm:ksm_functional_tests: tools/testing/selftests/mm/ksm_functional_tests.c"
        " changed in 0001, listed in TEST_GEN_FILES of mm/Makefile",
    )
    assert not found.kunit_symbols


def test_changed_kunit_entry_and_its_source_give_one_symbol() -> None:
    found = discover(_patch(2), TREE)
    assert found.kunit_symbols == ("LIST_KUNIT_TEST",)
    assert found.kconfig_files == {"LIST_KUNIT_TEST": "lib/Kconfig.debug"}
    assert found.why == (
        "CONFIG_LIST_KUNIT_TEST: changed in 0002 (lib/Kconfig.debug) depends on KUNIT",
    )


def test_source_alone_finds_its_symbol_through_the_makefile() -> None:
    series = load_one(DISCOVER / "series")
    patch = series.patches[1]
    only_c = patch.diff[patch.diff.index("diff --git a/lib/list-test.c") :]
    found = discover((dataclasses.replace(patch, diff=only_c),), TREE)
    assert found.kunit_symbols == ("LIST_KUNIT_TEST",)
    assert found.why == (
        "CONFIG_LIST_KUNIT_TEST: builds lib/list-test.c, changed in 0002; depends on KUNIT",
    )


def test_kunitconfig_options_go_into_the_fragment() -> None:
    found = discover(_patch(3), TREE)
    assert found.kunitconfig_files == ("fs/ext4/.kunitconfig",)
    assert kunit.fragment(found, TREE).text.splitlines() == [
        kunit.HEADER,
        "CONFIG_KUNIT=y",
        "CONFIG_EXT4_FS=y",
        "CONFIG_EXT4_KUNIT_TESTS=y",
    ]


def test_a_kconfig_change_without_tests_finds_nothing() -> None:
    found = discover(_patch(4), TREE)
    assert found.empty and found.why == ()


def test_the_kunit_demo_fixture_end_to_end(tmp_path: Path) -> None:
    """The fixture series adds `config HARNESS_DEMO_KUNIT_TEST` inside `if RUNTIME_TESTING_MENU`:
    the fragment must turn the menu on too, or olddefconfig drops the test."""
    series = load_one(PROJECT / "patches/fixtures/kunit-demo")
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    kconfig = tree / "lib/Kconfig.debug"
    demo = series.patches[0].diff
    entry = demo[demo.index("+config HARNESS_DEMO_KUNIT_TEST") : demo.index(" config LIST_KUNIT")]
    text = "".join(line[1:] + "\n" for line in entry.splitlines())
    kconfig.write_text(
        kconfig.read_text().replace("config LIST_KUNIT_TEST\n", text + "config LIST_KUNIT_TEST\n")
    )
    found = discover(series.patches, tree)
    assert found.kunit_symbols == ("HARNESS_DEMO_KUNIT_TEST",)
    assert found.why == (
        "CONFIG_HARNESS_DEMO_KUNIT_TEST: added in 0001 (lib/Kconfig.debug) depends on KUNIT",
    )
    assert kunit.fragment(found, tree).text == (
        f"{kunit.HEADER}\nCONFIG_KUNIT=y\nCONFIG_RUNTIME_TESTING_MENU=y\n"
        "CONFIG_HARNESS_DEMO_KUNIT_TEST=y\n"
    )


def test_a_dropped_test_names_the_dependency_that_is_off() -> None:
    found = discover(_patch(2), TREE)
    final = {"CONFIG_KUNIT": "y", "CONFIG_LIST_KUNIT_TEST": "n"}
    assert kunit.explain_dropped(["CONFIG_LIST_KUNIT_TEST"], found, TREE, final) == [
        "CONFIG_LIST_KUNIT_TEST (lib/Kconfig.debug) depends on KUNIT && RUNTIME_TESTING_MENU:"
        " off in the final .config: RUNTIME_TESTING_MENU=n"
    ]


def test_explain_dropped_extends_the_kconfig_case(tmp_path: Path) -> None:
    found = discover(_patch(2), TREE)
    plan = series_tests.Plan(found, ())
    config = tmp_path / ".config"
    config.write_text("CONFIG_KUNIT=y\n# CONFIG_LIST_KUNIT_TEST is not set\n")
    case = ConfigCase(
        "kconfig",
        Status.FAIL,
        "1 requested option(s) dropped by olddefconfig: CONFIG_LIST_KUNIT_TEST",
        details="CONFIG_LIST_KUNIT_TEST=y (final .config has CONFIG_LIST_KUNIT_TEST=n)",
        dropped=("CONFIG_LIST_KUNIT_TEST",),
    )
    series_tests.explain_dropped(case, plan, TREE, config)
    assert case.message.endswith("off in the final .config: RUNTIME_TESTING_MENU=n")
    assert case.details.splitlines()[-1].startswith("CONFIG_LIST_KUNIT_TEST (lib/Kconfig.debug)")


def test_makefile_variables_with_continuations() -> None:
    programs = listed_programs((TREE / "tools/testing/selftests/mm/Makefile").read_text())
    assert programs["cow"] == "TEST_GEN_FILES"
    assert programs["run_vmtests.sh"] == "TEST_PROGS"
    assert "ksm_functional_tests" in programs


def test_selection_routes_prefixes() -> None:
    chosen = series_tests.select(("smoke", "kunit:list*", "kselftest:mm/cow", "kselftest:size"))
    assert chosen.guest == ("smoke",)
    assert chosen.kunit_globs == ("list*",)
    assert chosen.kselftests == {"mm": ("cow",), "size": ()}
    assert kunit.cmdline(chosen.kunit_globs) == (kunit.ENABLE, "kunit.filter_glob=list*")
    assert kunit.cmdline(series_tests.select(("kunit",)).kunit_globs) == (kunit.ENABLE,)


def test_a_second_kunit_glob_is_refused_not_dropped() -> None:
    with pytest.raises(UserError, match="kunit:list\\* and --suite kunit:mm\\*"):
        series_tests.select(("kunit:list*", "kunit:mm*"))
    # the same glob twice, or a bare `kunit` next to one, is one selection
    same = series_tests.select(("kunit:list*", "kunit:list*", "kunit"))
    assert kunit.cmdline(same.kunit_globs) == (kunit.ENABLE, "kunit.filter_glob=list*")


@pytest.mark.parametrize("bad", ["kselftest:", "kselftest:../etc", "kselftest:mm/a b"])
def test_selection_refuses_bad_kselftest_paths(bad: str) -> None:
    with pytest.raises(UserError):
        series_tests.select((bad,))


def test_plan_writes_the_fragment_only_when_kunit_is_wanted(tmp_path: Path) -> None:
    series = load_one(DISCOVER / "series")
    notes: list[str] = []
    ksm_only = dataclasses.replace(series, patches=series.patches[:1])
    plan = series_tests.plan(ksm_only, ("smoke",), TREE, tmp_path, notes.append)
    assert plan.fragment is None and plan.kselftests == {"mm": ("ksm_functional_tests",)}
    assert notes == [f"series brings {why}" for why in plan.found.why]
    plan = series_tests.plan(series, ("kselftest:mm/cow",), TREE, tmp_path, notes.append)
    assert plan.kselftests == {"mm": ("cow",)}  # an explicit selection wins over discovery
    assert plan.fragment == tmp_path / series_tests.FRAGMENT_NAME and plan.guest == ()


def test_the_base_run_leaves_out_what_the_series_adds(tmp_path: Path) -> None:
    """On the base tree the demo's Kconfig entry does not exist: asking for it would fail
    kconfig; leaving it out makes its suites `new` in the comparison."""
    series = load_one(PROJECT / "patches/fixtures/kunit-demo")
    found = discover(series.patches, TREE)
    plan = series_tests.Plan(
        found, (), tmp_path / "patched.config", {"mm": ("cow", "not_yet")}, (kunit.ENABLE,)
    )
    base = series_tests.for_base(plan, TREE, tmp_path)
    assert base.fragment is not None
    assert base.fragment.read_text() == f"{kunit.HEADER}\nCONFIG_KUNIT=y\n"
    assert not base.kunit_expected
    assert base.kselftests == {"mm": ("cow",)}
    silent = kunit.console_case("[    0.1] Run /init as init process\n", "", base.kunit_expected)
    assert [(c.name, c.status) for c in silent.children] == [("(no KUnit suites)", Status.SKIP)]


def test_a_kunitconfig_the_series_adds_expects_nothing_on_the_base(tmp_path: Path) -> None:
    """The unicode series adds fs/unicode/.kunitconfig: the base kernel has no such test,
    so its silent console is "(no KUnit suites)", not an error (seen as '1 removed')."""
    found = dataclasses.replace(Discovery(), kunitconfig_files=("fs/unicode/.kunitconfig",))
    plan = series_tests.Plan(found, (), tmp_path / "patched.config")
    assert not series_tests.for_base(plan, TREE, tmp_path).kunit_expected
    kept = dataclasses.replace(Discovery(), kunitconfig_files=("fs/ext4/.kunitconfig",))
    plan = series_tests.Plan(kept, (), tmp_path / "patched.config")
    assert series_tests.for_base(plan, TREE, tmp_path).kunit_expected


def test_real_upstream_kunit_suite_from_the_console() -> None:
    """The console of `harness test` on "[PATCH v3] lib/math: Add int_sqrt test suite"
    (linux-kselftest, 2024-10-30) on 6.12: one suite, its nested test, six params."""
    console = (DISCOVER / "console-kunit-int-sqrt.log").read_text()
    case = kunit.console_case(console)
    assert case.status is Status.PASS
    assert [c.name for c in case.children] == ["math-int_sqrt"]
    (inner,) = case.children[0].children
    assert inner.name == "int_sqrt_test" and len(inner.children) == 6
    assert inner.children[0].name == "edge-case: square root of 0"
    assert all(c.status is Status.PASS for c in inner.children)
