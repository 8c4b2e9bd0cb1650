"""Parse KTAP/TAP output (KUnit, kselftest, our guest tests) into a tree of Cases.

Input: console or stdout lines. Kernel timestamps (`[    1.234567] `, `[ 1.2][  T1] `) are
stripped, log noise between KTAP lines becomes details, and nesting is read from the prefix of
each line: whitespace (KUnit, 2/4 spaces or tabs) or kselftest's `# ` (three levels in mm).
Output: one suite Case per top-level KTAP document (`parse_ktap`), or a KtapResult that also
says whether a test crashed and what looked malformed (`read_ktap`). No KTAP at all gives [].
Errors: none raised. A test that starts and never reports, and tests a plan promised but that
never came, become ERROR cases; oddities (wrong numbers, second plans) go to `problems`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from harness.cases import Case, Status

CRASHED = "no result: crashed or hung?"
NO_TESTS_RUN = "0 tests run"  # kunit_tool's words for a KTAP header with no tests
_MAX_MISSING = 100

_TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\](?:\[\s*[CT]\d+\])? ?")
_PREFIX_UNIT = re.compile(r"[ \t]+|# (?!Subtest:)")
_VERSION = re.compile(r"^K?TAP version \d+$")
_PLAN = re.compile(r"^1\.\.(\d+)\s*(?:#\s*(.*))?$")
_RESULT = re.compile(r"^(ok|not ok)\s+(\d+)\b\s*(.*)$")
_SUBTEST = re.compile(r"^# Subtest: (.*)$")
_DIRECTIVE = re.compile(r"(?:^|\s)(?<!\\)#\s*(.*)$")
# kunit_tool stops at these; after them nothing still open can report.
_END = re.compile(
    r"Kernel panic - not syncing|reboot: (?:System halted|Power down|Restarting system)"
    r"|List of all partitions:"
)
# Lines that announce which test is about to run (kselftest_harness.h, kselftest runner.sh).
_ANNOUNCED = (re.compile(r"^#\s+RUN\s+(\S+) \.\.\.$"), re.compile(r"^# (selftests: .+)$"))
# A failing test's reason among its diagnostics; "not ok: WHY" is guest-tests/bench's.
_WHY = re.compile(r"FAIL|Expected|ASSERT|error|Bail out!|^#\s*not ok: ", re.IGNORECASE)
# A test's own tally of its subtests (ktest.h, KUnit, kselftest.h): never why it failed.
_TALLY = re.compile(r"\b\d+ passed, \d+ failed|^Totals:|\bpass:\d+ fail:\d+", re.IGNORECASE)


@dataclass(frozen=True)
class KtapResult:
    cases: list[Case]  # one suite per top-level KTAP document
    crashed: bool = False  # a test started and never reported, or planned tests never came
    missing_plan: bool = False  # some document or suite had no `1..N` line
    problems: tuple[str, ...] = ()  # "line 12: expected test 3, found 4", ...


@dataclass(frozen=True)
class _Verdict:
    """One `ok N name # DIRECTIVE reason` line."""

    number: int
    name: str
    status: Status
    message: str


@dataclass
class _Frame:
    """A document or subtest whose result line has not come yet."""

    prefix: str
    name: str = ""
    plan: int | None = None
    skip_all: str | None = None
    children: list[Case] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # diagnostics since the last result here

    @property
    def fresh(self) -> bool:
        return self.plan is None and not self.children

    def encloses(self, prefix: str) -> bool:
        return prefix.startswith(self.prefix) and len(prefix) > len(self.prefix)


def parse_ktap(lines: Iterable[str], name: str = "") -> list[Case]:
    """One suite Case per KTAP document in `lines`.

    A document without a `# Subtest:` name is called `name`, then `name-2`, ...; with the
    default "" unnamed documents stay unnamed (kunit_tool calls its one document "main").
    """
    return read_ktap(lines, name).cases


def read_ktap(lines: Iterable[str], name: str = "") -> KtapResult:
    """Like parse_ktap, and also whether anything crashed and what looked malformed."""
    parser = _Parser(name)
    for number, line in enumerate(lines.splitlines() if isinstance(lines, str) else lines, 1):
        parser.feed(number, line)
    parser.close_all()
    return KtapResult(parser.docs, parser.crashed, parser.missing_plan, tuple(parser.problems))


def missing_name(number: int) -> str:
    """The name of test `number` that a plan promised but that never printed a result line."""
    return f"test-{number}"


def _parse_verdict(content: str) -> _Verdict | None:
    """`ok 3 - name # SKIP why` -> its number, name and status; None for any other line."""
    match = _RESULT.match(content)
    if not match:
        return None
    rest = match.group(3)
    directive = _DIRECTIVE.search(rest)
    name = rest[: directive.start()] if directive else rest
    name = re.sub(r"^-(\s+|$)", "", name.strip()).strip()
    status, message = _directive_status(
        match.group(1) == "ok", directive.group(1) if directive else ""
    )
    return _Verdict(int(match.group(2)), name, status, message)


def _directive_status(ok: bool, directive: str) -> tuple[Status, str]:
    word, _, reason = directive.strip().partition(" ")
    reason = reason.strip()
    match word.upper():
        case "SKIP":
            return Status.SKIP, reason
        case "TODO":
            return (Status.PASS if ok else Status.XFAIL), directive
        case "XFAIL":
            return Status.XFAIL, reason
        case "XPASS":  # kselftest exits non-zero on an unexpected pass
            return Status.FAIL, directive
        case "TIMEOUT":
            return Status.ERROR, directive
        case "ERROR" if not ok:  # ksft_test_result_error(): could not run to a verdict
            return Status.ERROR, reason
    return (Status.PASS if ok else Status.FAIL), directive.strip()


def _split_prefix(line: str) -> tuple[str, str]:
    end = 0
    while (unit := _PREFIX_UNIT.match(line, end)) and unit.end() > end:
        end = unit.end()
    return line[:end], line[end:]


def _why(details: list[str]) -> str:
    return next((line.lstrip("# ").strip() for line in details if _WHY.search(line)), "")


def _announced(details: list[str]) -> str:
    for line in reversed(details):
        for pattern in _ANNOUNCED:
            if match := pattern.match(line):
                return match.group(1)
    return ""


def _own_reason(lines: list[str], name: str) -> str:
    """Why a test failed over passing subtests: the first line after its last subtest that
    is not a tally, e.g. GMEM run.sh's "# exit_teardown: killed by signal 9"."""
    for line in lines:
        text = line.lstrip("# ").strip().removeprefix(f"{name}: ")
        if text and not _TALLY.search(text):
            return text
    return ""


