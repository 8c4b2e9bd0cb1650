"""stats: Mann-Whitney + Holm verdicts, bootstrap CIs, power numbers, slab summary."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from harness.compare.metrics import parse_boot_output
from harness.compare.model import Better, BootSample, Metric, Side, SlabDelta, Verdict
from harness.compare.power import Family, boots_needed, mde_pct
from harness.compare.slabs import scenario_pages
from harness.compare.stats import (
    analyse,
    bootstrap_ci_pct,
    holm,
    mann_whitney_p,
    min_boots_for,
    min_p_mann_whitney,
)

AA = Path(__file__).parent / "fixtures" / "compare" / "aa"
Values = Mapping[str, tuple[Sequence[float], Sequence[float]]]


def boots_from(
    values: Values, better: Better = Better.HIGHER, unit: str = "pages/s"
) -> list[BootSample]:  # noqa: E501
    """Interleaved A/B boots; boot i of a side gets the i-th value of each metric (one sample)."""
    boots = []
    n = max(len(side) for pair in values.values() for side in pair)
    for index in range(n):
        for side, column in ((Side.A, 0), (Side.B, 1)):
            metrics = {
                name: Metric(name, unit, better, (float(pair[column][index]),))
                for name, pair in values.items()
                if index < len(pair[column])
            }
            boots.append(BootSample(side, index, metrics))
    return boots


def noisy(rng: random.Random, centre: float, cv: float, n: int) -> list[float]:
    return [rng.gauss(centre, centre * cv) for _ in range(n)]


def only(boots: list[BootSample], threshold: float = 5.0) -> Verdict:
    (result,) = analyse(boots, threshold).results
    return result.verdict


def test_smallest_mann_whitney_p_per_boot_count() -> None:
    expected = {3: 0.1, 4: 0.02857, 5: 0.00794, 6: 0.002165, 7: 0.000583, 8: 0.0001554}
    for n, p in expected.items():
        assert min_p_mann_whitney(n, n) == pytest.approx(p, rel=1e-3)
    # scipy agrees: completely separated samples reach exactly the minimum.
    assert mann_whitney_p([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(2 / 252)


def test_five_boots_can_never_be_significant_over_ten_metrics() -> None:
    assert 10 * min_p_mann_whitney(5, 5) > 0.05
    assert (min_boots_for(10), min_boots_for(20), min_boots_for(30), min_boots_for(40)) == (
        6,
        6,
        7,
        7,
    )
    # Ten metrics, each dropping 30 % with no overlap at all: still not one WORSE at n=5.
    separated = {
        f"m{i}": ([100 + j for j in range(5)], [70 + j for j in range(5)]) for i in range(10)
    }
    comparison = analyse(boots_from(separated), 5.0)
    assert {r.verdict for r in comparison.results} == {Verdict.INCONCLUSIVE}
    # At 6 boots Holm over ten could reach p < 0.05, but a change of twice the threshold at
    # this spread (CV ~2 %) is called worse 80 % of the time only from 7 boots on.
    assert {r.boots_needed for r in comparison.results} == {7}
    assert all(math.isinf(r.mde_pct) for r in comparison.results)


def test_holm_adjusts_step_down_and_keeps_order() -> None:
    assert holm([0.01, 0.04, 0.03, 0.2]) == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert holm([]) == []


def test_ties_use_an_exact_permutation_p() -> None:
    # Cross-checked against scipy.stats.mannwhitneyu(method=PermutationMethod(np.inf)).
    assert mann_whitney_p([1, 1, 1, 2, 2], [2, 2, 3, 3, 3, 3]) == pytest.approx(0.025974026)
    assert mann_whitney_p([5, 5, 5], [5, 5, 5]) == 1.0


def test_planted_regression_of_15_pct_with_8_boots_is_worse() -> None:
    rng = random.Random(7)
    boots = boots_from({"pf": (noisy(rng, 1000, 0.02, 8), noisy(rng, 850, 0.02, 8))})
    (result,) = analyse(boots, 5.0).results
    assert result.verdict is Verdict.WORSE
    assert result.change_pct == pytest.approx(-15, abs=3)
    assert result.ci95_pct[0] < result.change_pct < result.ci95_pct[1] < -5
    assert result.p < 0.001 and result.boots_needed is None


def test_better_direction_is_respected() -> None:
    rng = random.Random(8)
    drop = {"m": (noisy(rng, 1000, 0.02, 8), noisy(rng, 850, 0.02, 8))}
    assert only(boots_from(drop, Better.HIGHER, "pages/s")) is Verdict.WORSE
    assert only(boots_from(drop, Better.LOWER, "ns/op")) is Verdict.BETTER


def test_too_few_boots_is_inconclusive_with_boots_needed() -> None:
    rng = random.Random(9)
    (result,) = analyse(
        boots_from({"m": (noisy(rng, 100, 0.05, 3), noisy(rng, 85, 0.05, 3))}), 5.0
    ).results  # noqa: E501
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.boots_needed is not None and result.boots_needed >= min_boots_for(1) == 4


def test_zero_variance_metrics() -> None:
    assert only(boots_from({"bytes": ([64] * 3, [64] * 3)})) is Verdict.SAME
    assert only(boots_from({"bytes": ([64] * 8, [80] * 8)}), 5.0) is Verdict.BETTER
    (tiny,) = analyse(boots_from({"bytes": ([64] * 3, [80] * 3)}), 5.0).results
    assert (tiny.verdict, tiny.boots_needed) == (Verdict.INCONCLUSIVE, 4)


def test_small_significant_change_within_threshold_is_same() -> None:
    rng = random.Random(10)
    boots = boots_from({"m": (noisy(rng, 1000, 0.002, 8), noisy(rng, 1010, 0.002, 8))})
    assert only(boots, 5.0) is Verdict.SAME


def test_aa_synthetic_families_have_no_false_positives() -> None:
    rng = random.Random(11)
    for _ in range(20):
        values = {f"m{i}": (noisy(rng, 100, 0.03, 8), noisy(rng, 100, 0.03, 8)) for i in range(10)}
        verdicts = {r.verdict for r in analyse(boots_from(values), 2.0).results}
        assert not verdicts & {Verdict.BETTER, Verdict.WORSE}


def aa_boots() -> list[BootSample]:
    boots = []
    for path in sorted(AA.glob("*.txt")):
        side, index = path.stem.split("-")
        parsed = parse_boot_output(path.read_text())
        boots.append(BootSample(Side(side), int(index), parsed.metrics, parsed.slabs, parsed.info))
    return boots


def test_recorded_aa_dataset_has_no_better_or_worse() -> None:
    comparison = analyse(aa_boots(), 3.0)
    # munmap's CV of 5.5 % would hide a change of 9 % even at 30 boots: unmeasurable at a
    # 3 % threshold, and out of the family.
    assert (comparison.n_a, comparison.n_b, comparison.family_size) == (8, 8, 11)
    assert not {r.verdict for r in comparison.results} & {Verdict.BETTER, Verdict.WORSE}
    constant = {r.name: r.verdict for r in comparison.results}["meta.anon_1g.bytes_per_page"]
    assert constant is Verdict.SAME


def test_metric_on_one_side_is_missing_and_outside_the_holm_family() -> None:
    boots = boots_from({"both": ([100, 101, 102], [100, 101, 102])})
    boots.append(BootSample(Side.B, 9, {"new": Metric("new", "ns/op", Better.LOWER, (5.0,))}))
    comparison = analyse(boots, 5.0)
    verdicts = {r.name: r.verdict for r in comparison.results}
    assert verdicts["new"] is Verdict.MISSING and comparison.family_size == 1


def test_failed_boots_are_excluded_and_counted() -> None:
    boots = boots_from({"m": ([1, 2, 3], [1, 2, 3])})
    boots.append(BootSample(Side.A, 3, {}, ok=False, reason="timeout after 600 s"))
    comparison = analyse(boots, 5.0)
    assert comparison.n_a == 3 and len(comparison.excluded) == 1
    assert comparison.excluded[0].reason == "timeout after 600 s"


def test_bootstrap_ci_is_reproducible() -> None:
    a, b = [100, 102, 98, 101, 99], [110, 111, 109, 112, 108]
    assert bootstrap_ci_pct(a, b) == bootstrap_ci_pct(a, b)
    lo, hi = bootstrap_ci_pct(a, b)
    assert lo < 10 < hi


def test_power_helpers() -> None:
    ten, h = Family(10, 5.0, 0.05), Better.HIGHER
    assert math.isinf(mde_pct(2.0, 5, 5, ten, h))
    assert 5.0 < mde_pct(2.0, 8, 8, ten, h) < mde_pct(2.0, 6, 6, ten, h)
    assert mde_pct(0.0, 6, 6, ten, h) == pytest.approx(5.0)  # no noise: just beyond
    assert boots_needed(0.0, ten, h) == min_boots_for(10)
    assert boots_needed(2.0, ten, h) == 7
    # A spread of 2 % cannot resolve a threshold of 1 % within the plan's limit of boots.
    assert boots_needed(2.0, Family(10, 1.0, 0.05), h) is None


def test_scenario_pages_from_info_or_name() -> None:
    assert scenario_pages("anon_1g.held", {}) == 262144
    assert scenario_pages("file_512m.mapped", {}) == 131072
    assert scenario_pages("anon_1g.held", {"pages.anon_1g.held": "1000"}) == 1000
    assert scenario_pages("weird", {}) is None


def test_slab_summary_medians_and_bytes_per_page() -> None:
    boots = [
        BootSample(side, i, {}, (SlabDelta("anon_1g.held", "kmalloc-64", size, 1),))
        for i, (side, size) in enumerate([(Side.A, 100), (Side.A, 300), (Side.B, 262144 * 8)])
    ]
    boots.append(BootSample(Side.B, 5, {}, (SlabDelta("anon_1g.held", "vma", 10, 1),)))
    slabs = {s.cache: s for s in analyse(boots, 5.0).slabs}
    assert slabs["kmalloc-64"].median_bytes_a == 200
    # The B boot that ran the scenario without touching kmalloc-64 counts as 0 bytes.
    assert slabs["kmalloc-64"].median_bytes_b == 262144 * 4
    assert slabs["kmalloc-64"].delta_per_page == pytest.approx(4 - 200 / 262144)
