from __future__ import annotations

from pathlib import Path

from conftest import FIXTURES

from harness.build import make

LOG = (FIXTURES / "build" / "build-break.log").read_text()
SPEC = make.BuildSpec(Path("/c/worktrees/debian-6.12-0"), Path("/c/builds/debian-6.12-0-x"), 2)


def test_errors_are_found_with_tree_relative_paths() -> None:
    output = make.tree_relative(LOG, SPEC)
    errors = make.diagnostics(output, "error")
    assert errors == [
        "mm/mmap.c:63:37: error: ‘harness_undeclared_identifier’ undeclared here "
        "(not in a function)"
    ]
    excerpt = make.error_excerpt(output)
    assert "static int harness_fixture_broken = harness_undeclared_identifier;" in excerpt
    assert "make[1]: ***" in excerpt or "make: ***" in excerpt


def test_make_argv_uses_out_of_tree_dir_and_ccache() -> None:
    spec = make.BuildSpec(
        Path("/c/slots/debian-6.12-0/tree"), Path("/c/slots/debian-6.12-0/builds/x"), 2
    )
    argv = make.make_argv(spec)
    assert argv[:4] == ["make", "-C", str(spec.src), f"O={spec.build}"]
    assert "-j2" in argv and argv[-2:] == ["bzImage", "modules"]
    env = make.make_env(spec)
    assert env["CCACHE_BASEDIR"] == str(spec.src)
    if "CCACHE_DIR" in env:  # ccache installed: the slot's cache is <cache>/ccache
        assert env["CCACHE_DIR"].startswith("/c/ccache/")


def test_a_script_error_without_a_compiler_error_is_the_headline() -> None:
    output = (FIXTURES / "build" / "module-name-conflict.log").read_text()
    assert make.diagnostics(output, "error") == []
    assert make.first_other_error(output) == (
        "error: the following would cause module name conflict:"
        " lib/math/tests/int_pow_kunit.ko lib/math/tests/int_pow_kunit.ko"
    )
    assert "module name conflict" in make.error_excerpt(output)


def test_modpost_error_is_the_headline() -> None:
    output = 'ERROR: modpost: "__udivdi3" [kernel/printk/printk_ringbuffer_test.ko] undefined!\n'
    assert make.first_other_error(output + "make[2]: *** Error 1\n").startswith("ERROR: modpost")
    assert make.first_other_error("make: *** [Makefile:1] Error 2\n") == "make failed"
