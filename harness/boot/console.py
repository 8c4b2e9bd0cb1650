"""Scan a kernel console log for trouble: panics, oopses, BUG/WARNING splats, sanitizer reports.

Input: console text (timestamps and interleaved output are fine). Output: `scan_console` gives
one Incident per report, in log order: its kind, its headline, the report block (headline
through its end marker, at most EXCERPT_LINES lines) and the headline's 1-based line number.
`workload_at` says which guest workload was running at a line, from the markers the guest
writes to /dev/kmsg (`# harness: start W` / `# harness: end W`, inside
`# harness: suite S begin` / `# harness: suite S end rc=N`).
Errors: none raised; text with no reports gives [].
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

EXCERPT_LINES = 80


class Kind(enum.Enum):
    PANIC = "panic"
    OOPS = "oops"
    BUG = "bug"
    WARNING = "warning"
    KASAN = "kasan"
    KFENCE = "kfence"
    UBSAN = "ubsan"
    LOCKDEP = "lockdep"
    SOFT_LOCKUP = "soft lockup"
    HARD_LOCKUP = "hard lockup"
    HUNG_TASK = "hung task"
    RCU_STALL = "rcu stall"
    KMEMLEAK = "kmemleak"
    OOM = "out of memory"  # the OOM killer killed a task: the test it ran did not finish


@dataclass(frozen=True)
class Incident:
    kind: Kind
    title: str  # "BUG: KASAN: slab-use-after-free in vm_object_erase+0x3c/0x90"
    excerpt: str  # the report, as printed (timestamps kept for decode_stacktrace.sh)
    line: int  # 1-based line of the headline in the console text

    @property
    def signature(self) -> str:
        """The title without offsets, addresses, PIDs and CPUs: the same bug across runs."""
        text = re.sub(r"\+0x[0-9a-f]+/0x[0-9a-f]+", "", self.title)
        text = re.sub(r"\b(?:0x)?[0-9a-f]{8,}\b", "ADDR", text)
        text = re.sub(r"(CPU#|CPU: |PID: |cpu |for more than |stuck for )\d+", r"\1N", text)
        return re.sub(r"(\S):\d+(\]| blocked)", r"\1:N\2", text)  # comm:pid


_TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\](?:\[\s*[CT]\d+\])? ?")

# From kernel/panic.c, lib/bug.c, arch/x86/mm/fault.c, arch/x86/kernel/dumpstack.c,
# mm/kasan/report.c, mm/kfence/report.c, lib/ubsan.c, kernel/locking/lockdep.c,
# kernel/watchdog.c, kernel/hung_task.c, kernel/rcu/tree_stall.h, mm/kmemleak.c, mm/slub.c,
# mm/oom_kill.c.
# Order matters: the first match wins.
_LOCKDEP = (
    r"possible circular locking dependency|possible recursive locking|inconsistent lock state"
    r"|possible irq lock inversion|bad unlock balance|held lock freed|suspicious RCU usage"
    r"|lock held when returning to user space|\S+-safe -> \S+-unsafe lock order"
    r"|Nested lock was not taken|\S+/\d+ still has locks held|chain_key collision"
)
_HEADLINES = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        (Kind.PANIC, r"Kernel panic - not syncing: "),
        (Kind.KASAN, r"BUG: KASAN: "),
        (Kind.KFENCE, r"BUG: KFENCE: "),
        (Kind.UBSAN, r"UBSAN: .+ in \S+:\d+"),
        (Kind.SOFT_LOCKUP, r"(?:watchdog: )?BUG: soft lockup - CPU#\d+ stuck"),
        (Kind.HARD_LOCKUP, r"(?:watchdog: )?Watchdog detected hard LOCKUP on cpu"),
        (Kind.HUNG_TASK, r"INFO: task \S+ blocked for more than \d+ seconds"),
        (Kind.RCU_STALL, r"(?:rcu: )?INFO: \S+ (?:self-)?detected (?:expedited )?stalls?"),
        (Kind.LOCKDEP, rf"WARNING: (?:{_LOCKDEP})"),
        (Kind.OOPS, r"BUG: (?:kernel NULL pointer dereference|unable to handle )"),
        (Kind.OOPS, r"Oops: |Internal error: |Unable to handle kernel "),
        (Kind.BUG, r"kernel BUG at \S+:\d+!"),
        (Kind.BUG, r"BUG: |BUG \S+ \((?:Not tainted|Tainted: [^)]*)\): "),
        (Kind.WARNING, r"WARNING: CPU: \d+ PID: \d+ at "),
        (Kind.KMEMLEAK, r"kmemleak: \d+ new suspected memory leaks"),
        (Kind.OOM, r"(?:Out|Memory cgroup out) of memory(?: \(\w+\))?: Killed process"),
    )
)
_END_TRACE = re.compile(r"---\[ end trace[^\]]*\]---")
_END = {
    Kind.PANIC: re.compile(r"---\[ end Kernel panic - not syncing"),
    Kind.KASAN: re.compile(r"^={20,}$"),
    Kind.KFENCE: re.compile(r"^={20,}$"),
    Kind.UBSAN: _END_TRACE,
    Kind.WARNING: _END_TRACE,
    Kind.OOPS: _END_TRACE,
}
_TRACE_START = re.compile(r"^Call [Tt]race:")
_ONE_LINE = {Kind.KMEMLEAK, Kind.OOM}

_MARKER = re.compile(
    r"# harness: (?:(?P<event>start|end) (?P<workload>\S+)"
    r"|suite (?P<suite>\S+) (?P<edge>begin|end)\b)"
)


def scan_console(text: str) -> list[Incident]:
    """Every kernel report in `text`, in order; lines inside one report are not re-reported."""
    raw = text.splitlines()
    lines = [_TIMESTAMP.sub("", line, count=1) for line in raw]
    incidents = []
    index = 0
    while index < len(lines):
        kind = classify(lines[index])
        if kind is None:
            index += 1
            continue
        last = _report_end(lines, index, kind)
        excerpt = "\n".join(raw[index : last + 1])
        incidents.append(Incident(kind, lines[index].strip(), excerpt, index + 1))
        index = last + 1
    return incidents


def classify(line: str) -> Kind | None:
    """The kind of report `line` (timestamp already stripped) starts, or None."""
    for kind, pattern in _HEADLINES:
        if pattern.match(line):
            return kind
    return None


def _report_end(lines: list[str], start: int, kind: Kind) -> int:
    """Index of the last line of the report starting at `start`."""
    if kind in _ONE_LINE:
        return start
    end_marker = _END.get(kind)
    if kind is Kind.BUG and lines[start].startswith("kernel BUG at"):
        end_marker = _END_TRACE  # BUG() dies like an oops; other `BUG:` lines just dump a stack
    in_trace = False
    limit = min(len(lines), start + EXCERPT_LINES)
    for index in range(start + 1, limit):
        line = lines[index]
        if end_marker and end_marker.search(line):
            return index
        next_kind = classify(line)
        if next_kind is not None and not _continues(kind, next_kind, line):
            return index - 1
        if line.strip() == "</TASK>" and end_marker is None:
            return index
        if in_trace and line and not line[0].isspace() and end_marker is None:
            return index - 1
        in_trace = in_trace or bool(_TRACE_START.match(line))
    return limit - 1


def _continues(kind: Kind, next_kind: Kind, line: str) -> bool:
    """`kernel BUG at` and `BUG: unable to handle ...` go on with an `Oops:` line."""
    return kind in (Kind.BUG, Kind.OOPS) and next_kind is Kind.OOPS and line.startswith("Oops: ")


def workload_at(text: str, line: int) -> str | None:
    """The workload running at 1-based `line`: "suite/workload", "suite", "workload" or None.

    A workload runs from its start marker to its end marker; one that never printed its end
    (it crashed or hung) runs until the next start or the end of its suite.
    """
    suite: str | None = None
    workload: str | None = None
    for raw in text.splitlines()[: max(line - 1, 0)]:
        marker = _MARKER.search(raw)
        if marker is None:
            continue
        if marker["suite"]:
            suite = marker["suite"] if marker["edge"] == "begin" else None
            workload = None
        elif marker["event"] == "start":
            workload = marker["workload"]
        elif marker["workload"] == workload:
            workload = None
    return "/".join(name for name in (suite, workload) if name) or None
