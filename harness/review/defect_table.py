"""The defect table: one row per defect, from a check run's and a test run's results.

Input: the Cases of a `harness check` run (static findings: uapi, api, kconfig; a failed
build) and of a `harness test` run (console incidents: KASAN, lockdep, oopses, hangs,
kmemleak, each named after its workload; failing workload subtests), plus the text of each
run's series patches to say which patch and file define a function. Output: Defect rows,
deduplicated and ordered by severity, and their text (mail) and Markdown renderings.
Where a row points: for an incident, the first function of its report that the series
defines or changes; for a subtest, the function its `# name: blame: fn` line names
(guest-tests KT_CASE_B); for a static finding, the function around its file:line.
Pure: reads nothing, writes nothing, raises nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from harness.boot.console import Incident, Kind
from harness.build.compiler_warnings import normalised
from harness.cases import Case
from harness.intake.diffparse import parse_diff

STATIC_CHECKS = ("uapi", "api", "kconfig")
# rank, label; the first rows are the ones a maintainer must not merge with
KIND_RANK = {
    "PANIC": (0, "crash"),
    "OOPS": (0, "crash"),
    "BUG": (0, "crash"),
    "KASAN": (0, "memory safety"),
    "KFENCE": (0, "memory safety"),
    "UBSAN": (1, "undefined behaviour"),
    "HUNG_TASK": (1, "hang"),
    "SOFT_LOCKUP": (1, "hang"),
    "HARD_LOCKUP": (1, "hang"),
    "RCU_STALL": (1, "hang"),
    "LOCKDEP": (2, "locking"),
    "WARNING": (2, "kernel warning"),
    "KMEMLEAK": (4, "memory leak"),
}
WRONG_RESULT, STATIC_ERROR, STATIC_WARNING = (3, "broken promise"), (5, "error"), (6, "warning")
FRAME_RE = re.compile(r"(?:RIP: \w+:|\bin |^\s*|\] )\s*([A-Za-z_]\w*)\+0x[0-9a-f]+/0x[0-9a-f]+")
# a definition starts in column 0: "static int foo(", "SYSCALL_DEFINE4(hmadvise, ..."
DEF_RE = re.compile(r"^(?:[A-Za-z_][\w\s\*]*?[\s\*])?([A-Za-z_]\w*)\s*\(([^;]*)$")
SYSCALL_DEF_RE = re.compile(r"^(?:COMPAT_)?SYSCALL_DEFINE\d$")
NOT_FUNCTIONS = {"if", "for", "while", "switch", "return", "sizeof"}
FINDING_RE = re.compile(r"^(error|warning): (?:(\S+?)(?::(\d+))?: )?(.*)$")
BLAME_RE = re.compile(r"^# \S+: blame: (\w+)")


@dataclass(frozen=True)
class SeriesText:
    """The patches of a series: (number, text), and how the runs were started."""

    patches: tuple[tuple[int, str], ...]
    total: int
    test_command: str = ""  # "harness test patches/x --kconfig debug.config"


@dataclass(frozen=True)
class Defect:
    rank: int
    severity: str
    patch: str  # "3/6", or "" when no patch of the series defines the place
    where: str  # "mm/gmem.c gm_as_destroy()"
    found_by: str  # "KASAN (as_lifecycle)", "workload mmap_retry/noreplace_refused", "check api"
    what: str
    reproducer: str


def walk(
    cases: Sequence[Case], path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Case]]:
    for case in cases:
        yield (*path, case.name), case
        yield from walk(case.children, (*path, case.name))


def locate(function: str, series: SeriesText) -> tuple[str, str]:
    """(patch "n/total", file) of the patch that defines `function` (a .c file before a
    header's inline or prototype), else of the first that changes it."""
    defined: list[tuple[str, str]] = []
    changed: list[tuple[str, str]] = []
    for number, text in series.patches:
        for f in parse_diff(text):
            for hunk in f.hunks:
                where = (f"{number}/{series.total}", f.path)
                if any(defined_name(line.text) == function for line in hunk.added):
                    defined.append(where)
                elif re.search(rf"\b{function}\(", hunk.section):
                    changed.append(where)
    in_c = [d for d in defined if d[1].endswith(".c")]
    return (in_c or defined or changed or [("", "")])[0]


def defined_name(line: str) -> str:
    """The function a column-0 definition line starts ("sys_x" for SYSCALL_DEFINEn(x, ...))."""
    match = DEF_RE.match(line)
    if match is None or match[1] in NOT_FUNCTIONS:
        return ""
    if SYSCALL_DEF_RE.match(match[1]):
        inner = re.match(r"\s*(\w+)", match[2])
        prefix = "compat_sys_" if match[1].startswith("COMPAT") else "sys_"
        return prefix + inner[1] if inner else ""
    return match[1]


def function_at(text: str, path: str, line: int) -> str:
    """The function around new-file `line` of `path` in one patch: the last definition
    above it in the hunk, else the hunk header's."""
    for f in parse_diff(text):
        if f.path != path:
            continue
        for hunk in f.hunks:
            rows = sorted([*hunk.added, *hunk.context], key=lambda r: r.number)
            if not rows or not rows[0].number <= line <= rows[-1].number:
                continue
            above = [n for r in rows if r.number <= line and (n := defined_name(r.text))]
            named = re.search(r"(\w+)\(", hunk.section)
            return above[-1] if above else named[1] if named else ""
    return ""


def incident_defects(cases: Sequence[Case], series: SeriesText) -> list[Defect]:
    out = []
    for _, case in walk(cases):
        kind = case.properties.get("kind")
        if not kind or kind not in KIND_RANK:
            continue
        rank, label = KIND_RANK[kind]
        frames = FRAME_RE.findall(f"{case.message}\n{case.details}")
        placed = next(((fn, *locate(fn, series)) for fn in frames if locate(fn, series)[0]), None)
        fn, patch, file = placed or (frames[0] if frames else "", "", "")
        where = case.properties.get("workload", "")  # "gmem/thp_race"
        workload = where.rsplit("/", 1)[-1]
        out.append(
            Defect(
                rank,
                label,
                patch,
                _where(file, fn),
                f"{kind.replace('_', ' ').lower()} report ({workload})",
                _short(case.message),
                _workload_reproducer(series.test_command, where),
            )
        )
    return out


def _workload_reproducer(command: str, where: str) -> str:
    """`--suite gmem:thp_race` boots that workload only; a console that never named its
    suite (a direct boot) gives only the guest command."""
    if "/" not in where:
        return f"{command}  # guest: sh run.sh {where}"
    return f"{command} --suite {where.replace('/', ':')}"


def subtest_defects(cases: Sequence[Case], series: SeriesText) -> list[Defect]:
    out = []
    for path, case in walk(cases):
        if case.children or not case.status.is_bad or "kind" in case.properties:
            continue
        if case.placeholder or re.fullmatch(r"test-\d+", case.name):
            continue  # "not run"/"no result" stand-ins for a workload that died: its boot's
            # console incidents are the rows
        if case.message.startswith("no result:"):
            continue  # the same stand-in once named after its isolated workload
        if case.properties.get("from_console"):
            continue  # a bare verdict from the kernel log: no reason, no blame to place it
        if path[0].startswith(("console", "boot", "build", "apply", "kconfig")) or len(path) < 2:
            continue
        diag = case.details.splitlines()
        blame = next((m[1] for line in diag if (m := BLAME_RE.match(line))), "")
        patch, file = locate(blame, series) if blame else ("", "")
        workload, subtest = path[-2], path[-1]
        out.append(
            Defect(
                *WRONG_RESULT,
                patch,
                _where(file, blame),
                f"workload {workload}/{subtest}",
                _short(_first_reason(diag) or case.message),
                f"{series.test_command} --suite {path[0]}:{workload}"
                f"  # one subtest, by hand: GMEM_ONLY={subtest} sh run.sh {workload}",
            )
        )
    return out


def _first_reason(diag: list[str]) -> str:
    """The sentence after a `file:line: expected ...` line: what the test says went wrong."""
    text = [re.sub(r"^# \S+: ", "", line) for line in diag]
    for index, line in enumerate(text):
        if re.match(r"\S+:\d+: expected ", line) and index + 1 < len(text):
            return text[index + 1]
    return next((line for line in text if not line.startswith("blame:")), "")


def patch_suites(cases: Sequence[Case]) -> Iterator[tuple[int, Case]]:
    """A check run's per-patch suites ("0003 subject") with their patch numbers."""
    for suite in cases:
        if suite.name[:4].isdigit():
            yield int(suite.name[:4]), suite


def static_defects(cases: Sequence[Case], series: SeriesText, command: str) -> list[Defect]:
    out = []
    texts = dict(series.patches)
    for number, suite in patch_suites(cases):
        for case in suite.children:
            if case.name not in STATIC_CHECKS:
                continue
            for line in case.details.splitlines():
                match = FINDING_RE.match(line)
                if match is None:
                    continue
                sev, file, at, what = match.groups()
                fn = function_at(texts.get(number, ""), file or "", int(at)) if at else ""
                out.append(
                    Defect(
                        *(STATIC_ERROR if sev == "error" else STATIC_WARNING),
                        f"{number}/{series.total}",
                        _where(f"{file}:{at}" if at else file or "", fn),
                        f"check {case.name}",
                        _short(what),
                        command,
                    )
                )
    return out


MARKED_RE = re.compile(r"^>> (?:(\S+?):(\d+):(?:\d+:)? )?(fatal error|error|warning|ERROR): (.*)$")


def matrix_defects(cases: Sequence[Case], series: SeriesText) -> list[Defect]:
    """The build matrix's new errors and warnings (build/matrix.py): a row per message and
    file in a patch (one undeclared member used in 70 places is one row, saying so), found
    by the cells that printed it, reproduced by the first one's make command."""
    found: dict[tuple[int, str, str, str], list[tuple[str, str, Case]]] = {}
    for number, suite in patch_suites(cases):
        for matrix in (c for c in suite.children if c.name == "matrix"):
            for cell in (c for c in matrix.children if c.status.is_bad):
                for line in cell.details.splitlines():
                    match = MARKED_RE.match(line)
                    if match is None:
                        continue
                    file, at, kind, what = match.groups()
                    key = (number, file or "", kind, normalised(what))
                    found.setdefault(key, []).append((at or "", what, cell))
    out = []
    texts = dict(series.patches)
    for (number, file, kind, _), places in found.items():
        at, what, first = places[0]
        fn = function_at(texts.get(number, ""), file, int(at)) if file and at else ""
        module = re.search(r"\[(\S+\.ko)\]", what) if not file else None
        where = _where(f"{file}:{at}" if file else module[1] if module else "", fn)
        lines = len({place[0] for place in places})
        cells = ", ".join(dict.fromkeys(cell.name for _, _, cell in places))
        out.append(
            Defect(
                *(STATIC_WARNING if kind == "warning" else STATIC_ERROR),
                f"{number}/{series.total}",
                where,
                f"check matrix {cells}",
                _short(what + (f" ({lines} places)" if lines > 1 else "")),
                first.properties.get("reproduce", ""),
            )
        )
    return out


def defects(
    check: Sequence[Case],
    check_series: SeriesText,
    tests: Sequence[Case],
    test_series: SeriesText,
    more: Sequence[Defect] = (),
) -> list[Defect]:
    """Every row (and `more`, rows of other runs), the same defect once (first finder kept,
    the others named), worst first."""
    rows = [*more, *incident_defects(tests, test_series), *subtest_defects(tests, test_series)]
    rows += static_defects(check, check_series, check_series.test_command)
    rows += matrix_defects(check, check_series)
    merged: dict[tuple[str, str, str], Defect] = {}
    for row in sorted(rows, key=lambda d: d.rank):
        key = (row.severity, row.where, signature(row.what))
        if key in merged:
            first = merged[key]
            merged[key] = _with_finder(first, row.found_by)
            continue
        merged[key] = row
    return sorted(merged.values(), key=lambda d: (d.rank, d.patch or "9", d.where, d.what))


def _with_finder(row: Defect, finder: str) -> Defect:
    """`finder` (itself "a; b" when `row` comes from an earlier merge) named once each."""
    names = list(dict.fromkeys([*row.found_by.split("; "), *finder.split("; ")]))
    return Defect(row.rank, row.severity, row.patch, row.where, "; ".join(names),
                  row.what, row.reproducer)  # fmt: skip


def signature(what: str) -> str:
    """The same report across boots and pages: no offsets, addresses, PIDs or pfns."""
    text = Incident(Kind.BUG, what, "", 0).signature
    return re.sub(r"\b(pfn|address|addr):\s*\S+", r"\1:N", text)


def _where(file: str, fn: str) -> str:
    return " ".join(part for part in (file, f"{fn}()" if fn else "") if part) or "-"


def _short(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def markdown(rows: Sequence[Defect]) -> str:
    lines = [
        "| # | severity | patch | file and function | found by | what | reproducer |",
        "|---|---|---|---|---|---|---|",
    ]
    for n, d in enumerate(rows, 1):
        cells = [str(n), d.severity, d.patch or "-", f"`{d.where}`", d.found_by, d.what]
        cells.append(f"`{d.reproducer}`")
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def text(rows: Sequence[Defect]) -> list[str]:
    """The mail's section: one block per defect, as a reviewer would list them."""
    out = [f"Defects found ({len(rows)}, most severe first):", ""]
    for n, d in enumerate(rows, 1):
        patch = f"patch {d.patch}" if d.patch else "not in a patch's code"
        out.append(f"  {n:2}. [{d.severity}] {patch}, {d.where}: {d.what}")
        out.append(f"      found by {d.found_by}; reproduce: {d.reproducer}")
    return [*out, ""]
