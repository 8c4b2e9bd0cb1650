"""Base vs patched: the same tests on both trees, each leaf classified by its dotted path.
A leaf is any of Case.leaves(): a parent that fails on its own is compared by its own result
line with the same parent on the other tree, where it may have said ok.

Input: the test suites (Cases) of a base run and of a patched run. Output: one Case per
leaf test with a verdict (new, fixed, regressed, still-failing, fails-differently, unchanged,
removed), a summary Case with the counts as properties, and the patched results with
pre-existing failures marked XFAIL so the exit status follows regressions and new failures only. A
failure is pre-existing only when the base fails the same way: a base that lacks the
feature (ENOSYS, not supported; SKIP or absent are regressed/new anyway) or fails
otherwise excuses nothing, and the verdict says why.
Pure: writes nothing, raises nothing.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator

from harness.cases import Case, Status

SUITE_NAME = "compare-base"


class Verdict(enum.Enum):
    NEW = "new"
    FIXED = "fixed"
    REGRESSED = "regressed"
    STILL_FAILING = "still-failing"
    FAILS_DIFFERENTLY = "fails-differently"  # bad on both, but not the same failure
    UNCHANGED = "unchanged"
    REMOVED = "removed"


def _walk(suites: list[Case]) -> Iterator[tuple[str, Case]]:
    """Every Case with its dotted path (suite.subtest.case), a parent after its children."""

    def walk(case: Case, prefix: str) -> Iterator[tuple[str, Case]]:
        path = f"{prefix}.{case.name}" if prefix else case.name
        for child in case.children:
            yield from walk(child, path)
        yield path, case

    for suite in suites:
        yield from walk(suite, "")


def leaf_paths(suites: list[Case]) -> dict[str, Case]:
    """Every leaf test (Case.leaves()) by its dotted path: suite.subtest.case."""
    paths: dict[str, Case] = {}
    for path, case in _walk(suites):
        # "(no KUnit suites)": nothing to run, not a test that went away
        placeholder = case.placeholder and case.status is Status.SKIP
        if placeholder or (case.children and not case.fails_on_its_own):
            continue
        unique, n = path, 1
        while unique in paths:  # mlock2-tests prints "test_mlock_lock: Locked" twice
            n += 1
            unique = f"{path} #{n}"
        paths[unique] = case
    return paths


def _parent_paths(suites: list[Case]) -> dict[str, Case]:
    """Every test with subtests by its path: where a parent fails on its own on one tree,
    its own result line on the other tree is what it is compared with."""
    return {path: case for path, case in _walk(suites) if case.children}


def classify(base: Status | None, patched: Status | None) -> Verdict:
    if base is None:
        return Verdict.NEW
    if patched is None:
        return Verdict.REMOVED
    if base.is_bad and patched.is_bad:
        return Verdict.STILL_FAILING
    if base.is_bad:
        return Verdict.FIXED
    if patched.is_bad:
        return Verdict.REGRESSED
    return Verdict.UNCHANGED


# What a test prints when the kernel it runs on does not have the feature yet: such a base
# failure says nothing about the series' failure of the same test.
LACKS_FEATURE = re.compile(
    r"\bENOSYS\b|Function not implemented|\bEOPNOTSUPP\b|\bENOTSUPP\b|not supported"
    r"|Unknown symbol|\bENODEV\b|No such device|\bENOENT\b.*(?:/proc|/sys)",
    re.I,
)


def _shape(message: str) -> str:
    """A failure's message with its numbers (addresses, counts, times) blanked."""
    return re.sub(r"0x[0-9a-f]+|\d+(?:\.\d+)?", "N", message.strip(), flags=re.I)


def different_failure(base: Case, patched: Case) -> str:
    """'' when the base fails the way the series does (same status, same message but for
    numbers), else why the base's failure does not excuse the series'."""
    lacks = LACKS_FEATURE.search(f"{base.message}\n{base.details}")
    if lacks:
        return f"the base lacks the feature ({lacks.group(0)}): that does not excuse the series"
    if base.own is not patched.own or _shape(base.message) != _shape(patched.message):
        was = f"{base.own.value}" + (f" ({base.message})" if base.message else "")
        return f"fails differently on the base: {was}"
    return ""


