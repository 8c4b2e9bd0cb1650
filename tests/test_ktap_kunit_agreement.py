"""harness.suites.ktap must agree with the kernel's own kunit_tool parser on kunit_tool's test data.

The kernel tree comes from $HARNESS_KERNEL_TREE (default ~/.cache/harness/trees/debian-6.12);
without it these tests skip. Statuses are mapped SUCCESS->PASS, FAILURE->FAIL, SKIPPED->SKIP,
TEST_CRASHED->ERROR, NO_TESTS->ERROR (a header and no tests: "0 tests run", as kunit_tool says;
only "1..0 # SKIP why" is TAP's skip-all, a SKIP),
and FAILURE_TO_PARSE_TESTS->ERROR: read_ktap() then finds no document at all, and the guest stage
turns "no KTAP" into one ERROR case. Each of kunit_tool's statuses is taken as that test's own
result, and both trees are read through Case.status: the worse of a test's own result and its
subtests' (kunit_tool's main test counts leaves only, and an empty subtest not at all).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import REAL_TREE

from harness.cases import Case, Status
from harness.suites.ktap import missing_name, read_ktap

TREE = Path(os.environ.get("HARNESS_KERNEL_TREE", str(REAL_TREE)))
KUNIT_DIR = TREE.expanduser() / "tools" / "testing" / "kunit"
LOGS = sorted((KUNIT_DIR / "test_data").glob("*.log"))

STATUS = {
    "SUCCESS": Status.PASS,
    "FAILURE": Status.FAIL,
    "SKIPPED": Status.SKIP,
    "TEST_CRASHED": Status.ERROR,
    "NO_TESTS": Status.ERROR,
    "FAILURE_TO_PARSE_TESTS": Status.ERROR,
}

# Logs where we deliberately differ, why, and how deep the trees must still agree.
DIFFERENCES = {
    "test_is_test_passed-kselftest.log": (
        "kunit_tool reads kselftest's '# '-prefixed nested TAP as diagnostics; we parse it into "
        "subtests, so the trees agree down to the kselftest programs and we have more below",
        2,
    ),
}

Tree = tuple[str, Status, tuple[Any, ...]]


def no_tree(why: str) -> None:
    """Skip without the tree, but fail where it is required (CI unpacks it first)."""
    if os.environ.get("HARNESS_TREE_REQUIRED"):
        pytest.fail(f"{why}, and HARNESS_TREE_REQUIRED is set")
    pytest.skip(why)


@pytest.fixture(scope="module")
def kunit_parser() -> ModuleType:
    if not (KUNIT_DIR / "kunit_parser.py").is_file():
        no_tree(f"no kunit_tool in {KUNIT_DIR} (set HARNESS_KERNEL_TREE)")
    sys.path.insert(0, str(KUNIT_DIR))
    try:
        return importlib.import_module("kunit_parser")
    finally:
        sys.path.remove(str(KUNIT_DIR))


def kunit_case(test: Any, number: int = 0) -> Case:
    """kunit_tool's test as a Case: its status is its own, its subtests below it. Read back,
    a status is derived the one way harness derives every status (cases.status_of)."""
    # kunit_tool names a planned-but-missing test ""; we call it missing_name(number).
    name = test.name or missing_name(number)
    children = [kunit_case(sub, i) for i, sub in enumerate(test.subtests, 1)]
    return Case(name, STATUS[test.status.name], children=children)


def kunit_tree(test: Any) -> Tree:
    return our_tree(kunit_case(test))


def our_tree(case: Case, depth: int = 99) -> Tree:
    children = tuple(our_tree(c, depth - 1) for c in case.children) if depth > 1 else ()
    return (case.name, case.status, children)


def run_kunit(parser: ModuleType, path: Path) -> Any:
    with path.open(errors="replace") as log:
        try:
            return parser.parse_run_tests(log.readlines())
        except Exception as error:  # noqa: BLE001 - "logs kunit_parser can parse" only
            pytest.skip(f"kunit_parser cannot parse {path.name}: {error}")


@pytest.mark.parametrize("log", LOGS, ids=[log.name for log in LOGS])
def test_agrees_with_kunit_parser(kunit_parser: ModuleType, log: Path) -> None:
    theirs = run_kunit(kunit_parser, log)
    ours = read_ktap(log.read_text(errors="replace").splitlines(), name="main")
    if theirs.status.name == "FAILURE_TO_PARSE_TESTS":
        assert ours.cases == []
        return
    assert len(ours.cases) == 1
    reason, depth = DIFFERENCES.get(log.name, ("", 99))
    assert our_tree(ours.cases[0], depth) == kunit_tree(theirs), reason


def test_kselftest_difference_is_only_more_detail() -> None:
    log = KUNIT_DIR / "test_data" / "test_is_test_passed-kselftest.log"
    if not log.is_file():
        no_tree("no kernel tree")
    [main] = read_ktap(log.read_text().splitlines()).cases
    assert [len(program.children) for program in main.children] == [2, 2]
    assert all(leaf.status is Status.PASS for leaf in main.leaves())


def test_differences_name_real_logs() -> None:
    if not LOGS:
        no_tree("no kernel tree")
    assert set(DIFFERENCES) <= {log.name for log in LOGS}
    assert len(DIFFERENCES) <= 3, "keep deliberate differences few"
