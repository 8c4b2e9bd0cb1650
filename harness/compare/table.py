"""The terminal table of `harness compare`, in the LKP/mmtests shape.

Input: a Comparison. Output: text (also RUN/table.txt). Per metric: A's median ± CoeffVar,
the change of the medians, B's median ± CoeffVar, a marker, p, Holm p and n on every row;
then the minimum detectable effect at this n, and the slab caches that grew.
"""

from __future__ import annotations

import math

from .model import Comparison, MetricResult, SlabResult, Verdict
from .power import POWER
from .stats import advice

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


def render_table(comparison: Comparison) -> str:
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
    for ex in comparison.excluded:
        head.append(f"excluded: boot {ex.side.value}{ex.index}: {ex.reason}")
    head += _shortfall(comparison)
    rows = [HEADER, *(_row(r, comparison.threshold_pct) for r in comparison.results)]
    body = _columns(rows) if comparison.results else "(no metrics)"
    return (
        "\n".join(
            [*head, "", body, "", LEGEND, _mde_line(comparison), *_slab_lines(comparison.slabs)]
        )
        + "\n"
    )
