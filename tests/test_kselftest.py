"""Kselftest build commands and the guest runner script (no builds here)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness.suites import kselftest


def test_headers_then_selftests_against_them() -> None:
    src, bdir, out = Path("/src"), Path("/build"), Path("/run/guest/kselftest")
    assert kselftest.make_steps(src, bdir, out, ["mm", "size"]) == [
        ["make", "-s", "-C", "/src", "O=/build", "headers_install",
         "INSTALL_HDR_PATH=/run/guest/kselftest/headers"],
        ["make", "-C", "/src/tools/testing/selftests", "TARGETS=mm size",
         "O=/run/guest/kselftest/build",
         "KHDR_INCLUDES=-isystem /run/guest/kselftest/headers/include",
         "INSTALL_PATH=/run/guest/kselftest/install", "install"],
    ]  # fmt: skip


def test_run_script_names_programs_or_whole_targets() -> None:
    script = kselftest.run_script({"mm": ("ksm_functional_tests", "cow"), "size": ()})
    assert script.splitlines()[-3:] == [
        "run mm ./ksm_functional_tests ./cow",
        "# shellcheck disable=SC2046  # one word per test, split on purpose",
        'run size $(sed -n "s|^size:|./|p" kselftest-list.txt)',
    ]


def test_workloads_are_named_programs_or_what_the_install_lists() -> None:
    installed = "size:get_size\nmm:cow\nmm:ksm_functional_tests\nmm:run_vmtests.sh\n"
    targets = {"mm": ("ksm_functional_tests",), "size": ()}
    assert kselftest.workload_names(targets, installed) == (
        "mm/ksm_functional_tests",
        "size/get_size",
    )
    assert kselftest.workload_names({"mm": ()}, "") == ()


def test_run_script_runs_only_the_workloads_it_is_given(tmp_path: Path) -> None:
    """The generated script under a real sh, with runner.sh's run_many stubbed."""
    root = tmp_path / "kselftest"
    (root / "install/kselftest").mkdir(parents=True)
    (root / "install/mm").mkdir()
    (root / "install/kselftest/runner.sh").write_text(
        'run_many() { echo "ran $(basename "$PWD") $*"; }\n'
    )
    script = root / "run.sh"
    script.write_text(kselftest.run_script({"mm": ("cow", "ksm_functional_tests")}))
    one = subprocess.run(["sh", str(script), "mm/cow"], capture_output=True, text=True)
    every = subprocess.run(["sh", str(script)], capture_output=True, text=True)
    assert one.stdout.splitlines() == ["ran mm ./cow"]
    assert every.stdout.splitlines() == ["ran mm ./cow ./ksm_functional_tests"]


@pytest.mark.skipif(not shutil.which("shellcheck"), reason="shellcheck not installed")
def test_run_script_passes_shellcheck(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text(kselftest.run_script({"mm": ("cow",), "size": ()}))
    result = subprocess.run(
        ["shellcheck", "-s", "sh", "-e", "SC1091", str(script)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def _fake_tree(root: Path) -> Path:
    """A kernel tree whose selftests Makefile fails for the whole target (like memfd's
    fuse_mnt without fuse.h) while the program the series touches builds alone."""
    src = root / "src"
    selftests = src / "tools/testing/selftests"
    (selftests / "kselftest").mkdir(parents=True)
    (selftests / "memfd").mkdir()
    (src / "Makefile").write_text("headers_install:\n\tmkdir -p $(INSTALL_HDR_PATH)/include\n")
    (selftests / "Makefile").write_text(
        "install:\n\t@echo 'fuse_mnt.c:17:10: fatal error: fuse.h: No such file or directory'"
        "\n\t@exit 1\n"
    )
    (selftests / "memfd/Makefile").write_text(
        "$(OUTPUT)/memfd_test: memfd_test.c\n\t$(CC) -o $@ $<\n"
    )
    (selftests / "memfd/memfd_test.c").write_text("int main(void) { return 0; }\n")
    (selftests / "memfd/run_fuse_test.sh").write_text("#!/bin/sh\n")
    (selftests / "kselftest/runner.sh").write_text("run_many() { :; }\n")
    return src


def test_programs_build_alone_when_the_whole_target_does_not(tmp_path: Path) -> None:
    src, out = _fake_tree(tmp_path), tmp_path / "out"
    targets = {"memfd": ("memfd_test", "run_fuse_test.sh")}
    case, suite = kselftest.build(src, tmp_path / "b", out, targets, tmp_path / "log")
    assert case.status.name == "PASS"
    assert "fuse.h: No such file or directory; built alone" in case.message
    assert (out / "install/memfd/memfd_test").is_file()
    assert (out / "install/memfd/run_fuse_test.sh").is_file()
    assert (out / "install/kselftest/runner.sh").is_file()
    assert suite is not None and suite.workloads == ("memfd/memfd_test", "memfd/run_fuse_test.sh")


def test_a_whole_target_that_fails_is_a_build_failure(tmp_path: Path) -> None:
    src = _fake_tree(tmp_path)
    case, suite = kselftest.build(
        src, tmp_path / "b", tmp_path / "o", {"memfd": ()}, tmp_path / "l"
    )
    assert case.status.name == "FAIL" and suite is None
    assert case.message == (
        "selftests build failed: fuse_mnt.c:17:10: fatal error: fuse.h: No such file or directory"
    )


def test_per_test_logs_become_the_details_of_their_result() -> None:
    from harness.suites import guest

    lines = [
        "TAP version 13",
        "1..2",
        "not ok 1 selftests: memfd: memfd_test # exit=134",
        "ok 2 selftests: memfd: run_fuse_test.sh",
        "#|= memfd: memfd_test",
        "#| # memfd: NOEXEC_SEAL",
        "#| # 33 != 32 = GET_SEALS(/memfd:kern_memfd_noexec (deleted))",
        "#| # Aborted",
    ]
    (suite,) = guest.suite_results(
        "\n".join(
            ["# harness: suite kselftest begin", *lines, "# harness: suite kselftest end rc=0"]
        ),
        ["kselftest"],
        "",
    )
    failed, passed = suite.children
    assert failed.details.splitlines()[-2:] == [
        "# 33 != 32 = GET_SEALS(/memfd:kern_memfd_noexec (deleted))",
        "# Aborted",
    ]
    assert "GET_SEALS" not in passed.details
