"""report.html of `harness compare`: one self-contained page (no network), for a browser.

Input: a Comparison and the boots. Output: HTML text with inline CSS and matplotlib
figures embedded as base64 PNG: per metric the per-boot values of A and B and the 95 % CI
of the change against the ±threshold band; the metadata per slab cache as bars; the scaling
curves. matplotlib is imported here only (Agg), so other commands never pay for it.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from collections.abc import Sequence
from typing import Any

from .model import BootSample, Comparison, MetricResult, SlabResult, Verdict
from .serial import SerialComparison
from .stats import advice
from .table import MARKER, format_number, render_table, serial_block

COLOURS = {"A": "#4c72b0", "B": "#dd8452"}
VERDICT_COLOUR = {
    Verdict.WORSE: "#c0392b",
    Verdict.BETTER: "#27ae60",
    Verdict.SAME: "#7f8c8d",
    Verdict.INCONCLUSIVE: "#d4ac0d",
    Verdict.MISSING: "#bdc3c7",
    Verdict.UNMEASURABLE: "#bdc3c7",
}
# scale_BENCH.tN.WHAT: WHAT measured with N tasks; per-task unless WHAT says it already is.
SCALING = re.compile(r"^(scale_[^.]+)\.t(\d+)\.(.+)$")
CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #ddd}
td{white-space:nowrap}td:last-child{white-space:normal}td.num{text-align:right;font-variant-numeric:tabular-nums}th{text-align:left;background:#f4f4f4}
.worse{color:#c0392b;font-weight:bold}.better{color:#27ae60;font-weight:bold}
.metric{display:inline-block;margin:6px;border:1px solid #eee;padding:4px;vertical-align:top}
pre{background:#f8f8f8;padding:1em;overflow-x:auto;font-size:12px}
"""


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    _pyplot().close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return f'<img alt="" src="data:image/png;base64,{data}">'


