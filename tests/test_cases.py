"""Case.status: derived from a test's own result and its subtests', the way kunit_tool does."""

from __future__ import annotations

from harness.cases import Case, Status, status_of
from harness.pipeline import apply_xfail
from harness.results import junit

P, F, S, X, E = Status.PASS, Status.FAIL, Status.SKIP, Status.XFAIL, Status.ERROR


def _parent(own: Status, *children: Status, message: str = "") -> Case:
    return Case("w", own, message, children=[Case(f"t{i}", s) for i, s in enumerate(children)])


def test_a_leaf_is_what_it_said() -> None:
    for status in Status:
        assert Case("t", status).status is status


def test_not_ok_over_passing_subtests_fails_on_its_own() -> None:
    parent = _parent(F, P, P, message="killed by signal 9")
    assert parent.status is F and parent.fails_on_its_own
    assert [leaf.name for leaf in parent.leaves()] == ["t0", "t1", "w"]
    assert parent.explain() == "not ok after 2 passing subtests (killed by signal 9)"


def test_ok_over_a_failing_subtest_fails_through_the_subtest() -> None:
    parent = _parent(P, P, F)
    assert parent.status is F and not parent.fails_on_its_own
    assert [leaf.name for leaf in parent.leaves()] == ["t0", "t1"]


def test_not_ok_over_a_failing_subtest_is_one_failure_not_two() -> None:
    parent = _parent(F, P, F)
    assert parent.status is F and not parent.fails_on_its_own


def test_the_worse_of_own_and_subtests_wins() -> None:
    assert _parent(E, P, F).status is E and _parent(E, P, F).fails_on_its_own
    assert _parent(F, P, E).status is E and not _parent(F, P, E).fails_on_its_own
    assert _parent(E, S).explain() == "no verdict after 1 skipped subtest"


def test_skips_and_expected_failures_are_as_before() -> None:
    assert _parent(P, S, S).status is S  # ok over skips only: SKIP
    assert _parent(S).status is S  # `ok 1 w # SKIP`, no subtests
    assert _parent(P, S, P).status is P
    assert _parent(P, X, P).status is P and _parent(P, X).status is P
    assert _parent(X, P).status is P  # an expected own failure does not fail it
    assert status_of(Case("suite", children=[_parent(F, P)])) is F  # it rises to the top


def test_xfail_takes_a_parents_own_failure_and_flags_only_leaves() -> None:
    gmem = Case("gmem", children=[_parent(F, P, message="killed by signal 9"), _parent(P, P)])
    gmem.children[1].name = "ok_parent"
    apply_xfail(gmem, {"gmem.w": "dies at exit on the RFC", "gmem.ok_parent": "flaky"})
    failing, passing = gmem.children
    assert failing.own is X and failing.message.startswith("dies at exit on the RFC")
    assert failing.status is P and gmem.status is P
    assert passing.own is P and passing.message == ""  # a parent that said ok is not flagged


def test_results_json_keeps_a_parents_own_result() -> None:
    suites = [Case("gmem", children=[_parent(F, P, P, message="killed by signal 9")])]
    data = [junit.case_to_dict(s) for s in suites]
    assert data[0]["status"] == "fail" and "own" not in data[0]
    assert (data[0]["children"][0]["status"], data[0]["children"][0]["own"]) == ("fail", "fail")
    assert [junit.case_from_dict(d) for d in data] == suites


def test_an_older_results_json_reads_back_with_statuses_from_its_leaves() -> None:
    old = {"name": "gmem", "status": "fail", "children": [{"name": "t", "status": "fail"}]}
    case = junit.case_from_dict(old)
    assert (case.own, case.status) == (P, F)
