"""The terminal table of `harness compare`, in the LKP/mmtests shape, in three blocks:
slower · more serialized · more metadata, each with its noise floor.

Input: a Comparison (and the serialization pass's, when it ran). Output: text (also
RUN/table.txt). Per metric: A's median ± CoeffVar, the change of the medians, B's median
± CoeffVar, a marker, p, Holm p and n on every row; the minimum detectable effect at this
n; per serialization scenario the serial fraction on each side, the Amdahl bound it sets
and the lock class behind it; the slab caches that grew.
"""

from __future__ import annotations

import math
import statistics

from .model import Comparison, MetricResult, Side, SlabResult, Verdict
from .power import POWER
from .serial import AMDAHL_TASKS, SerialComparison, amdahl, corroboration, spans
from .stats import advice

# Units of the metadata metrics ("more metadata"); every other metric is "slower".
METADATA_UNITS = ("bytes/page", "bytes", "kB")

MARKER = {
    Verdict.WORSE: "-",
    Verdict.BETTER: "+",
    Verdict.SAME: "=",
    Verdict.INCONCLUSIVE: "?",
    Verdict.MISSING: " ",
    Verdict.UNMEASURABLE: "~",
}
LEGEND = (
    "- worse / + better: beyond ±threshold (p_holm < alpha)  = same: within it (p_same < alpha)"
    "  ? inconclusive  ~ unmeasurable (too noisy, not in the Holm family)  (blank) one side only"
)


def format_number(x: float) -> str:
    """A median for people: no exponent below 1e15, six significant digits, "-" if undefined."""
    if not math.isfinite(x):
        return "-"
    if abs(x) >= 1e4:
        return f"{x:.0f}"
    return f"{x:.6g}" if abs(x) >= 1 or x == 0 else f"{x:.3g}"


def _side(median: float, cv: float, n: int) -> str:
    if not n:
        return "—"
    return f"{format_number(median)} ±{cv:.2f}%" if math.isfinite(cv) else format_number(median)


def _p(x: float) -> str:
    return f"{x:.2g}" if math.isfinite(x) else ""


def _row(r: MetricResult, threshold_pct: float) -> list[str]:
    change = f"{r.change_pct:+.2f}%" if math.isfinite(r.change_pct) else ""
    note = advice(r, threshold_pct)
    if r.verdict is Verdict.MISSING:
        note = "only on " + ("A" if r.n_a else "B")
    return [
        r.name,
        r.unit,
        _side(r.median_a, r.cv_a, r.n_a),
        change,
        _side(r.median_b, r.cv_b, r.n_b),
        MARKER[r.verdict],
        _p(r.p),
        _p(r.p_holm),
        _p(r.p_same),
        f"{r.n_a}/{r.n_b}",
        note,
    ]


HEADER = [
    "metric",
    "unit",
    "A (median ±CoeffVar)",
    "%change",
    "B (median ±CoeffVar)",
    "",
    "p",
    "p_holm",
    "p_same",
    "n",
    "",
]