def _status(verdict: Verdict, patched: Status | None) -> Status:
    if verdict in (Verdict.REGRESSED, Verdict.FAILS_DIFFERENTLY) or (
        verdict is Verdict.NEW and patched and patched.is_bad
    ):
        return Status.FAIL
    if verdict is Verdict.STILL_FAILING:
        return Status.XFAIL
    if verdict is Verdict.REMOVED:
        return Status.SKIP
    return patched or Status.PASS


def compare(base: list[Case], patched: list[Case]) -> list[Case]:
    """One Case per leaf test of either run, named by its dotted path. What is compared is
    each test's own verdict: for a leaf its status, for a parent its own result line."""
    before, after = leaf_paths(base), leaf_paths(patched)
    base_parents, patched_parents = _parent_paths(base), _parent_paths(patched)
    cases = []
    for path in [*after, *(p for p in before if p not in after)]:
        old = before.get(path) or base_parents.get(path)
        new = after.get(path) or patched_parents.get(path)
        now_status = new.own if new else None
        verdict = classify(old.own if old else None, now_status)
        why = (
            different_failure(old, new) if old and new and verdict is Verdict.STILL_FAILING else ""
        )
        verdict = Verdict.FAILS_DIFFERENTLY if why else verdict
        was = old.own.value if old else "absent"
        now = new.own.value if new else "absent"
        message = f"{verdict.value}: {was} on base, {now} with the series"
        if new and new.message:
            message += f" ({new.message})"
        message += f"; {why}" if why else ""
        cases.append(
            Case(
                path,
                _status(verdict, now_status),
                message,
                properties={"verdict": verdict.value, "base": was, "patched": now},
            )
        )
    return cases


def summary(verdicts: list[Case]) -> Case:
    """The compare-base suite: its children are the verdicts, its properties the counts."""
    counts = {v.value: 0 for v in Verdict}
    for case in verdicts:
        counts[case.properties["verdict"]] += 1
    suite = Case(
        SUITE_NAME,
        message=", ".join(f"{n} {v}" for v, n in counts.items() if n),
        children=list(verdicts),
        properties={k: str(n) for k, n in counts.items()},
    )
    suite.own = Status.PASS if verdicts else Status.SKIP
    return suite


def mark_preexisting(patched: list[Case], verdicts: list[Case]) -> int:
    """Failures the base has too become XFAIL in the patched results; returns how many."""
    still = {c.name for c in verdicts if c.properties.get("verdict") == Verdict.STILL_FAILING.value}
    marked = 0
    for path, leaf in leaf_paths(patched).items():
        if path in still and leaf.status.is_bad:
            leaf.own = Status.XFAIL
            leaf.message = (
                f"fails on the base too ({leaf.message})"
                if leaf.message
                else ("fails on the base too")
            )
            marked += 1
    return marked


DETECTION_SUITE = "shows-the-change"


def detection(on_base_kernel: Case, patched: Case) -> Case:
    """The series' own kselftest build on the base kernel against the patched kernel: a
    test that fails without the series and passes with it exercises what the series
    changed; one that passes on both does not. Informational: it never fails the run."""
    before = {p.split(".", 1)[-1]: c for p, c in leaf_paths([on_base_kernel]).items()}
    children = []
    counts = {"shows": 0, "does not show": 0, "other": 0}
    for path, new in leaf_paths([patched]).items():
        old = before.get(path.split(".", 1)[-1])
        if old is None:
            continue
        if old.status.is_bad and new.status is Status.PASS:
            kind, why = "shows", "fails on the base kernel, passes with the series"
        elif old.status is Status.PASS and new.status is Status.PASS:
            kind, why = "does not show", "passes on the base kernel too"
        else:
            kind, why = (
                "other",
                f"{old.status.value} on the base kernel, {new.status.value} with it",
            )
        counts[kind] += 1
        detail = f" ({old.message})" if old.message and old.status.is_bad else ""
        log = old.details if old.status.is_bad else ""  # why it fails without the series
        children.append(
            Case(
                path, Status.PASS, f"{why}{detail}", details=log, properties={"shows_change": kind}
            )
        )
    phrases = {
        "shows": "fail without the series (they test the change)",
        "does not show": "pass without the series too",
        "other": "other",
    }
    message = ", ".join(f"{n} {phrases[k]}" for k, n in counts.items() if n)
    return Case(DETECTION_SUITE, message=message, children=children)
