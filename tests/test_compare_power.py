"""compare's stated numbers, checked by seeded simulation of the tests as implemented
(stats.measurable + stats.judge, what compare_metrics runs): the power at the printed
minimum detectable effect, the false-worse rate at the threshold, the false-same rate.

Data: 19 metrics (the family of `compare --bench pf1 --bench meta_anon`), each boot
normal around its median with a CV of 2 %, one metric changed, the others not.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.compare import power, stats
from harness.compare.model import Better, Verdict

SEED = 20_250_603
FAMILY = 19
CV = 2.0
THRESHOLD = 5.0
ALPHA = 0.05


def verdict_rate(
    ratio: float, n: int, sims: int, wanted: Verdict, seed: int = SEED, size: int = FAMILY
) -> float:
    """How often metric 0, B = A times `ratio`, gets `wanted` within a family of `size`."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(sims):
        observed = []
        for i in range(size):
            a = 1000 * (1 + CV / 100 * rng.standard_normal(n))
            b = 1000 * (ratio if i == 0 else 1.0) * (1 + CV / 100 * rng.standard_normal(n))
            observed.append(stats.Observed(f"m{i}", "ns", Better.HIGHER, tuple(a), tuple(b)))
        measured = stats.measurable(observed, THRESHOLD, ALPHA)
        family = power.Family(len(measured), THRESHOLD, ALPHA)
        first = stats.judge(measured, family)[0] if measured[0].name == "m0" else None
        hits += first is not None and first.verdict is wanted
    return hits / sims


def test_a_change_equal_to_the_printed_mde_is_detected_at_the_stated_power() -> None:
    """n = 6, Holm over 19: the asymptotic formula's MDE was detected 40 % of the time."""
    n = 6
    mde = power.mde_pct(CV, n, n, power.Family(FAMILY, THRESHOLD, ALPHA), Better.HIGHER)
    assert THRESHOLD < mde < 15
    rate = verdict_rate(1 - mde / 100, n, 500, Verdict.WORSE)
    assert rate >= power.POWER, (mde, rate)


@pytest.mark.parametrize("ratio", [0.95, 0.96])
def test_a_change_at_or_inside_the_threshold_is_called_worse_at_most_alpha(ratio: float) -> None:
    """The old verdict (p against zero, and a point change past the threshold) called a
    change just inside the threshold worse far more often than alpha. A family of one is
    the worst case: Holm over more only lowers the rate."""
    rate = verdict_rate(ratio, 8, 2000, Verdict.WORSE, SEED + 1, size=1)
    assert rate <= ALPHA + 0.01, rate  # 0.01: two standard errors at 2000


def test_a_change_at_the_threshold_is_called_same_at_most_alpha_of_the_time() -> None:
    rate = verdict_rate(0.95, 8, 2000, Verdict.SAME, SEED + 2, size=1)
    assert rate <= ALPHA + 0.01, rate


def test_mde_falls_with_boots_and_is_infinite_where_holm_cannot_reject() -> None:
    family = power.Family(FAMILY, THRESHOLD, ALPHA)
    mdes = [power.mde_pct(CV, n, n, family, Better.HIGHER) for n in (5, 6, 8, 12)]
    assert mdes[0] == float("inf") and mdes[1] > mdes[2] > mdes[3] > THRESHOLD
