"""Base vs patched verdicts: pure classification of leaf tests by dotted path."""

from __future__ import annotations

from harness.cases import Case, Status
from harness.results import base_comparison

P, F, S, E = Status.PASS, Status.FAIL, Status.SKIP, Status.ERROR


def _suite(name: str, **leaves: Status) -> Case:
    """A suite from `sub__leaf=STATUS` keywords: `__` nests."""
    suite = Case(name)
    for path, status in leaves.items():
        parent = suite
        *parents, leaf = path.split("__")
        for part in parents:
            child = next((c for c in parent.children if c.name == part), None)
            if child is None:
                child = Case(part)
                parent.children.append(child)
            parent = child
        parent.children.append(Case(leaf, status, "boom" if status.is_bad else ""))
    return suite


def _by_verdict(cases: list[Case]) -> dict[str, str]:
    return {c.name: c.properties["verdict"] for c in cases}


def test_each_leaf_gets_one_verdict() -> None:
    base = [_suite("kunit", list__init=P, list__del=F, list__add=F, list__gone=P, list__same=S)]
    patched = [_suite("kunit", list__init=F, list__del=P, list__add=E, list__new=P, list__same=S)]
    found = base_comparison.compare(base, patched)
    assert _by_verdict(found) == {
        "kunit.list.init": "regressed",
        "kunit.list.del": "fixed",
        "kunit.list.add": "fails-differently",  # fail on the base, error with the series
        "kunit.list.new": "new",
        "kunit.list.same": "unchanged",
        "kunit.list.gone": "removed",
    }
    status = {c.name: c.status for c in found}
    assert status["kunit.list.init"] is F
    assert status["kunit.list.add"] is F
    assert status["kunit.list.gone"] is S
    assert status["kunit.list.same"] is S
    regressed = next(c for c in found if c.name == "kunit.list.init")
    assert regressed.message == "regressed: pass on base, fail with the series (boom)"


def test_a_new_failing_test_fails_the_comparison() -> None:
    found = base_comparison.compare([], [_suite("kselftest", **{"selftests: mm: cow": F})])
    assert [(c.properties["verdict"], c.status) for c in found] == [("new", F)]
    assert base_comparison.summary(found).status is F


def test_summary_counts_and_status() -> None:
    base = [_suite("smoke", a=F, b=P)]
    patched = [_suite("smoke", a=F, b=P, c=P)]
    suite = base_comparison.summary(base_comparison.compare(base, patched))
    assert suite.name == base_comparison.SUITE_NAME
    assert suite.properties == {
        "new": "1",
        "fixed": "0",
        "regressed": "0",
        "still-failing": "1",
        "fails-differently": "0",
        "unchanged": "1",
        "removed": "0",
    }
    assert suite.message == "1 new, 1 still-failing, 1 unchanged"
    assert suite.status is P  # a pre-existing failure is no verdict against the series
    assert base_comparison.summary([]).status is S


def test_preexisting_failures_stop_failing_the_run() -> None:
    base = [_suite("kunit", list__a=F, list__b=P)]
    patched = [_suite("kunit", list__a=F, list__b=F)]
    found = base_comparison.compare(base, patched)
    assert base_comparison.mark_preexisting(patched, found) == 1
    leaves = {leaf.name: leaf for leaf in patched[0].leaves()}
    assert (
        leaves["a"].status is Status.XFAIL and leaves["a"].message == "fails on the base too (boom)"
    )
    assert leaves["b"].status is F  # the regression still fails the run
    assert patched[0].status is F
    patched_ok = [_suite("kunit", list__a=F, list__b=P)]
    base_comparison.mark_preexisting(patched_ok, base_comparison.compare(base, patched_ok))
    assert patched_ok[0].status is P


def test_a_skip_placeholder_on_the_base_is_not_a_removed_test() -> None:
    """The base kernel has no KUnit suite yet ("(no KUnit suites)"); the series adds one."""
    base = [
        Case("kunit", children=[Case("(no KUnit suites)", S, "none built in", placeholder=True)])
    ]
    patched = [_suite("kunit", **{"math-int_sqrt__int_sqrt_test__large input": P})]
    assert _by_verdict(base_comparison.compare(base, patched)) == {
        "kunit.math-int_sqrt.int_sqrt_test.large input": "new"
    }


