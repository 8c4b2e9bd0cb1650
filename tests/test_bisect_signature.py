"""Signatures and --bad-when on recorded build logs, consoles and guest output."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.bisection.search import Kind
from harness.bisection.signature import (
    WORKTREE_PREFIX,
    Observation,
    Stage,
    build_signature,
    match_key,
    observe,
    parse_predicate,
)
from harness.boot import console
from harness.boot.console_cases import incident_cases
from harness.build import make
from harness.cases import Case, Status
from harness.errors import UserError
from harness.suites import guest

FIXTURES = Path(__file__).parent / "fixtures"


def _build_case() -> Case:
    """The build Case make.build makes of the recorded build-break log."""
    output = (FIXTURES / "build/build-break.log").read_text()
    spec = make.BuildSpec(Path("/c/worktrees/debian-6.12-0"), Path("/c/builds/x"), 2)
    output = make.tree_relative(output, spec)
    return Case("build", Status.FAIL, make.error_headline(output), make.error_excerpt(output))


def _boot(status: Status = Status.PASS, reason: str = "guest command exited 0") -> Case:
    return Case(
        "boot smoke", status, reason, details="[ 0.1] Linux version 6.12" if status.is_bad else ""
    )


def _demo_suites() -> list[Case]:
    output = (FIXTURES / "runs/demo-guest.out").read_text()
    return guest.suite_results(output, ["smoke", "demo"], "")


def _console(name: str) -> Case:
    return incident_cases((FIXTURES / name).read_text(), "smoke")


def _warning_only() -> Case:
    """The WARNING splat of the recorded console, without the oops and panic after it."""
    text = (FIXTURES / "console/warning_oops_panic.log").read_text()
    return incident_cases(console.scan_console(text)[0].excerpt, "smoke")


def test_the_build_break_signature_is_file_line_and_message() -> None:
    seen = observe([Case("apply"), _build_case()])
    assert seen.first is not None and seen.first.stage is Stage.BUILD
    assert seen.first.signature == (
        "build: mm/mmap.c:63: error: ‘harness_undeclared_identifier’ undeclared here "
        "(not in a function)"
    )
    assert "harness_undeclared_identifier" in seen.first.excerpt


def test_a_moved_line_is_the_same_failure() -> None:
    a = build_signature("mm/mmap.c:63:37: error: ‘x’ undeclared")
    b = build_signature("mm/mmap.c:71:37: error: ‘x’ undeclared")
    assert a != b and match_key(a) == match_key(b)
    assert match_key("warning: WARNING: CPU: N PID: N at init/main.c:1513 f") == (
        "warning: WARNING: CPU: N PID: N at init/main.c f"
    )


def test_console_incidents_become_crash_signatures_without_offsets() -> None:
    seen = observe([_boot(), _console("console/warning_oops_panic.log")])
    crashes = [f for f in seen.failures if f.stage is Stage.CRASH]
    assert crashes[0].signature == "warning: WARNING: CPU: N PID: N at mm/mmap.c:1423 do_vmi_munmap"
    assert {f.signature.split(":")[0] for f in crashes} >= {"warning", "panic"}


def test_the_recorded_panic_boot_is_a_crash_then_a_boot_failure() -> None:
    boot = _boot(
        Status.FAIL, "Kernel panic - not syncing: harness fixture: deliberate panic at boot"
    )
    seen = observe([boot, _console("runs/panic-console.log")])
    assert [f.stage for f in seen.failures] == [Stage.CRASH, Stage.BOOT]
    assert seen.first is not None
    assert (
        seen.first.signature
        == "panic: Kernel panic - not syncing: harness fixture: deliberate panic at boot"
    )


def test_failing_tests_are_named_by_path() -> None:
    suites = _demo_suites()
    suites[1].children[2].own = Status.FAIL  # demo/read_counter
    seen = observe([_boot(), *suites])
    assert [f.signature for f in seen.failures] == ["test: demo/read_counter"]


def test_a_clean_run_has_no_failures() -> None:
    assert observe([Case("apply"), _boot(), *_demo_suites()]) == Observation()


@pytest.mark.parametrize(
    "reason",
    ["QEMU/vng failed before the kernel ran: no kernel output", "vng exited 1: qemu: cannot"],
)
def test_qemu_failing_is_infra_never_bad(reason: str) -> None:
    seen = observe([Case("boot smoke", Status.ERROR, reason)])
    assert seen.infra == reason and seen.failures == ()
    for text in ("", "boot", "crash", "test:*"):
        assert parse_predicate(text).judge(seen).kind is Kind.INFRA


def test_a_timeout_with_no_output_is_infra_one_with_a_console_is_the_kernel() -> None:
    silent = Case("boot smoke", Status.ERROR, "timed out after 300s (before reaching userspace)")
    assert observe([silent]).infra
    hung = Case(silent.name, silent.status, silent.message, details="[ 1.0] rcu: INFO: ...")
    assert not observe([hung]).infra
    assert (
        observe([hung]).failures[0].signature
        == "boot: timed out after Ns (before reaching userspace)"
    )


def test_same_learns_the_bad_ends_failure_and_skips_a_different_one() -> None:
    same = parse_predicate("")
    warn = observe([_boot(), _console("console/warning_oops_panic.log")])
    assert same.judge(warn).kind is Kind.BAD
    assert same.target.startswith("warning: WARNING")
    assert same.judge(observe([_build_case()])).kind is Kind.SKIP  # a build break: 125
    assert same.judge(observe([_boot()])).kind is Kind.GOOD
    assert not same.build_only


def test_same_on_a_build_break_needs_no_boot() -> None:
    same = parse_predicate("")
    assert same.judge(observe([_build_case()])).kind is Kind.BAD
    assert same.build_only
    # a candidate that builds is good whatever its boot did
    panicked = observe([Case("build"), _boot(Status.FAIL, "Kernel panic - not syncing: x")])
    assert same.judge(panicked).kind is Kind.GOOD
    assert parse_predicate("build").judge(panicked).kind is Kind.GOOD


def test_explicit_predicates() -> None:
    warn = observe([_boot(), _warning_only()])
    panic = observe(
        [_boot(Status.FAIL, "Kernel panic - not syncing: x"), _console("runs/panic-console.log")]
    )
    broken = observe([_build_case()])
    suites = _demo_suites()
    suites[0].children[0].own = Status.FAIL
    failing = observe([_boot(), *suites])
    clean = observe([_boot(), *_demo_suites()])
    judged = {
        text: [parse_predicate(text).judge(o).kind for o in (warn, panic, broken, failing, clean)]
        for text in ("build", "boot", "crash", "test:smoke/*", "test:demo/*")
    }
    B, G, S = Kind.BAD, Kind.GOOD, Kind.SKIP
    assert judged == {
        "build": [G, G, B, G, G],  # built: good, whatever the boot did,
        "boot": [S, B, S, S, G],  # a WARNING alone does not stop the boot
        "crash": [B, B, S, S, G],
        "test:smoke/*": [S, S, S, B, G],
        "test:demo/*": [S, S, S, S, G],
    }


@pytest.mark.parametrize("text", ["oops", "test", "metric:", "build:x", "test:", "metric:pf1"])
def test_a_malformed_bad_when_is_bad_input(text: str) -> None:
    with pytest.raises(UserError, match="--bad-when"):
        parse_predicate(text)


def test_the_slot_a_kernel_was_built_in_is_not_part_of_its_signature() -> None:
    def warned_in(slot: str) -> str:
        title = f"WARNING: CPU: 0 PID: 1 at {slot}/fs/proc/x.c:18 f+0x1/0x2"
        incident = Case("WARNING during boot", Status.FAIL, title, properties={"kind": "WARNING"})
        seen = observe([_boot(), Case("console smoke", Status.FAIL, children=[incident])])
        assert seen.first is not None
        return seen.first.signature

    slots = ["../../tree", "/c/slots/debian-6.12-1/tree", "../../worktrees/debian-6.12-0"]
    assert {warned_in(slot) for slot in slots} == {
        "warning: WARNING: CPU: N PID: N at fs/proc/x.c:18 f"
    }
    # a file named after a tree keeps its path
    assert WORKTREE_PREFIX.sub("", "at lib/radix-tree.c:12") == "at lib/radix-tree.c:12"


def test_a_workload_failing_after_its_subtests_is_a_failure_by_its_own_path() -> None:
    out = (FIXTURES / "runs/gmem-parent-fails-after-subtests.out").read_text()
    suites = guest.suite_results(out, ["gmem"], "unused")
    seen = observe([_boot(), *suites])
    assert [f.signature for f in seen.failures] == ["test: gmem/exit_teardown", "test: gmem/fork"]
