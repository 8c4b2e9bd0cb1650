"""harness.suites.ktap on recorded KUnit logs, hand-assembled kselftest logs and inline cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cases import Case, Status
from harness.suites.ktap import CRASHED, KtapResult, parse_ktap, read_ktap

FIXTURES = Path(__file__).parent / "fixtures" / "ktap"


def read(name: str) -> KtapResult:
    return read_ktap((FIXTURES / name).read_text().splitlines(), name="main")


def shape(case: Case) -> tuple[object, ...]:
    return (case.name, case.status.name, tuple(shape(child) for child in case.children))


def find(case: Case, name: str) -> Case:
    if case.name == name:
        return case
    for child in case.children:
        try:
            return find(child, name)
        except LookupError:
            pass
    raise LookupError(name)


def one(text: str) -> Case:
    [case] = parse_ktap(text.splitlines())
    return case


# --- KUnit logs from the kernel's kunit_tool ------------------------------------------------


def test_nested_suites_and_noise() -> None:
    [main] = read("test_is_test_passed-all_passed_nested.log").cases
    sysctl = main.children[0]
    assert [c.name for c in sysctl.children] == [
        "sysctl_test_dointvec_null_tbl_data",
        "example",
        "sysctl_test_dointvec_table_len_is_zero",
        "sysctl_test_dointvec_table_read_but_position_set",
    ]
    assert [c.name for c in sysctl.children[1].children] == [
        "example_simple_test",
        "example_mock_test",
    ]
    assert main.status is Status.PASS


def test_failure_keeps_the_expectation_as_details() -> None:
    [main] = read("test_is_test_passed-failure.log").cases
    failed = find(main, "example_simple_test")
    assert failed.status is Status.FAIL
    assert (
        failed.message == "example_simple_test: EXPECTATION FAILED at lib/kunit/example-test.c:30"
    )
    assert "Expected 1 + 1 == 3, but" in failed.details
    assert main.status is Status.FAIL and find(main, "example").status is Status.FAIL


def test_panic_mid_suite_is_a_crash() -> None:
    result = read("test_kernel_panic_interrupt.log")
    [main] = result.cases
    suite = find(main, "string-stream-test")
    assert result.crashed and main.status is Status.ERROR and suite.status is Status.ERROR
    assert [(c.name, c.status, c.message) for c in suite.children] == [
        ("string_stream_test_empty_on_creation", Status.PASS, ""),
        ("test-2", Status.ERROR, CRASHED),
        ("test-3", Status.ERROR, "not run: the plan was 1..3"),
    ]
    # the crash is a field of the case, not a message to compare: "not run" is no crash
    assert [c.crashed for c in suite.children] == [False, True, False]


def test_skip_with_reason() -> None:
    [main] = read("test_skip_tests.log").cases
    skipped = find(main, "example_skip_test")
    assert (skipped.status, skipped.message) == (Status.SKIP, "this test should be skipped")
    assert main.status is Status.PASS


def test_ktap_v1_subtest_header_and_attributes() -> None:
    [main] = read("test_parse_attributes.log").cases
    assert shape(main) == ("main", "PASS", (("suite", "PASS", (("test", "PASS", ()),)),))
    assert "# module: example" in main.children[0].details


def test_kernel_messages_between_results_become_details() -> None:
    [main] = read("test_interrupted_tap_output.log").cases
    assert main.status is Status.PASS and len(main.leaves()) == 10
    assert (
        "kAFS: Red Hat AFS client v0.1 registering."
        in find(main, "kunit_resource_test_cleanup_resources").details
    )


# --- kselftest, hand-assembled from runner.sh / kselftest.h / run_vmtests.sh ---------------------


def test_mm_selftests_nest_three_levels() -> None:
    result = read("kselftest_mm_nested.log")
    [main] = result.cases
    [vmtests] = main.children
    assert (vmtests.name, vmtests.status, vmtests.message) == (
        "selftests: mm: run_vmtests.sh",
        Status.FAIL,
        "exit=1",
    )
    assert [c.name for c in vmtests.children] == [
        "hugepage-mmap",
        "madv_populate",
        "ksm_functional_tests",
        "gup_test -u",
        "mdwe_test",
    ]
    assert shape(vmtests.children[0]) == (
        "hugepage-mmap",
        "PASS",
        (("Read same data", "PASS", ()),),
    )
    assert not result.crashed and not result.problems


def test_kselftest_directives_and_nameless_results() -> None:
    [main] = read("kselftest_mm_nested.log").cases
    madv = find(main, "madv_populate")
    assert [(c.name, c.status, c.message) for c in madv.children] == [
        ("range not populated", Status.PASS, ""),
        ("test-2", Status.SKIP, "MADV_POPULATE_READ is not available"),
        ("test-3", Status.XFAIL, "soft-dirty bit not supported"),
        ("range populated", Status.FAIL, "range populated: unexpected errno 14"),
    ]
    assert (madv.status, madv.message) == (Status.FAIL, "exit=1")


def test_kselftest_skip_all_and_program_without_tap() -> None:
    [main] = read("kselftest_mm_nested.log").cases
    ksm = find(main, "ksm_functional_tests")
    assert (ksm.status, ksm.message, ksm.children) == (
        Status.SKIP,
        'open("/sys/kernel/mm/ksm/run") failed',
        [],
    )
    gup = find(main, "gup_test -u")
    assert gup.status is Status.PASS and "GUP_FAST_BENCHMARK" in gup.details
    mdwe = find(main, "mdwe_test")
    assert [c.status for c in mdwe.children] == [Status.PASS] * 3
    assert "#  RUN           mdwe.stock.mmap_READ_EXEC ..." in mdwe.children[2].details


def test_test_that_never_reports_is_named_from_its_run_line() -> None:
    result = read("kselftest_hang.log")
    [main] = result.cases
    hmm = main.children[0]
    assert result.crashed and main.status is Status.ERROR
    assert (hmm.name, hmm.status, hmm.message) == (
        "selftests: mm: hmm-tests",
        Status.ERROR,
        CRASHED,
    )
    running = hmm.children[1]
    assert (running.name, running.status, running.message) == (
        "hmm.hmm_device_private.anon_read",
        Status.ERROR,
        CRASHED,
    )
    assert "BUG: kernel NULL pointer dereference, address: 0000000000000008" in running.details
    assert [c.message for c in main.children[1:]] == ["not run: the plan was 1..3"] * 2


def test_console_with_kunit_at_boot_then_guest_suite() -> None:
    result = read("console_kunit_then_guest.log")
    kunit, guest = result.cases
    assert (kunit.name, guest.name) == ("main", "main-2")
    params = find(kunit, "example_params_test")
    assert [c.status for c in params.children] == [Status.PASS] * 3 + [Status.SKIP]
    assert find(kunit, "example_simple_test").message.endswith("kunit-example-test.c:52")
    assert shape(guest) == (
        "main-2",
        "FAIL",
        (("mount_proc", "PASS", ()), ("blk_write_read", "FAIL", ()), ("uevent_seen", "SKIP", ())),
    )
    blk = guest.children[1]
    assert blk.message == "expected 4096 bytes, read 0"
    assert "# writing 4096 bytes to /dev/vda" in blk.details
    assert "EXT4-fs (vda): mounted filesystem" in blk.details  # timestamp stripped
    assert result.missing_plan  # KUnit's parameterised tests print no plan


# --- small inline cases -----------------------------------------------------------------------

TWO_SPACE = """\
TAP version 14
1..2
  # Subtest: a
  1..2
  ok 1 - x
  not ok 2 - y # TODO not written yet