def metric_figure(r: MetricResult, threshold: float) -> str:
    """Left: each boot's value per side. Right: the change's 95 % CI against ±threshold."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(5.2, 2.0), width_ratios=[2, 1])
    for x, (side, values) in enumerate((("A", r.a_values), ("B", r.b_values))):
        # Spread the boots sideways in boot order so equal values stay countable.
        xs = [
            x + 0.25 * (i - (len(values) - 1) / 2) / max(len(values), 1) for i in range(len(values))
        ]
        left.scatter(xs, values, color=COLOURS[side], s=18, alpha=0.8)
    left.set_xticks([0, 1], ["A", "B"])
    left.set_xlim(-0.6, 1.6)
    left.set_title(r.name, fontsize=8)
    left.set_ylabel(r.unit, fontsize=7)
    left.tick_params(labelsize=7)
    right.axhspan(-threshold, threshold, color="#eeeeee")
    right.axhline(0, color="#999999", linewidth=0.8)
    lo, hi = r.ci95_pct
    if math.isfinite(lo) and math.isfinite(hi) and math.isfinite(r.change_pct):
        colour = VERDICT_COLOUR[r.verdict]
        right.errorbar(
            [0],
            [r.change_pct],
            yerr=[[r.change_pct - lo], [hi - r.change_pct]],
            fmt="o",
            color=colour,
            capsize=4,
        )
        span = max(abs(lo), abs(hi), threshold) * 1.3
        right.set_ylim(-span, span)
    right.set_xticks([])
    right.set_title(f"change % ({r.verdict.value})", fontsize=8)
    right.tick_params(labelsize=7)
    return _png(fig)


def slab_figure(slabs: Sequence[SlabResult]) -> str:
    """Per scenario, the caches that grew most: bytes per 4 KiB page, A against B."""
    scenarios = sorted({s.scenario for s in slabs if s.pages})
    if not scenarios:
        return ""
    plt = _pyplot()
    fig, axes = plt.subplots(len(scenarios), 1, figsize=(8, 2.2 * len(scenarios)), squeeze=False)
    for ax, scenario in zip(axes[:, 0], scenarios, strict=True):
        rows = [s for s in slabs if s.scenario == scenario and s.pages]
        rows.sort(key=lambda s: -max(_zero(s.median_bytes_a), _zero(s.median_bytes_b)))
        rows = rows[:8]
        pages = rows[0].pages or 1
        ys = range(len(rows))
        ax.barh(
            [y - 0.2 for y in ys],
            [_zero(s.median_bytes_a) / pages for s in rows],
            height=0.4,
            color=COLOURS["A"],
            label="A",
        )
        ax.barh(
            [y + 0.2 for y in ys],
            [_zero(s.median_bytes_b) / pages for s in rows],
            height=0.4,
            color=COLOURS["B"],
            label="B",
        )
        ax.set_yticks(list(ys), [s.cache for s in rows], fontsize=7)
        ax.invert_yaxis()
        ax.set_title(f"{scenario}: bytes per 4 KiB page, per slab cache", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def per_task(what: str, tasks: int, value: float) -> float:
    """Throughput per task: totals are divided by the task count, per-task values kept."""
    return value if "per_task" in what else value / tasks


def scaling_curves(results: Sequence[MetricResult]) -> dict[str, list[tuple[int, float, float]]]:
    """`scale_BENCH.tN.WHAT` metrics as curves: per BENCH.WHAT, (N, A per task, B per task)."""
    curves: dict[str, list[tuple[int, float, float]]] = {}
    for r in results:
        if (m := SCALING.match(r.name)) and r.verdict is not Verdict.MISSING:
            tasks = int(m[2])
            point = (tasks, per_task(m[3], tasks, r.median_a), per_task(m[3], tasks, r.median_b))
            curves.setdefault(f"{m[1]}.{m[3]}", []).append(point)
    return {name: sorted(points) for name, points in curves.items() if len(points) > 1}


def scaling_figure(results: Sequence[MetricResult]) -> str:
    """Per-task throughput against the number of tasks, per benchmark, A and B."""
    curves = scaling_curves(results)
    if not curves:
        return ""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(curves), figsize=(4 * len(curves), 2.6), squeeze=False)
    for ax, (name, points) in zip(axes[0], sorted(curves.items()), strict=True):
        tasks = [t for t, _, _ in points]
        ax.plot(tasks, [a for _, a, _ in points], "o-", color=COLOURS["A"], label="A")
        ax.plot(tasks, [b for _, _, b in points], "o-", color=COLOURS["B"], label="B")
        ax.set_title(f"{name}, per task", fontsize=8)
        ax.set_xlabel("tasks", fontsize=7)
        ax.set_xticks(tasks)
        ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def _zero(x: float) -> float:
    return x if math.isfinite(x) else 0.0


def _cell(x: float, fmt: str) -> str:
    return format(x, fmt) if math.isfinite(x) else ""


def results_table(comparison: Comparison) -> str:
    head = (
        "metric",
        "unit",
        "A median",
        "A CoeffVar",
        "%change",
        "95% CI",
        "B median",
        "B CoeffVar",
        "",
        "p",
        "p_holm",
        "n",
        "verdict",
    )
    rows = ["<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for r in comparison.results:
        ci = f"[{_cell(r.ci95_pct[0], '+.1f')}, {_cell(r.ci95_pct[1], '+.1f')}]"
        cells = [
            html.escape(r.name),
            html.escape(r.unit),
            format_number(r.median_a),
            _cell(r.cv_a, ".2f") + "%",
            _cell(r.change_pct, "+.2f"),
            ci if math.isfinite(r.ci95_pct[0]) else "",
            format_number(r.median_b),
            _cell(r.cv_b, ".2f") + "%",
            MARKER[r.verdict],
            _cell(r.p, ".2g"),
            _cell(r.p_holm, ".2g"),
            f"{r.n_a}/{r.n_b}",
            r.verdict.value
            + (f" ({note})" if (note := advice(r, comparison.threshold_pct)) else ""),
        ]
        klass = f' class="{r.verdict.value}"'
        rows.append(
            f"<tr{klass}>"
            + "".join(
                f'<td class="num">{c}</td>' if i in (2, 3, 4, 6, 7, 9, 10) else f"<td>{c}</td>"
                for i, c in enumerate(cells)
            )
            + "</tr>"
        )
    return "<table>" + "\n".join(rows) + "</table>"


def _run_line(meta: dict[str, str]) -> str:
    """ "Run X, started Y." with whichever of the two the command recorded."""
    said = [
        f"{label} {html.escape(meta[key])}"
        for key, label in (("run", "Run"), ("started", "Started"))
        if meta.get(key)
    ]
    return ("; ".join(said) + ".") if said else ""


def render_html(
    comparison: Comparison, boots: Sequence[BootSample], serial: SerialComparison | None = None
) -> str:
    meta = comparison.meta
    title = f"harness compare: {meta.get('series', '')}"
    compared = [r for r in comparison.results if r.verdict is not Verdict.MISSING]
    figures = "".join(
        f'<div class="metric">{metric_figure(r, comparison.threshold_pct)}</div>' for r in compared
    )
    boots_rows = "".join(
        f"<tr><td>{b.side.value}{b.index}</td><td>{'ok' if b.ok else 'excluded'}</td>"
        f'<td class="num">{b.seconds:.1f}</td><td>{" ".join(f"{x:.2f}" for x in b.load_before)}'
        f"</td><td>{' '.join(f'{x:.2f}' for x in b.load_after)}</td>"
        f"<td>{html.escape(b.reason)}</td><td>{html.escape(b.console)}</td></tr>"
        for b in boots
    )
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>",
        f"<p>A = <b>{html.escape(meta.get('side_a', 'A'))}</b>, "
        f"B = <b>{html.escape(meta.get('side_b', 'B'))}</b>. "
        f"Timing: <b>{html.escape(meta.get('timing_label', meta.get('timing', '?')))}</b>. "
        f"{comparison.n_a}/{comparison.n_b} boots, interleaved; the boot is the unit of "
        f"replication. Exact rank tests against ±threshold (worse/better, and an "
        f"equivalence test for same) with Holm over {comparison.family_size} metrics, "
        f"alpha {comparison.alpha:g}, threshold ±{comparison.threshold_pct:g}%. "
        f"{_run_line(meta)}</p>",
        "<h2>Results</h2>",
        results_table(comparison),
        "<h2>Per metric: each boot, and the change's 95% CI against ±threshold</h2>",
        figures,
        "<h2>More serialized</h2>",
        f"<pre>{html.escape(chr(10).join(serial_block(serial, comparison)))}</pre>",
        *([results_table(serial.comparison)] if serial else []),
        "<h2>Metadata per slab cache</h2>",
        slab_figure(comparison.slabs) or "<p>none</p>",
        "<h2>Scaling</h2>",
        scaling_figure(comparison.results) or "<p>none</p>",
        "<h2>Boots</h2><table><tr><th>boot</th><th></th><th>seconds</th><th>load before</th>"
        f"<th>load after</th><th>reason</th><th>console</th></tr>{boots_rows}</table>",
        f"<h2>As text</h2><pre>{html.escape(render_table(comparison, serial))}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts)
