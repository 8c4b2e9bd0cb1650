"""table.py and report_html.py on an A/A fixture with a planted change: what a reader must see."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from harness.compare import report_html, table
from harness.compare.metrics import parse_boot_output
from harness.compare.model import BootSample, Comparison, Side, SlabDelta, Verdict
from harness.compare.stats import analyse

AA = Path(__file__).parent / "fixtures" / "compare" / "aa"
META = {"series": "mm: demo", "side_a": "base", "side_b": "patched", "timing": "tcg"}


def slowed(boot: BootSample, name: str, factor: float) -> BootSample:
    metric = boot.metrics[name]
    faster = dataclasses.replace(metric, samples=tuple(v * factor for v in metric.samples))
    return dataclasses.replace(boot, metrics={**boot.metrics, name: faster})


def planted() -> tuple[Comparison, list[BootSample]]:
    """The A/A boots, with B's 4 KiB fault rate 15 % lower and a new maple_node growth on B."""
    boots = []
    for path in sorted(AA.glob("*.txt")):
        side, index = path.stem.split("-")
        parsed = parse_boot_output(path.read_text())
        boot = BootSample(Side(side), int(index), parsed.metrics, parsed.slabs, parsed.info)
        if boot.side is Side.B:
            boot = slowed(boot, "pf1.thp_never.pages_per_s", 0.85)
            grown = SlabDelta("anon_1g.held", "maple_node", 2097152, 8192)
            boot = dataclasses.replace(boot, slabs=(*boot.slabs, grown))
        boots.append(boot)
    boots.append(BootSample(Side.A, 8, {}, ok=False, reason="timeout after 600 s"))
    meta = {**META, "timing_label": "emulated (TCG wall clock)"}
    return analyse(boots, 3.0, meta=meta), boots


def test_table_marks_the_regression_and_lists_the_grown_cache() -> None:
    comparison, _ = planted()
    text = table.render_table(comparison)
    row = next(line for line in text.splitlines() if line.startswith("pf1.thp_never.pages_per_s"))
    assert re.search(r"-1[0-9]\.\d\d%.*  -  ", row) and row.rstrip().endswith("8/8")
    assert "minimum detectable effect (the true change called worse with 80% power) at n=8/8" in (
        text
    )
    assert "maple_node" in text and "+8.00 B/page" in text
    assert "excluded: boot A8: timeout after 600 s" in text


def test_table_says_how_many_boots_an_inconclusive_metric_needs() -> None:
    comparison, _ = planted()
    needed = [r for r in comparison.results if r.boots_needed]
    assert needed
    assert f"need {needed[0].boots_needed} boots" in table.render_table(comparison)


def test_html_is_self_contained_and_labels_the_timing() -> None:
    comparison, boots = planted()
    page = report_html.render_html(comparison, boots)
    assert "emulated (TCG wall clock)" in page
    # No network: every image is inline and nothing is fetched from anywhere.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    figures = page.count("data:image/png;base64,")
    # One per compared metric (measurable or not), the slab bars and the scaling curves.
    compared = [r for r in comparison.results if r.verdict is not Verdict.MISSING]
    assert figures == len(compared) + 2
    assert '<tr class="worse">' in page and "timeout after 600 s" in page


def test_scaling_curves_are_per_task() -> None:
    comparison, _ = planted()
    ((name, points),) = report_html.scaling_curves(comparison.results).items()
    assert name == "scale_pf.pages_per_s"
    assert [tasks for tasks, _, _ in points] == [1, 2, 4]
    by_name = {r.name: r for r in comparison.results}
    assert points[2][1] == by_name["scale_pf.t4.pages_per_s"].median_a / 4


def test_html_without_slabs_or_scaling_says_none() -> None:
    comparison, boots = planted()
    bare = dataclasses.replace(comparison, results=comparison.results[:1], slabs=())
    page = report_html.render_html(bare, boots)
    assert page.count("<p>none</p>") == 2
