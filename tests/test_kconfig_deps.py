"""Kconfig dependencies followed through a tree, on small Kconfig trees written here."""

from __future__ import annotations

from pathlib import Path

from harness.build import kconfig_deps

KCONFIG = """\
config KUNIT
\ttristate "KUnit"

menuconfig RUNTIME_TESTING_MENU
\tbool "Runtime testing"

if RUNTIME_TESTING_MENU

config FOO_KUNIT_TEST
\ttristate "foo test" if !KUNIT_ALL_TESTS
\tdepends on KUNIT && FOO && (HAVE_FAST_FOO || SLOW_FOO)
\tdepends on !FOO_DEBUG_NOISE

endif

config FOO
\tbool "foo"
\tdepends on BAR

config BAR
\tbool "bar"
\tdepends on X86 || ARM64

config SLOW_FOO
\tbool "slow foo"

config HAVE_FAST_FOO
\tbool

config FOO_DEBUG_NOISE
\tbool "noise"

config LOOP_A
\tbool "a"
\tdepends on LOOP_B

config LOOP_B
\tbool "b"
\tdepends on LOOP_A

config NEEDS_ARCH_ONLY
\tbool "arch only"
\tdepends on HAVE_FAST_FOO

config X86
\tdef_bool y
\tselect HAVE_ARCH_THING

config HAVE_ARCH_THING
\tbool

config HAS_THING
\tbool
\tdepends on !NO_THING
\tdefault y

config NEEDS_ARCH_AND_DEFAULT
\tbool "needs what x86 selects and a default-y symbol"
\tdepends on HAVE_ARCH_THING && HAS_THING
"""


def _tree(tmp_path: Path, name: str) -> Path:
    tree = tmp_path / name
    (tree / "lib").mkdir(parents=True)
    (tree / "lib/Kconfig").write_text(KCONFIG)
    # another architecture's definitions must not count on x86_64
    (tree / "arch/arm64").mkdir(parents=True)
    (tree / "arch/arm64/Kconfig").write_text("config HAVE_FAST_FOO\n\tdef_bool y\n")
    return tree


def test_dependencies_are_followed_transitively_in_order(tmp_path: Path) -> None:
    needs = kconfig_deps.resolve(_tree(tmp_path, "t1"), "FOO_KUNIT_TEST", {"KUNIT"})
    # dependencies before what needs them; SLOW_FOO stands in for the prompt-less HAVE_FAST_FOO
    assert needs.enable == ["BAR", "FOO", "SLOW_FOO", "RUNTIME_TESTING_MENU", "FOO_KUNIT_TEST"]
    assert needs.notes == ["HAVE_FAST_FOO (lib/Kconfig) has no prompt: only a `select` sets it"]


def test_an_alternative_already_on_needs_nothing(tmp_path: Path) -> None:
    on = {"KUNIT", "RUNTIME_TESTING_MENU", "FOO", "BAR", "HAVE_FAST_FOO"}
    needs = kconfig_deps.resolve(_tree(tmp_path, "t2"), "FOO_KUNIT_TEST", on)
    assert needs.enable == ["FOO_KUNIT_TEST"] and needs.notes == []


def test_a_negated_dependency_is_reported_not_changed(tmp_path: Path) -> None:
    on = {"KUNIT", "RUNTIME_TESTING_MENU", "FOO", "BAR", "SLOW_FOO", "FOO_DEBUG_NOISE"}
    needs = kconfig_deps.resolve(_tree(tmp_path, "t3"), "FOO_KUNIT_TEST", on)
    assert needs.enable == ["FOO_KUNIT_TEST"]
    assert needs.notes == ["needs FOO_DEBUG_NOISE off (`!FOO_DEBUG_NOISE`), but it is on"]


def test_a_dependency_loop_ends(tmp_path: Path) -> None:
    needs = kconfig_deps.resolve(_tree(tmp_path, "t4"), "LOOP_A", set())
    assert needs.enable == ["LOOP_B", "LOOP_A"]


def test_what_only_the_architecture_selects_cannot_be_enabled(tmp_path: Path) -> None:
    needs = kconfig_deps.resolve(_tree(tmp_path, "t5"), "NEEDS_ARCH_ONLY", set())
    assert needs.enable == []
    assert needs.notes == ["HAVE_FAST_FOO (lib/Kconfig) has no prompt: only a `select` sets it"]


def test_unknown_symbol(tmp_path: Path) -> None:
    needs = kconfig_deps.resolve(_tree(tmp_path, "t6"), "NOT_THERE", set())
    assert needs.enable == [] and needs.notes == ["NOT_THERE: not defined for x86_64 in this tree"]


def test_arch_selects_and_default_y_symbols_count_as_on(tmp_path: Path) -> None:
    needs = kconfig_deps.resolve(_tree(tmp_path, "t7"), "NEEDS_ARCH_AND_DEFAULT", set())
    assert needs.enable == ["NEEDS_ARCH_AND_DEFAULT"] and needs.notes == []


def test_the_base_run_accepts_only_options_its_tree_does_not_define(tmp_path: Path) -> None:
    """--compare-base on GMEM: gmem.config asks for CONFIG_GMEM, which the base has no
    Kconfig entry for; a defined option that gets dropped is still a failure."""
    from harness.build import kernel
    from harness.build.kconfig import ConfigCase
    from harness.cases import Status

    tree = _tree(tmp_path, "base")
    gmem = "CONFIG_GMEM=y (final .config has CONFIG_GMEM=n)"
    case = ConfigCase(
        "kconfig",
        Status.FAIL,
        "1 requested option(s) dropped",
        details=gmem,
        dropped=("CONFIG_GMEM",),
    )
    kernel.allow_options_the_series_adds(case, tree)
    assert (case.status, case.message) == (
        Status.PASS,
        "base: not defined before the series: CONFIG_GMEM",
    )
    foo = "CONFIG_FOO=y (final .config has CONFIG_FOO=n)"
    case = ConfigCase(
        "kconfig",
        Status.FAIL,
        "2 dropped",
        details=f"{gmem}\n{foo}",
        dropped=("CONFIG_GMEM", "CONFIG_FOO"),
    )
    kernel.allow_options_the_series_adds(case, tree)
    assert case.status is Status.FAIL


def test_the_index_follows_the_checked_out_commit(tmp_path: Path) -> None:
    """--compare-base resets the patched worktree to the base at the same path: a symbol
    the series added must not stay 'defined' from the patched tree's index."""
    import subprocess

    tree = tmp_path / "wt"
    tree.mkdir()

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tree), *args], check=True, capture_output=True)

    git("init", "-q")
    (tree / "Kconfig").write_text('config BASE_ONLY\n\tbool "base"\n')
    git("add", "Kconfig")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    (tree / "Kconfig").write_text('config BASE_ONLY\n\tbool "base"\n\nconfig GMEM\n\tbool "g"\n')
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "series")
    assert kconfig_deps.defined(tree, "GMEM")
    git("checkout", "-q", "HEAD~1")
    assert not kconfig_deps.defined(tree, "GMEM") and kconfig_deps.defined(tree, "BASE_ONLY")
