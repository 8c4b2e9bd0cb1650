"""Statistics of `harness compare`: per-boot values of A and B in, verdicts out.

Input: BootSamples (the boot is the replicate: its value for a metric is the median of its
inner repetitions; inner samples are never pooled across boots). Output: a Comparison.
No I/O; raises nothing on odd data (empty, constant, zero medians); nan marks "not defined".

Choices, and why:
- Every verdict is a test against the threshold, not against zero. WORSE/BETTER: the
  one-sided exact rank test (ranks.py) of B rescaled to the threshold's boundary (B/(1-t)
  against A: is B's ratio to A below 1-t?; B/(1+t): above 1+t?), the smaller of the two p
  doubled for the two directions: H0 is "the change is within ±threshold". SAME: the
  equivalence test (TOST): both one-sided tests that the ratio is above 1-t and below 1+t
  reject; its p is the larger of the two. Ranks, not means: boot times are skewed and
  have outliers; exact: the normal approximation is poor at 3-10 boots.
- Holm over the metrics that both sides printed and that are measurable, once for the
  worse/better p and once for the equivalence p: one comparison asks many questions.
- A metric is unmeasurable when its boot-to-boot noise would hide a change of three
  thresholds even at power.PLAN_LIMIT boots (power.py); it is kept out of the family.
- A metric with one and the same value on every boot of both sides is SAME: it is
  deterministic, and a rank test has nothing to rank.
- Power, the minimum detectable effect and the boots needed come from a seeded simulation
  of these tests (power.py), not from an asymptotic formula.
- Bootstrap CI of the ratio of medians, percentile method, shown only (no verdict reads
  it): boots resampled within each side, fixed seed.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from harness.compare import power, ranks
from harness.compare.model import (
    Better,
    BootSample,
    Comparison,
    ExcludedBoot,
    Metric,
    MetricResult,
    Side,
    Verdict,
)
from harness.compare.power import Family
from harness.compare.slabs import summarise_slabs

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 20_250_601


def min_p_mann_whitney(n_a: int, n_b: int) -> float:
    """The smallest two-sided exact rank p: every A boot below every B boot."""
    return min(1.0, 2 / math.comb(n_a + n_b, n_a))


def min_boots_for(m_metrics: int, alpha: float = 0.05) -> int:
    """Fewest boots per side (>= 3) at which Holm over m metrics can declare any one at all."""
    n = 3
    while max(m_metrics, 1) * min_p_mann_whitney(n, n) > alpha:
        n += 1
    return n


def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided exact rank p of "A and B differ"; 1.0 when there is nothing to tell apart."""
    return min(1.0, 2 * min(ranks.p_lower(a, b), ranks.p_higher(a, b)))


@dataclass(frozen=True)
class ThresholdP:
    """One metric's one-sided p values against the threshold's boundaries."""

    below: float  # H1: B/A < 1 - t
    above: float  # H1: B/A > 1 + t
    within: float  # H1: 1 - t < B/A < 1 + t (TOST: the larger of its two one-sided p)

    @property
    def beyond(self) -> float:
        """H1: the change is beyond ±threshold, either way (both directions: doubled)."""
        return min(1.0, 2 * min(self.below, self.above))


def threshold_p(a: Sequence[float], b: Sequence[float], threshold_pct: float) -> ThresholdP:
    """The exact rank tests of B, rescaled to 1 - t and 1 + t times A, against A."""
    t = threshold_pct / 100
    below, not_below = ranks.tails(a, ranks.scaled(a, b, 1 - t))
    not_above, above = ranks.tails(a, ranks.scaled(a, b, 1 + t))
    return ThresholdP(below=below, above=above, within=max(not_below, not_above))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p values, in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for step, i in enumerate(order):
        running = max(running, min(1.0, (m - step) * p_values[i]))
        adjusted[i] = running
    return adjusted


def decide(
    better: Better, tests: ThresholdP, p_holm: float, p_same: float, alpha: float
) -> Verdict:
    """WORSE/BETTER: beyond the threshold after Holm; SAME: within it after Holm."""
    if p_holm < alpha:
        higher = tests.above < tests.below
        return Verdict.BETTER if higher == (better is Better.HIGHER) else Verdict.WORSE
    return Verdict.SAME if p_same < alpha else Verdict.INCONCLUSIVE