ok 1 - a
  # Subtest: b
  1..1
  ok 1 z # TODO done early
ok 2 - b
"""


def test_two_space_indent_and_todo() -> None:
    main = one(TWO_SPACE)
    assert shape(main) == (
        "",
        "PASS",
        (
            ("a", "PASS", (("x", "PASS", ()), ("y", "XFAIL", ()))),
            ("b", "PASS", (("z", "PASS", ()),)),
        ),
    )
    assert find(main, "y").message == "TODO not written yet"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("ok 1 name", ("name", Status.PASS, "")),
        ("ok 1 - name", ("name", Status.PASS, "")),
        ("not ok 1 name", ("name", Status.FAIL, "")),
        ("not ok 1 name #  reason", ("name", Status.FAIL, "reason")),
        ("ok 1 name # SKIP no device", ("name", Status.SKIP, "no device")),
        ("ok 1 name # skip", ("name", Status.SKIP, "")),
        ("ok 1 # SKIP reason only", ("test-1", Status.SKIP, "reason only")),
        ("ok 1 # XFAIL known bug", ("test-1", Status.XFAIL, "known bug")),
        ("ok 1 name # XPASS", ("name", Status.FAIL, "XPASS")),
        ("not ok 1 # error setup failed", ("test-1", Status.ERROR, "setup failed")),
        (
            "not ok 1 sel: d: t # TIMEOUT 45 seconds",
            ("sel: d: t", Status.ERROR, "TIMEOUT 45 seconds"),
        ),
        ("not ok 1 sel: d: t # exit=139", ("sel: d: t", Status.FAIL, "exit=139")),
        ("ok 1 a\\#b", ("a\\#b", Status.PASS, "")),
    ],
)
def test_result_lines(line: str, expected: tuple[str, Status, str]) -> None:
    case = one(f"TAP version 13\n1..1\n{line}\n").children[0]
    assert (case.name, case.status, case.message) == expected


def test_plan_with_fewer_results_gives_error_cases() -> None:
    result = read_ktap("KTAP version 1\n1..4\nok 1 a\nok 2 b\n")
    [main] = result.cases
    assert [(c.name, c.status) for c in main.children] == [
        ("a", Status.PASS),
        ("b", Status.PASS),
        ("test-3", Status.ERROR),
        ("test-4", Status.ERROR),
    ]
    assert main.children[2].message == CRASHED and result.crashed and main.status is Status.ERROR


def test_missing_plan_is_reported_but_fine() -> None:
    result = read_ktap("TAP version 13\nok 1 a\nok 2 b\n")
    assert result.missing_plan and not result.crashed
    assert result.cases[0].status is Status.PASS


def test_trailing_plan() -> None:
    result = read_ktap("TAP version 13\nok 1 a\nok 2 b\n1..2\n")
    assert not result.missing_plan and not result.crashed


def test_skip_all_plan() -> None:
    main = one("TAP version 13\n1..0 # SKIP needs root\n")
    assert (main.status, main.message, main.children) == (Status.SKIP, "needs root", [])


def test_a_header_with_no_tests_is_an_error_like_kunit_tool_says() -> None:
    for text in ("KTAP version 1\n1..0\n", "KTAP version 1\n", "TAP version 13\n# hello\n"):
        main = one(text)
        assert (main.status, main.message) == (Status.ERROR, "0 tests run"), text
    nested = one("KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: empty\nok 1 empty\n")
    assert [(c.status, c.message) for c in nested.children] == [(Status.ERROR, "0 tests run")]


def test_no_ktap_gives_nothing() -> None:
    assert parse_ktap(["Linux version 6.12", "ok 1 not in a document", "1..3"]) == []
    assert parse_ktap([]) == []


def test_diagnostics_before_a_result_belong_to_it() -> None:
    main = one("TAP version 13\n1..2\n# step one\n# step two\nok 1 a\nnot ok 2 b\n# Totals: 1\n")
    assert main.children[0].details == "# step one\n# step two"
    assert main.children[1].details == ""
    assert main.details == "# Totals: 1"


def test_subtest_header_names_a_document() -> None:
    [case] = parse_ktap("KTAP version 1\n# Subtest: guest-smoke\n1..1\nok 1 a\n")
    assert case.name == "guest-smoke"


def test_documents_are_unnamed_by_default() -> None:
    assert [c.name for c in parse_ktap("TAP version 13\n1..0\nKTAP version 1\n1..0\n")] == ["", ""]


def test_documents_are_named_after_the_given_name() -> None:
    cases = parse_ktap("TAP version 13\n1..1\nok 1 a\nTAP version 13\n1..1\nok 1 b\n", name="guest")
    assert [c.name for c in cases] == ["guest", "guest-2"]


def test_suite_that_never_reports_before_the_next_one() -> None:
    result = read_ktap(
        "KTAP version 1\n1..2\n    # Subtest: a\n    1..1\n"
        "    # Subtest: b\n    1..1\n    ok 1 x\nok 2 b\n"
    )
    [main] = result.cases
    assert [(c.name, c.status) for c in main.children] == [("a", Status.ERROR), ("b", Status.PASS)]
    assert result.crashed


def test_suite_open_at_end_of_input() -> None:
    main = one("KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: a\n    1..2\n    ok 1 x\n")
    suite = main.children[0]
    assert (suite.name, suite.status, suite.message) == ("a", Status.ERROR, CRASHED)
    assert [c.status for c in suite.children] == [Status.PASS, Status.ERROR]


def test_bail_out_explains_the_tests_not_run() -> None:
    main = one(
        "TAP version 13\n1..1\n# TAP version 13\n# 1..2\n"
        "# Bail out! no /dev/foo\nnot ok 1 prog # exit=1\n"
    )
    prog = main.children[0]
    assert (prog.status, prog.message) == (Status.ERROR, "exit=1")
    assert [c.message for c in prog.children] == ["Bail out! no /dev/foo"] * 2


def test_a_benchmark_s_not_ok_line_is_why_it_failed() -> None:
    """guest-tests/bench's run.sh prints a program's fail-reason as "# not ok: WHY"."""
    main = one(
        "KTAP version 1\n1..1\n# info: vcpus=2\n# metric: lock.anon4k.threads.serial_pct pp "
        "lower 6.8\n# not ok: vmobj_munmap: threads: a task still runs after 30 s\n"
        "# elapsed: locks 34.389 s\nnot ok 1 locks\n"
    )
    [locks] = main.children
    assert locks.message == "not ok: vmobj_munmap: threads: a task still runs after 30 s"


def test_wrong_numbers_are_problems_not_exceptions() -> None:
    result = read_ktap("TAP version 13\n1..2\nok 1 a\nok 3 c\n1..5\n")
    assert result.problems == (
        "line 4: expected test 2, found 3",
        "line 5: second plan 1..5 ignored",
    )


@pytest.mark.parametrize(
    "text",
    [
        "TAP version 13\n\x00\xff garbage\n    ok\nnot ok x\n1..\n",
        "KTAP version 1\n        ok 1 deep\n  ok 1 shallow\nok 1 top\n",
        "# Subtest: orphan\nKTAP version 1\n# Subtest: x\n# Subtest: y\n",
        "KTAP version 1\n1..99999999\n",
        "TAP version 13\n  1..2\n1..1\n\tok 1 a\n    not ok 2 b\nok 1 c\n",
    ],
)
def test_never_raises_on_bad_input(text: str) -> None:
    result = read_ktap(text)
    assert all(isinstance(case, Case) for case in result.cases)


def test_real_kselftest_run_in_the_guest_splits_per_suite() -> None:
    """A real guest run: the series' memfd_test fails on the base kernel, the base's own
    passes; the runner's per-test log lines (`#| `) are not tests."""
    from harness.suites import guest

    text = (FIXTURES / "guest_kselftest_memfd_on_base.out").read_text()
    on_base, smoke, own = guest.suite_results(
        text, ["kselftest-on-base", "smoke", "kselftest"], "no death"
    )
    assert [(c.name, c.status.value, c.message) for c in on_base.children] == [
        ("selftests: memfd: memfd_test", "fail", "exit=134")
    ]
    assert [c.name for c in smoke.children] == ["kernel_version", "thp_available", "anon_mmap"]
    assert [(c.name, c.status.value) for c in own.children] == [
        ("selftests: memfd: memfd_test", "pass")
    ]


