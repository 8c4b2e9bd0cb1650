"""parse_boot_output: the `# metric:` / `# slab:` / `# info:` lines of one boot."""

from __future__ import annotations

from pathlib import Path

from harness.compare.metrics import parse_boot_output
from harness.compare.model import Better, SlabDelta

AA = Path(__file__).parent / "fixtures" / "compare" / "aa"


def test_reads_metric_slab_and_info_lines() -> None:
    parsed = parse_boot_output(
        "# metric: pf1.thp_never.pages_per_s pages/s higher 10 20 30\n"
        "# slab: anon_1g.held kmalloc-64 16777216 262144\n"
        "# info: kernel=6.12.0-rc1\n"
    )
    metric = parsed.metrics["pf1.thp_never.pages_per_s"]
    assert (metric.unit, metric.better, metric.samples, metric.value) == (
        "pages/s",
        Better.HIGHER,
        (10.0, 20.0, 30.0),
        20.0,
    )
    assert parsed.slabs == (SlabDelta("anon_1g.held", "kmalloc-64", 16777216, 262144),)
    assert parsed.info == {"kernel": "6.12.0-rc1"}
    assert parsed.warnings == ()


def test_indented_and_doubly_commented_lines_are_read() -> None:
    parsed = parse_boot_output(
        "        # metric: a ns/op lower 1 2\n# # metric: b ns/op lower 3\n"
        "[    3.141592] # info: k=v w\r\n\t#metric: c us/op lower 5\n"
    )
    assert sorted(parsed.metrics) == ["a", "b", "c"]
    assert parsed.info == {"k": "v w"}


def test_garbage_becomes_warnings_never_an_exception() -> None:
    text = "\n".join(
        [
            "# metric: x pages/s higher 1 nan 3",
            "# metric: x pages/s higher inf",
            "# metric: y pages/s sideways 1",
            "# metric: z pages/s higher",
            "# metric: bad/name pages/s higher 1",
            "# slab: s c notanumber 1",
            "# slab: s c 1",
            "# info: novalue",
            "# metric: \x00\xff garbage",
            "ok 1 unrelated # SKIP metric: not ours",
        ]
    )
    parsed = parse_boot_output(text)
    assert parsed.metrics == {} and parsed.slabs == () and parsed.info == {}
    assert [w.line_no for w in parsed.warnings] == [1, 2, 3, 4, 5, 6, 7, 8, 9]


def test_metric_printed_twice_merges_samples_and_warns() -> None:
    parsed = parse_boot_output("# metric: m ns/op lower 1 2\n# metric: m ns/op lower 3\n")
    assert parsed.metrics["m"].samples == (1.0, 2.0, 3.0)
    assert "printed twice" in parsed.warnings[0].reason


def test_metric_repeated_with_other_unit_keeps_the_first() -> None:
    parsed = parse_boot_output("# metric: m ns/op lower 1\n# metric: m us/op lower 9\n")
    assert parsed.metrics["m"].samples == (1.0,)
    assert parsed.warnings[0].line_no == 2


def test_negative_slab_delta_is_a_shrink_not_an_error() -> None:
    parsed = parse_boot_output("# slab: anon_1g.freed kmalloc-64 -4096 -64\n")
    assert parsed.slabs[0].bytes == -4096 and parsed.warnings == ()


def test_recorded_aa_boot_parses_with_one_warning_for_its_garbage_line() -> None:
    parsed = parse_boot_output((AA / "A-0.txt").read_text())
    assert len(parsed.metrics) == 12
    assert parsed.info["pages.anon_1g.held"] == "262144"
    assert len(parsed.slabs) == 2
    assert len(parsed.warnings) == 1
