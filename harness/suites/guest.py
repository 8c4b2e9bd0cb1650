"""Guest suites: build them on the host, run them in the guest, split their KTAP.

Input: suite names, a kernel build. Output: the guest command line for vm.boot,
and one Case per suite parsed from the guest's output.
A suite is guest-tests/<name>/ with a Makefile taking OUT=, KDIR=, KSRC= and
producing OUT/run.sh (prints KTAP) and OUT/workloads (one name per line).
Writes each suite's build under the run dir (guest/<name>/) and guest-build.log.
Raises UserError for a suite guest-tests/ does not have, or a workload (`SUITE:W1,W2`)
that the suite's workloads list does not name.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, replace
from pathlib import Path

from harness import proc, sandbox
from harness.build.kconfig import PROJECT_ROOT
from harness.cases import Case, Status
from harness.errors import UserError
from harness.sandbox import Step
from harness.suites import ktap

GUEST_TESTS = PROJECT_ROOT / "guest-tests"
NAME = re.compile(r"[A-Za-z0-9_-]+")  # a suite's or a workload's name
BEGIN = re.compile(r"^# harness: suite (\S+) begin$")
END = re.compile(r"^# harness: suite (\S+) end rc=(\d+)$")


@dataclass(frozen=True)
class BuiltSuite:
    name: str
    out: Path
    workloads: tuple[str, ...]
    # True: `SUITE:W1,W2` asked for these workloads only, so a shared boot names them
    # (run.sh runs every workload when given none)
    subset: bool = False


def suite_dir(name: str) -> Path:
    path = GUEST_TESTS / name
    if not NAME.fullmatch(name) or not (path / "Makefile").is_file():
        known = sorted(p.name for p in GUEST_TESTS.iterdir() if (p / "Makefile").is_file())
        known += ["kunit[:GLOB]", "kselftest:DIR[/TEST]"]  # routed to brought.py, not here
        raise UserError(f"unknown guest suite '{name}' (known: {', '.join(known)})")
    return path


def known_workloads(name: str, wanted: str) -> tuple[str, ...]:
    """`wanted` (\"W1,W2\") checked against guest-tests/<name>/workloads before any build."""
    listed = suite_dir(name) / "workloads"
    lines = listed.read_text().splitlines() if listed.is_file() else []
    # the same lines run.sh and the Makefile take: '#' comments and blank lines are not names
    known = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    chosen = tuple(dict.fromkeys(w for w in wanted.split(",") if w))
    unknown = [w for w in chosen if w not in known]
    if not chosen or unknown:
        raise UserError(
            f"--suite {name}:{wanted}: no workload {', '.join(unknown) or 'named'} in {name} "
            f"(known: {', '.join(known) or 'none: it has no workloads list'})"
        )
    return chosen


def only(suite: BuiltSuite, workloads: tuple[str, ...]) -> BuiltSuite:
    """The built suite cut down to the chosen workloads; all of them when none is chosen."""
    return replace(suite, workloads=workloads, subset=True) if workloads else suite


def build_suite(
    name: str, out: Path, kbuild: Path, ksrc: Path, log: Path
) -> tuple[Case, BuiltSuite | None]:
    source = suite_dir(name)
    argv = ["make", "-C", str(source), f"OUT={out}", f"KDIR={kbuild}", f"KSRC={ksrc}"]
    # Its modules build through the tree's Kbuild: that code is the series'. All of
    # guest-tests/ is readable: a suite's Makefile includes a sibling's (bench includes
    # gmem/suite.mk), invisible in a checkout under /tmp, which the sandbox makes a tmpfs.
    box = sandbox.for_step(
        Step.SUITE_BUILD, writes={"out": (out,)}, reads=(GUEST_TESTS, kbuild, ksrc)
    )
    result = proc.run(argv, log=log, timeout=900, box=box)
    if result.denied or not result.ok:
        return Case(
            f"build {name}",
            Status.FAIL,
            sandbox.stopped(result.denied) if result.denied else "guest suite failed to build",
            details=result.output[-4000:],
            seconds=result.seconds,
        ), None
    workloads_file = out / "workloads"
    workloads = tuple(workloads_file.read_text().split()) if workloads_file.exists() else ()
    case = Case(f"build {name}", Status.PASS, f"{len(workloads)} workloads", seconds=result.seconds)
    return case, BuiltSuite(name, out, workloads)


def guest_command(runs: list[tuple[BuiltSuite, tuple[str, ...]]]) -> str:
    """One shell line for the guest: each suite between begin/end markers on stdout,
    and start/end markers in the kernel log so a splat can be tied to a suite."""
    parts = []
    for suite, workloads in runs:
        run = shlex.join(["sh", str(suite.out / "run.sh"), *workloads])
        label = suite.name
        parts.append(
            f"echo '# harness: suite {label} begin'; "
            f"echo '# harness: suite {label} begin' > /dev/kmsg; "
            f"(cd {shlex.quote(str(suite.out))} && {run}); rc=$?; "
            f"echo '# harness: suite {label} end rc='$rc > /dev/kmsg; "
            f"echo '# harness: suite {label} end rc='$rc"
        )
    return "; ".join(parts)


def split_output(text: str) -> list[tuple[str, list[str], int | None]]:
    """(suite, its lines, exit code or None when the suite never finished)."""
    segments: list[tuple[str, list[str], int | None]] = []
    current: tuple[str, list[str]] | None = None
    for line in text.splitlines():
        if m := BEGIN.match(line.strip()):
            if current:
                segments.append((current[0], current[1], None))
            current = (m[1], [])
        elif (m := END.match(line.strip())) and current and m[1] == current[0]:
            segments.append((current[0], current[1], int(m[2])))
            current = None
        elif current:
            current[1].append(line)
    if current:
        segments.append((current[0], current[1], None))
    return segments


def suite_results(guest_output: str, expected: list[str], death: str) -> list[Case]:
    """One Case per expected suite; a suite that never printed becomes an ERROR."""
    found: dict[str, Case] = {}
    for name, lines, rc in split_output(guest_output):
        documents = ktap.parse_ktap(lines)
        suite = Case(name, children=[c for doc in documents for c in _flatten_doc(doc)])
        if rc is None:
            suite.children.append(
                Case("(suite did not finish)", Status.ERROR, death, placeholder=True)
            )
        elif not suite.children:
            suite.children.append(
                Case(
                    "(no KTAP output)",
                    Status.ERROR,
                    f"run.sh exited {rc} without printing KTAP",
                    placeholder=True,
                )
            )
        attach_logs(suite, lines)
        found[name] = suite
    cases = []
    for name in expected:
        cases.append(
            found.get(name)
            or Case(
                name,
                children=[
                    Case(
                        "(not run)",
                        Status.ERROR,
                        f"suite never started: {death}",
                        placeholder=True,
                    )
                ],
            )
        )
    return cases


LOG_HEADER = re.compile(r"^#\|= (\S+): (\S+)$")  # run.sh: "#|= TARGET: PROGRAM"


def attach_logs(suite: Case, lines: list[str]) -> None:
    """A per-test log (kselftest/run.sh prints it after `#|= target: program`) becomes the
    details of that program's result, `selftests: target: program`: why it failed."""
    logs: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        if m := LOG_HEADER.match(line.strip()):
            current = logs.setdefault(f"selftests: {m[1]}: {m[2]}", [])
        elif line.startswith("#| ") and current is not None:
            current.append(line[3:])
        else:
            current = None
    for case in suite.children:
        if case.name in logs:
            case.details = "\n".join([case.details, *logs[case.name]]).strip()
            _subtests_from_log(case, logs[case.name])


def _subtests_from_log(case: Case, log: list[str]) -> None:
    """The program's own KTAP (runner.sh prefixes it with "# ") as its children, so a
    base/patched comparison sees madv_populate's 16 checks, not one exit status."""
    if case.children:
        return
    own = [line[2:] if line.startswith("# ") else line for line in log]
    children = [c for doc in ktap.parse_ktap(own) for c in _flatten_doc(doc)]
    if children:  # the program's own result stays its own: a crash after passing checks fails
        case.children = children


def _flatten_doc(doc: Case) -> list[Case]:
    """A KTAP document parses as an unnamed top-level Case: its children are the tests."""
    return doc.children if doc.children and not doc.name else [doc]


# ktest.h's progress lines in the kernel log: "# gmem: subtest W/S", "# gmem: W/S: not ok"
PROGRESS = re.compile(
    r"\] # (?P<suite>[\w-]+): "
    r"(?:subtest (?P<began>\S+)|(?P<ended>\S+): (?P<verdict>ok|not ok|skip))$"
)
FROM_CONSOLE = "from_console"  # property of a verdict read from the kernel log, not the KTAP
VERDICTS = {"ok": Status.PASS, "not ok": Status.FAIL, "skip": Status.SKIP}


def verdicts_from_console(suite: Case, workload: str, console: str) -> None:
    """A workload whose KTAP the guest took with it (run.sh prints a workload's output only
    when it ends; a wedge after its last subtest loses all of it): its subtests' verdicts
    from the progress lines it wrote to the kernel log, the one it died in as crashed."""
    case = next((c for c in suite.children if c.name == workload), None)
    if case is None or case.status is not Status.ERROR:
        return
    # only stand-ins so far: placeholders and the test-N a nested plan promised
    if any(not c.placeholder and not re.fullmatch(r"test-\d+", c.name) for c in case.children):
        return
    order: dict[str, Case] = {}
    for line in console.splitlines():
        m = PROGRESS.search(line.rstrip())
        if m is None or m["suite"] != suite.name:
            continue
        name = m["began"] or m["ended"]
        if not name.startswith(f"{workload}/"):
            continue
        sub = name.split("/", 1)[1]
        if m["began"]:
            order[sub] = Case(sub, Status.ERROR, case.message, crashed=True)
        else:
            verdict = f"{m['verdict']} (from the kernel log: the KTAP was lost with the guest)"
            order[sub] = Case(sub, VERDICTS[m["verdict"]], verdict)
        order[sub].properties[FROM_CONSOLE] = "1"
    if not order:
        return
    # it never printed its own result line: after its last subtest, that is its own error
    case.own = Status.ERROR
    case.children = list(order.values())


def name_isolated(suite: Case, workload: str, death: str) -> Case:
    """A boot that ran one workload: its result is named after the workload even when
    it crashed before printing its own `ok`/`not ok` line, and says why it died."""
    named = [c for c in suite.children if not c.placeholder]
    if not named:
        named = [Case(workload, Status.ERROR, f"no result: {death}")]
    elif len(named) == 1 and named[0].name == ktap.missing_name(1):
        named[0].name = workload
    for case in named:
        if case.crashed:
            case.message = f"{ktap.CRASHED} {death}"
    suite.children = named
    return suite