def test_the_series_tests_on_the_base_kernel_show_whether_they_test_the_change() -> None:
    on_base = _suite(
        "kselftest-on-base",
        **{"memfd__memfd_test": F, "memfd__run_fuse_test.sh": P, "mm__cow": S},
    )
    patched = _suite(
        "kselftest", **{"memfd__memfd_test": P, "memfd__run_fuse_test.sh": P, "mm__cow": P}
    )
    shown = base_comparison.detection(on_base, patched)
    assert shown.message == (
        "1 fail without the series (they test the change), 1 pass without the series too, 1 other"
    )
    assert {c.name: c.properties["shows_change"] for c in shown.children} == {
        "kselftest.memfd.memfd_test": "shows",
        "kselftest.memfd.run_fuse_test.sh": "does not show",
        "kselftest.mm.cow": "other",
    }
    assert shown.children[0].message == ("fails on the base kernel, passes with the series (boom)")
    assert all(c.status is P for c in shown.children)  # informational, never a failure


def test_repeated_names_are_compared_in_order() -> None:
    """mlock2-tests prints `ok N test_mlock_lock: Locked` twice: both are tests."""
    base = _suite("kselftest", **{"mlock2__a": P})
    base.children[0].children.append(Case("a", F, "boom"))
    patched = _suite("kselftest", **{"mlock2__a": P})
    patched.children[0].children.append(Case("a", P))
    assert _by_verdict(base_comparison.compare([base], [patched])) == {
        "kselftest.mlock2.a": "unchanged",
        "kselftest.mlock2.a #2": "fixed",
    }


def _leaf_suite(status: Status, message: str, details: str = "") -> list[Case]:
    suite = Case("gmem", children=[Case("hmadvise_range", status, message, details=details)])
    return [suite]


def test_a_base_without_the_feature_does_not_excuse_the_series() -> None:
    """The series' own syscall fails on the base with ENOSYS (it does not exist there yet)
    and fails with the series too: that is the series' failure, not a pre-existing one."""
    base = _leaf_suite(F, "hmadvise: Function not implemented (errno 38)")
    patched = _leaf_suite(F, "hmadvise returned -22, expected 0")
    (found,) = base_comparison.compare(base, patched)
    assert found.properties["verdict"] == "fails-differently" and found.status is F
    assert "the base lacks the feature (Function not implemented)" in found.message
    assert base_comparison.mark_preexisting(patched, [found]) == 0
    assert patched[0].status is F
    assert base_comparison.summary([found]).status is F


def test_enosys_in_the_details_is_a_missing_feature_too() -> None:
    base = _leaf_suite(F, "syscall failed", details="# hmadvise: errno ENOSYS")
    (found,) = base_comparison.compare(base, _leaf_suite(F, "syscall failed"))
    assert found.properties["verdict"] == "fails-differently"


def test_the_same_failure_but_for_numbers_is_still_failing() -> None:
    base = _leaf_suite(F, "leaked 4096 bytes at 0xffff8880")
    patched = _leaf_suite(F, "leaked 8192 bytes at 0xffff9990")
    (found,) = base_comparison.compare(base, patched)
    assert found.properties["verdict"] == "still-failing" and found.status is Status.XFAIL
    assert base_comparison.mark_preexisting(patched, [found]) == 1


def test_a_different_failure_on_the_base_says_what_it_was() -> None:
    (found,) = base_comparison.compare(_leaf_suite(F, "timeout"), _leaf_suite(F, "oops"))
    assert found.status is F
    assert found.message.endswith("fails differently on the base: fail (timeout)")


def _workload(own: Status, message: str = "") -> list[Case]:
    subtests = [Case("a", P), Case("b", P)]
    return [Case("gmem", children=[Case("exit_teardown", own, message, children=subtests)])]


def test_a_parent_failing_on_its_own_is_compared_by_its_own_result_line() -> None:
    killed = "killed by signal 9"
    regressed = {c.name: c for c in base_comparison.compare(_workload(P), _workload(F, killed))}
    assert regressed["gmem.exit_teardown"].properties["verdict"] == "regressed"
    assert regressed["gmem.exit_teardown"].status is F
    assert regressed["gmem.exit_teardown.a"].properties["verdict"] == "unchanged"
    fixed = {c.name: c for c in base_comparison.compare(_workload(F, killed), _workload(P))}
    assert (
        fixed["gmem.exit_teardown"].properties["verdict"],
        fixed["gmem.exit_teardown"].status,
    ) == (
        "fixed",
        P,
    )
    patched = _workload(F, killed)
    verdicts = base_comparison.compare(_workload(F, killed), patched)
    assert base_comparison.mark_preexisting(patched, verdicts) == 1
    assert (patched[0].children[0].own, patched[0].status) == (Status.XFAIL, P)