def pct_change(median_a: np.ndarray, median_b: np.ndarray) -> np.ndarray:
    """B against A in % of A; 0 when both are 0, +-inf when only A is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        change = (median_b - median_a) / np.abs(median_a) * 100
    both_zero = (median_a == 0) & (median_b == 0)
    return np.where(both_zero, 0.0, change)


def bootstrap_ci_pct(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """95 % percentile-bootstrap CI of the change of medians, each side resampled on its own."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    a_meds = np.median(a_arr[rng.integers(0, len(a_arr), (BOOTSTRAP_RESAMPLES, len(a_arr)))], 1)
    b_meds = np.median(b_arr[rng.integers(0, len(b_arr), (BOOTSTRAP_RESAMPLES, len(b_arr)))], 1)
    # A resample whose A median is 0 has an infinite change (a metadata metric that is 0 on
    # most base boots): the percentile then is inf or nan, which says "unbounded", so
    # numpy's warning about it says nothing new.
    with np.errstate(invalid="ignore"):
        lo, hi = np.percentile(pct_change(a_meds, b_meds), [2.5, 97.5])
    return float(lo), float(hi)


def spread(values: Sequence[float]) -> tuple[float, float]:
    """Sample standard deviation and coefficient of variation (% of the mean)."""
    if len(values) < 2:
        return 0.0, 0.0
    arr = np.asarray(values, dtype=float)
    stdev, mean = float(arr.std(ddof=1)), float(arr.mean())
    if mean == 0:
        return stdev, 0.0 if stdev == 0 else math.inf
    return stdev, stdev / abs(mean) * 100


@dataclass(frozen=True)
class Observed:
    """Per-boot values of one metric on each side, with its unit and direction."""

    name: str
    unit: str
    better: Better
    a_values: tuple[float, ...]
    b_values: tuple[float, ...]

    @property
    def noise_cv(self) -> float:
        """The boot-to-boot CV (%) of the two sides pooled: what power.py simulates."""
        cv_a, cv_b = spread(self.a_values)[1], spread(self.b_values)[1]
        return math.sqrt((cv_a**2 + cv_b**2) / 2)

    @property
    def constant(self) -> bool:
        """One and the same value on every boot of both sides."""
        return len(set(self.a_values) | set(self.b_values)) == 1


def observe(boots: Sequence[BootSample]) -> list[Observed]:
    """Each metric's per-boot values per side, in first-seen order."""
    first: dict[str, Metric] = {}
    for boot in boots:
        for name, metric in boot.metrics.items():
            first.setdefault(name, metric)

    def values(name: str, side: Side) -> tuple[float, ...]:
        return tuple(b.metrics[name].value for b in boots if b.side is side and name in b.metrics)

    return [
        Observed(name, m.unit, m.better, values(name, Side.A), values(name, Side.B))
        for name, m in first.items()
    ]


def base_result(obs: Observed, verdict: Verdict) -> MetricResult:
    """A metric's values and spread; nan wherever a test would go."""
    nan = math.nan
    sd_a, cv_a = spread(obs.a_values)
    sd_b, cv_b = spread(obs.b_values)
    med_a = float(statistics.median(obs.a_values)) if obs.a_values else nan
    med_b = float(statistics.median(obs.b_values)) if obs.b_values else nan
    paired = bool(obs.a_values and obs.b_values)
    return MetricResult(
        name=obs.name,
        unit=obs.unit,
        better=obs.better,
        a_values=obs.a_values,
        b_values=obs.b_values,
        median_a=med_a,
        median_b=med_b,
        change_pct=float(pct_change(np.array([med_a]), np.array([med_b]))[0]) if paired else nan,
        ci95_pct=bootstrap_ci_pct(obs.a_values, obs.b_values) if paired else (nan, nan),
        p=nan,
        p_holm=nan,
        stdev_a=sd_a,
        stdev_b=sd_b,
        cv_a=cv_a,
        cv_b=cv_b,
        verdict=verdict,
        boots_needed=None,
        mde_pct=nan,
    )


@dataclass(frozen=True)
class Judged:
    """One measurable metric's p values, raw and Holm-adjusted, and its verdict."""

    tests: ThresholdP
    p_holm: float
    p_same: float
    verdict: Verdict