def test_real_mm_kselftests_keep_their_own_subtests() -> None:
    from harness.suites import guest

    text = (FIXTURES / "guest_kselftest_mm_gmem.out").read_text()
    (suite,) = guest.suite_results(text, ["kselftest"], "")
    counts = {c.name: len(c.children) for c in suite.children}
    assert counts == {
        "selftests: mm: madv_populate": 16,
        "selftests: mm: map_fixed_noreplace": 9,
        "selftests: mm: mremap_dontunmap": 5,
        "selftests: mm: mlock2-tests": 13,
    }
    first = suite.children[0].children[0]
    assert (first.name, first.status) == ("MADV_POPULATE_READ with PROT_READ", Status.PASS)


# --- a parent's own result line -------------------------------------------------------------


def test_not_ok_after_passing_subtests_fails_with_the_reason_after_them() -> None:
    main = one(
        "KTAP version 1\n1..2\n    KTAP version 1\n    1..1\n    ok 1 a\nok 1 first\n"
        "    KTAP version 1\n    1..2\n    ok 1 b\n    ok 2 c\n"
        "    # exit_teardown: 2 passed, 0 failed, 0 skipped\n"
        "# exit_teardown: killed by signal 9\nnot ok 2 exit_teardown\n"
    )
    first, killed = main.children
    assert [c.status for c in killed.children] == [Status.PASS, Status.PASS]
    assert (killed.own, killed.status, killed.message) == (
        Status.FAIL,
        Status.FAIL,
        "killed by signal 9",
    )
    assert main.status is Status.FAIL and first.status is Status.PASS
    assert main.message == "not ok after 2 passing subtests (killed by signal 9)"


def test_ok_over_a_failing_subtest_fails_and_keeps_its_own_ok() -> None:
    main = one("KTAP version 1\n1..1\n    KTAP version 1\n    1..1\n    not ok 1 a\nok 1 w\n")
    (parent,) = main.children
    assert (parent.own, parent.status, parent.fails_on_its_own) == (Status.PASS, Status.FAIL, False)
    assert main.status is Status.FAIL


def test_ok_skip_with_no_subtests_is_a_skip() -> None:
    main = one("KTAP version 1\n1..1\nok 1 w # SKIP no gmem\n")
    assert [(c.status, c.message) for c in main.children] == [(Status.SKIP, "no gmem")]
    assert main.status is Status.SKIP


def test_a_suite_that_never_reports_after_passing_subtests_is_its_own_error() -> None:
    main = one("KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: a\n    1..1\n    ok 1 x\n")
    (suite,) = main.children
    assert (suite.own, suite.status, suite.crashed, suite.fails_on_its_own) == (
        Status.ERROR,
        Status.ERROR,
        True,
        True,
    )