class _Parser:
    """A stack of open frames; each line opens, names, plans, closes or annotates one."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.stack: list[_Frame] = []
        self.docs: list[Case] = []
        self.problems: list[str] = []
        self.crashed = False
        self.missing_plan = False

    def feed(self, number: int, raw: str) -> None:
        text = _TIMESTAMP.sub("", raw.rstrip("\r\n"), count=1).rstrip()
        if _END.search(text):
            self.close_all()
            return
        prefix, content = _split_prefix(text)
        if _VERSION.match(content):
            self._version(prefix)
        elif not self.stack:
            return  # noise before any KTAP
        elif (verdict := _parse_verdict(content)) is not None:
            self._result(number, prefix, verdict, text)
        elif plan := _PLAN.match(content):
            self._plan(number, prefix, int(plan.group(1)), plan.group(2), text)
        elif subtest := _SUBTEST.match(content):
            self._subtest(prefix, subtest.group(1).strip(), text)
        else:
            self._diagnostic(text)

    def close_all(self) -> None:
        while self.stack:
            self._close_unreported()

    def _version(self, prefix: str) -> None:
        top = self.stack[-1] if self.stack else None
        if top and top.prefix == prefix and top.fresh and top.name:
            return  # `# Subtest: x` then `KTAP version 1`: one header
        while self.stack and not self.stack[-1].encloses(prefix):
            self._close_unreported()
        self._open(prefix)

    def _subtest(self, prefix: str, name: str, text: str) -> None:
        top = self.stack[-1]
        if top.prefix == prefix and top.fresh and not top.name:
            top.name = name
        elif top.encloses(prefix):
            self._open(prefix).name = name
        elif (depth := self._depth(prefix)) is not None and depth > 0:
            while len(self.stack) > depth:  # the previous subtest here never reported
                self._close_unreported()
            self._open(prefix).name = name
        else:
            self._diagnostic(text)

    def _plan(self, number: int, prefix: str, count: int, directive: str | None, text: str) -> None:
        frame = self._frame_for(prefix)
        if frame is None:
            self._diagnostic(text)
        elif frame.plan is not None:
            self.problems.append(f"line {number}: second plan 1..{count} ignored")
        else:
            frame.plan = count
            if count == 0 and directive:
                frame.skip_all = re.sub(r"^SKIP\s*", "", directive, flags=re.IGNORECASE)

    def _result(self, number: int, prefix: str, verdict: _Verdict, text: str) -> None:
        frame = self._frame_for(prefix)
        if frame is None:
            self.problems.append(f"line {number}: result outside any test: {text.strip()}")
            self._diagnostic(text)
            return
        expected = len(frame.children) + 1
        if verdict.number != expected:
            self.problems.append(f"line {number}: expected test {expected}, found {verdict.number}")
        if self.stack[-1] is not frame:  # it closes the subtest nested in `frame`
            case = self._close(self.stack.pop(), verdict, expected)
        else:
            case = self._leaf(frame, verdict)
        frame.children.append(case)

    def _frame_for(self, prefix: str) -> _Frame | None:
        """The frame a plan or result at `prefix` belongs to, opening an implicit one if deeper."""
        depth = self._depth(prefix)
        if depth is None:
            return self._open(prefix) if self.stack[-1].encloses(prefix) else None
        while len(self.stack) > depth + 2:  # deeper subtests that never reported
            self._close_unreported()
        return self.stack[depth]

    def _depth(self, prefix: str) -> int | None:
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth].prefix == prefix:
                return depth
        return None

    def _diagnostic(self, text: str) -> None:
        frame = self.stack[-1]
        line = text[len(frame.prefix) :] if text.startswith(frame.prefix) else text.lstrip()
        if not line.strip():
            return
        if frame.fresh and frame.name:  # `# module: x` between `# Subtest:` and the plan
            frame.details.append(line)
        else:
            frame.pending.append(line)

    def _open(self, prefix: str) -> _Frame:
        frame = _Frame(prefix)
        if self.stack:  # what the parent printed since its last result introduces this one
            frame.details, self.stack[-1].pending = self.stack[-1].pending, []
        self.stack.append(frame)
        return frame

    def _leaf(self, frame: _Frame, verdict: _Verdict) -> Case:
        details, frame.pending = frame.pending, []
        message = verdict.message or (_why(details) if verdict.status.is_bad else "")
        name = verdict.name or missing_name(verdict.number)
        return Case(name, verdict.status, message, "\n".join(details))

    def _close_unreported(self) -> None:
        frame = self.stack.pop()
        if not self.stack:
            self.docs.append(self._document(frame))
            return
        parent = self.stack[-1]
        number = len(parent.children) + 1
        self.crashed = True
        parent.children.append(self._close(frame, None, number))

    def _close(self, frame: _Frame, verdict: _Verdict | None, number: int) -> Case:
        """A test with subtests: its own result is its result line (ERROR when it never
        printed one); its status, the worse of that and its subtests', is derived on reading."""
        children = self._with_missing(frame)
        details = "\n".join(frame.details + frame.pending)
        name = (verdict and verdict.name) or frame.name or _announced(frame.details)
        case = Case(name or missing_name(number), Status.ERROR, CRASHED, details, crashed=True)
        case.children = children
        if verdict is not None:
            case.own, case.message = verdict.status, verdict.message
            case.crashed = False
        if not children and frame.skip_all is not None:
            case.own, case.message = Status.SKIP, frame.skip_all
            case.crashed = False
        elif not children and case.own is Status.PASS:
            # kunit_tool's NO_TESTS: a subtest header and no subtests under it.
            return _no_tests(case)
        if case.fails_on_its_own and not case.message:
            case.message = _own_reason(frame.pending, case.name)
        return case

    def _document(self, frame: _Frame) -> Case:
        children = self._with_missing(frame)
        name = frame.name or self.name
        if name and not frame.name and self.docs:
            name = f"{name}-{len(self.docs) + 1}"
        case = Case(name, details="\n".join(frame.details + frame.pending), children=children)
        if not children:
            return _no_tests(case, frame.skip_all)
        if case.status.is_bad:
            case.message = next((c.explain() for c in case.leaves() if c.status.is_bad), "")
        return case

    def _with_missing(self, frame: _Frame) -> list[Case]:
        """Children, plus an ERROR case for each planned test that never reported."""
        if frame.plan is None:
            self.missing_plan = True
            return frame.children
        missing = range(len(frame.children) + 1, frame.plan + 1)
        nodes = list(frame.children)
        bail_out = next((line.lstrip("# ") for line in frame.pending if "Bail out!" in line), "")
        # The first missing test was running when things stopped, unless a subtest already was.
        running = not bail_out and (not nodes or not nodes[-1].crashed)
        for number in missing[:_MAX_MISSING]:
            self.crashed = True
            first = running and number == missing[0]
            name = (first and _announced(frame.pending)) or missing_name(number)
            if first:
                case = Case(name, Status.ERROR, CRASHED, "\n".join(frame.pending), crashed=True)
                frame.pending = []
            else:
                case = Case(
                    name, Status.ERROR, bail_out or f"not run: the plan was 1..{frame.plan}"
                )
            nodes.append(case)
        if len(missing) > _MAX_MISSING:  # a garbled plan must not make a million cases
            nodes[-1].name = f"{missing_name(missing[_MAX_MISSING - 1])}..{frame.plan}"
        return nodes


def _no_tests(case: Case, skip_all: str | None = None) -> Case:
    """A header and no tests. `1..0 # SKIP why` is TAP's skip-all: a SKIP. Otherwise it is
    kunit_tool's NO_TESTS ("0 tests run!"): an ERROR, since nothing was tested."""
    if skip_all is not None:
        case.own, case.message = Status.SKIP, skip_all or "skipped (1..0 # SKIP)"
    else:
        case.own, case.message = Status.ERROR, NO_TESTS_RUN
    return case