def measurable(paired: Sequence[Observed], threshold_pct: float, alpha: float) -> list[Observed]:
    """The metrics whose noise lets them into the Holm family (screened at the full size)."""
    screen = Family(len(paired), threshold_pct, alpha)
    return [
        obs
        for obs in paired
        if obs.constant or not power.unmeasurable(obs.noise_cv, screen, obs.better)
    ]


def judge(measured: Sequence[Observed], family: Family) -> list[Judged]:
    """The family's verdicts: the threshold tests, Holm over each kind, the decision."""
    tests = [threshold_p(obs.a_values, obs.b_values, family.threshold_pct) for obs in measured]
    adjusted = zip(holm([t.beyond for t in tests]), holm([t.within for t in tests]), strict=True)
    return [
        Judged(
            t,
            p_holm,
            p_same,
            Verdict.SAME if obs.constant else decide(obs.better, t, p_holm, p_same, family.alpha),
        )
        for obs, t, (p_holm, p_same) in zip(measured, tests, adjusted, strict=True)
    ]


def _judged_result(obs: Observed, judged: Judged, family: Family) -> MetricResult:
    """A measurable metric: its verdict, its MDE at these boots, and if inconclusive the
    boots it needs (never as many as it has: then the change is near the threshold)."""
    n = min(len(obs.a_values), len(obs.b_values))
    needed = power.boots_needed(obs.noise_cv, family, obs.better)
    inconclusive = judged.verdict is Verdict.INCONCLUSIVE
    return replace(
        base_result(obs, judged.verdict),
        p=judged.tests.beyond,
        p_holm=judged.p_holm,
        p_same=judged.p_same,
        mde_pct=power.mde_pct(
            obs.noise_cv, len(obs.a_values), len(obs.b_values), family, obs.better
        ),
        boots_needed=needed if inconclusive and needed and needed > n else None,
    )


def advice(result: MetricResult, threshold_pct: float) -> str:
    """What an inconclusive or unmeasurable metric needs, in words (table and html)."""
    if result.verdict is Verdict.UNMEASURABLE:
        return f"unmeasurable: boot-to-boot CV {max(result.cv_a, result.cv_b):.2g}%"
    if result.verdict is not Verdict.INCONCLUSIVE:
        return ""
    if result.boots_needed is not None:
        return f"need {result.boots_needed} boots"
    if result.mde_pct <= 2 * threshold_pct:
        return "change near ±threshold: more boots help little"
    return f"not measurable with ≤ {power.PLAN_LIMIT} boots"


def compare_metrics(
    boots: Sequence[BootSample], threshold_pct: float, alpha: float = 0.05
) -> tuple[MetricResult, ...]:
    """One MetricResult per metric any boot printed; Holm over the measurable ones that
    both sides printed."""
    observed = observe(boots)
    paired = [obs for obs in observed if obs.a_values and obs.b_values]
    measured = measurable(paired, threshold_pct, alpha)
    family = Family(len(measured), threshold_pct, alpha)
    results = {
        obs.name: _judged_result(obs, judged, family)
        for obs, judged in zip(measured, judge(measured, family), strict=True)
    }
    for obs in paired:
        results.setdefault(obs.name, base_result(obs, Verdict.UNMEASURABLE))
    return tuple(results.get(obs.name) or base_result(obs, Verdict.MISSING) for obs in observed)


def analyse(
    boots: Sequence[BootSample],
    threshold_pct: float,
    alpha: float = 0.05,
    meta: Mapping[str, str] | None = None,
) -> Comparison:
    """The whole comparison of the boots that ran (ok); the others are listed as excluded."""
    usable = [boot for boot in boots if boot.ok]
    results = compare_metrics(usable, threshold_pct, alpha)
    return Comparison(
        results=results,
        slabs=summarise_slabs(usable),
        meta=dict(meta or {}),
        threshold_pct=threshold_pct,
        alpha=alpha,
        n_a=sum(boot.side is Side.A for boot in usable),
        n_b=sum(boot.side is Side.B for boot in usable),
        family_size=sum(r.verdict not in (Verdict.MISSING, Verdict.UNMEASURABLE) for r in results),
        excluded=tuple(ExcludedBoot(b.side, b.index, b.reason) for b in boots if not b.ok),
    )