def _columns(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {2, 3, 4, 6, 7, 8, 9}
    lines = []
    for row in rows:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _mde_line(comparison: Comparison) -> str:
    compared = [r for r in comparison.results if r.verdict is not Verdict.MISSING]
    measured = [r for r in compared if r.verdict is not Verdict.UNMEASURABLE]
    mdes = sorted(r.mde_pct for r in measured if math.isfinite(r.mde_pct))
    if not compared:
        return "minimum detectable effect: no metric measured on both sides"
    if not measured:
        return "minimum detectable effect: none: every metric is too noisy to measure"
    if not mdes:
        return (
            f"minimum detectable effect: none at n={comparison.n_a}/{comparison.n_b}: Holm over "
            f"{comparison.family_size} metrics cannot reach p<{comparison.alpha:g}"
        )
    median = mdes[len(mdes) // 2]
    return (
        f"minimum detectable effect (the true change called worse with {POWER:.0%} power) at "
        f"n={comparison.n_a}/{comparison.n_b} boots, Holm over {comparison.family_size} "
        f"metrics: median {median:.3g}%, worst {mdes[-1]:.3g}% "
        f"(threshold ±{comparison.threshold_pct:g}%)"
    )


def _slab_lines(slabs: tuple[SlabResult, ...]) -> list[str]:
    grown = [s for s in slabs if math.isfinite(s.delta_bytes) and abs(s.delta_bytes) >= 4096]
    grown += [s for s in slabs if not math.isfinite(s.median_bytes_a) and s.median_bytes_b > 0]
    if not grown:
        return []
    lines = ["", "slab caches (median growth per boot; B − A; per 4 KiB page of the scenario):"]
    for s in sorted(grown, key=lambda s: (s.scenario, -abs(_delta(s)))):
        per_page = _delta(s) / s.pages if s.pages else math.nan
        page = f"  {per_page:+.2f} B/page" if math.isfinite(per_page) else ""
        a = format_number(s.median_bytes_a) if math.isfinite(s.median_bytes_a) else "absent"
        lines.append(
            f"  {s.scenario:24} {s.cache:24} A {a:>10}  B {format_number(s.median_bytes_b):>10}  "
            f"Δ {_delta(s):+.0f} B{page}"
        )
    return lines


def _delta(s: SlabResult) -> float:
    a = s.median_bytes_a if math.isfinite(s.median_bytes_a) else 0.0
    b = s.median_bytes_b if math.isfinite(s.median_bytes_b) else 0.0
    return b - a


def _side_by_side(meta: dict[str, str]) -> str:
    at_once = meta.get("boots_at_once", "1")
    return f", {at_once} at a time" if at_once not in ("", "1") else ""


def _shortfall(comparison: Comparison) -> list[str]:
    """Fewer boots than planned (a boot failed, and again when retried): say what is left."""
    planned = comparison.meta.get("boots_per_side", "")
    if not planned.isdigit() or min(comparison.n_a, comparison.n_b) >= int(planned):
        return []
    return [
        f"only {comparison.n_a}/{comparison.n_b} of the {planned} planned boots per side ran "
        f"(each failed boot was retried once): the verdicts and the minimum detectable effect "
        f"below are those of the boots that ran"
    ]


def _metric_block(results: list[MetricResult], threshold_pct: float) -> str:
    if not results:
        return "(no metrics)"
    return _columns([HEADER, *(_row(r, threshold_pct) for r in results)])


def _pp(x: float) -> str:
    return f"{x:.2f}%" if math.isfinite(x) else "—"


def _speedups(serial_pct: float) -> str:
    if not math.isfinite(serial_pct):
        return ""
    return " ".join(f"{amdahl(serial_pct, n):.3g}" for n in AMDAHL_TASKS)


def _culprit(serial: SerialComparison, scenario: str) -> str:
    found = serial.culprit(scenario, Side.B) or serial.culprit(scenario, Side.A)
    if found is None:
        return "no shared lock"
    return (
        f"{found.side.value}: {found.name} {found.serial_pct:.2f} pp "
        f"({found.acq_per_op:.3g} acq/op, {found.shared_pct:.0f}% shared)"
    )


SERIAL_HEADER = [
    "scenario",
    "A s",
    "Δ pp",
    "B s",
    "",
    "p_holm",
    "n",
    f"speedup ≤ at {'/'.join(str(n) for n in AMDAHL_TASKS)} tasks (A → B)",
    "shared acq/op (A → B)",
    "culprit (the class holding most of s)",
]


def _serial_row(serial: SerialComparison, scenario: str) -> list[str]:
    r = serial.result(scenario)
    acq = next(
        (x for x in serial.comparison.results if x.name == f"lock.{scenario}.shared_acq_per_op"),
        None,
    )
    if r is None:
        return [scenario, *[""] * (len(SERIAL_HEADER) - 1)]
    delta = r.median_b - r.median_a
    speed = f"{_speedups(r.median_a) or '—'} → {_speedups(r.median_b) or '—'}"
    acqs = (
        f"{format_number(acq.median_a)} → {format_number(acq.median_b)} {MARKER[acq.verdict]}"
        if acq
        else ""
    )
    return [
        scenario,
        _pp(r.median_a),
        f"{delta:+.2f}" if math.isfinite(delta) else "",
        _pp(r.median_b),
        MARKER[r.verdict],
        _p(r.p_holm),
        f"{r.n_a}/{r.n_b}",
        speed,
        acqs,
        _culprit(serial, scenario),
    ]


def serial_block(serial: SerialComparison | None, timing: Comparison | None = None) -> list[str]:
    """ "More serialized": the serial fraction s per scenario, judged in percentage points."""
    head = "more serialized (serial fraction s: the share of one operation spent holding a"
    head += " lock a second task on disjoint memory also takes; lock-statistics kernels)"
    if serial is None:
        return [head, "  not measured: add --serialization"]
    c = serial.comparison
    if not c.n_a and not c.n_b:
        return [head, *(f"  not measured: {why}" for why in serial.invalid or ["no boot ran"])]
    lines = [
        head,
        f"boots per side: {c.n_a}/{c.n_b} (a boot's s: its cleanest window); "
        f"Holm over {c.family_size} lock metrics; "
        f"threshold ±{serial.threshold_pp:g} pp of s (shared acquisitions: "
        f"±{c.threshold_pct:g}%)",
    ]
    lines += [kept for kept in [c.meta.get("serial_a_kept", "")] if kept]
    lines += [f"not measured: {why}" for why in serial.invalid]
    lines += [f"excluded: boot {ex.side.value}{ex.index}: {ex.reason}" for ex in c.excluded]
    scenarios = serial.scenarios
    if scenarios:
        lines += ["", _columns([SERIAL_HEADER, *(_serial_row(serial, s) for s in scenarios)])]
    else:
        lines.append("(no scenario measured on either side)")
    lines += ["", _noise_floor_line(serial)]
    if timing is not None:
        lines.append(_corroboration_line(timing))
    return lines


def _corroboration_line(timing: Comparison) -> str:
    """s measured from parallel tasks, beside the modelled s and never in its place."""
    found, why = corroboration(timing)
    if not found:
        return f"measured s (corroboration): {why}"

    def pct(a: float, b: float) -> str:
        return f"A {a:.2f}% → B {b:.2f}%" if math.isfinite(a) else "—"

    parts = [
        f"{m.kind} at 1..{m.tasks} tasks: {pct(*m.sigma_pct)}"
        + (f" (coherence κ {pct(*m.kappa_pct)})" if math.isfinite(m.kappa_pct[0]) else "")
        for m in found
    ]
    return (
        "measured s (corroboration, USL fit of scale_threads/scale_procs under a wall clock; "
        f"beside the model, never in its place): {'; '.join(parts)}"
    )


def _noise_floor_line(serial: SerialComparison) -> str:
    """The widest boot-to-boot range of s, where it is, and the typical scenario's."""
    ranges = spans(serial)
    text = "noise floor: the widest boot-to-boot range of s on one side: "
    if ranges:
        widest = ranges[0]
        typical = statistics.median(s.points for s in ranges)
        text += (
            f"{widest.points:.2f} pp ({widest.scenario} {widest.side.value}; "
            f"the median scenario and side: {typical:.2f} pp) "
        )
    else:
        text += "— "
    return text + (
        f"(threshold ±{serial.threshold_pp:g} pp). Measured on one vCPU at a time: "
        "cache-line bouncing and lock hand-off make the real cost at least this large."
    )


NOT_TIMED = "  not measured: --serialization-only ran no timing pass"


def render_table(
    comparison: Comparison, serial: SerialComparison | None = None, timed: bool = True
) -> str:
    """The three blocks; `timed` False: only the serialization pass ran."""
    if not timed and serial is not None:
        return _serial_only(comparison, serial)
    meta = comparison.meta
    head = [
        f"harness compare: A = {meta.get('side_a', 'A')}, B = {meta.get('side_b', 'B')}; "
        f"timing: {meta.get('timing_label', meta.get('timing', '?'))}",
        f"boots per side: {comparison.n_a}/{comparison.n_b} "
        f"(interleaved ABAB{_side_by_side(meta)}; "
        f"the boot is the unit, its value the median of its inner repetitions); "
        f"alpha {comparison.alpha:g}, "
        f"threshold ±{comparison.threshold_pct:g}%",
    ]
    head += [kept for kept in [meta.get("a_kept", "")] if kept]
    for ex in comparison.excluded:
        head.append(f"excluded: boot {ex.side.value}{ex.index}: {ex.reason}")
    head += _shortfall(comparison)
    slower = [r for r in comparison.results if r.unit not in METADATA_UNITS]
    metadata = [r for r in comparison.results if r.unit in METADATA_UNITS]
    t = comparison.threshold_pct
    return (
        "\n".join(
            [
                *head,
                "",
                "slower (time and throughput)",
                _metric_block(slower, t),
                _mde_line(comparison),
                "",
                *serial_block(serial, comparison),
                "",
                "more metadata (kernel memory held)",
                _metric_block(metadata, t),
                *_slab_lines(comparison.slabs),
                "",
                LEGEND,
            ]
        )
        + "\n"
    )


def _serial_only(comparison: Comparison, serial: SerialComparison) -> str:
    meta = comparison.meta
    head = f"harness compare: A = {meta.get('side_a', 'A')}, B = {meta.get('side_b', 'B')}"
    blocks = [head, "", "slower (time and throughput)", NOT_TIMED, ""]
    blocks += [*serial_block(serial, comparison), ""]
    blocks += ["more metadata (kernel memory held)", NOT_TIMED, "", LEGEND]
    return "\n".join(blocks) + "\n"
