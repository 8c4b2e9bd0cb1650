"""Statistics of `harness compare`: per-boot values of A and B in, verdicts out.

Input: BootSamples (the boot is the replicate: its value for a metric is the median of its
inner repetitions; inner samples are never pooled across boots). Output: a Comparison.
No I/O; raises nothing on odd data (empty, constant, zero medians); nan marks "not defined".

Choices, and why:
- Mann-Whitney U, two-sided: boot times are skewed and have outliers (a noisy host), so no
  normality; exact p when there are no ties (scipy), and an exact permutation p over midranks
  when there are ties (metadata metrics repeat exact values; scipy's "auto" would fall back
  to the normal approximation, which is poor at 3-10 boots).
- Holm over the metrics that both sides printed: one comparison asks many questions at once.
- Bootstrap CI of the ratio of medians, percentile method, boots resampled within each side,
  fixed seed: BCa needs a jackknife estimate of acceleration, and the jackknife of a median is
  notoriously unstable at n < 10; the percentile interval is transformation-respecting (ratio
  or log-ratio give the same interval). At 3-10 boots it is discrete and somewhat narrow.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats as sps

from harness.compare.model import (
    Better,
    BootSample,
    Comparison,
    ExcludedBoot,
    Metric,
    MetricResult,
    Side,
    SlabResult,
    Verdict,
)

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 20_250_601
POWER = 0.8
# Asymptotic relative efficiency of Mann-Whitney against the t-test under normality.
MW_EFFICIENCY = 3 / math.pi
PAGE_BYTES = 4096
_SIZE_SUFFIX = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SCENARIO_SIZE = re.compile(r"_(\d+)([kmgt])$", re.IGNORECASE)


def min_p_mann_whitney(n_a: int, n_b: int) -> float:
    """The smallest two-sided exact MW p: every A boot below every B boot."""
    return min(1.0, 2 / math.comb(n_a + n_b, n_a))


def min_boots_for(m_metrics: int, alpha: float = 0.05) -> int:
    """Fewest boots per side (>= 3) at which Holm over m metrics can declare any one at all."""
    n = 3
    while max(m_metrics, 1) * min_p_mann_whitney(n, n) > alpha:
        n += 1
    return n


def _z_sum(m_metrics: int, alpha: float, power: float) -> float:
    """z for a two-sided test at Holm's strictest level alpha/m, plus z for the power."""
    level = alpha / max(m_metrics, 1)
    return float(sps.norm.ppf(1 - level / 2) + sps.norm.ppf(power))


def mde_pct(cv_pct: float, n: int, m: int, alpha: float = 0.05, power: float = POWER) -> float:
    """Smallest change (% of A) detectable with n boots per side; inf when MW cannot get there."""
    if n < min_boots_for(m, alpha):
        return math.inf
    return _z_sum(m, alpha, power) * cv_pct * math.sqrt(2 / (n * MW_EFFICIENCY))


def boots_needed(cv_pct: float, threshold_pct: float, m: int, alpha: float = 0.05) -> int:
    """Boots per side to detect a change of `threshold_pct` at the observed spread."""
    floor = min_boots_for(m, alpha)
    if threshold_pct <= 0 or not math.isfinite(cv_pct):
        return floor
    n = 2 * (_z_sum(m, alpha, POWER) * cv_pct / threshold_pct) ** 2 / MW_EFFICIENCY
    return max(floor, math.ceil(n))


def _doubled_midranks(values: Sequence[float]) -> list[int]:
    """Midranks times two, so ties stay integers."""
    ranks = sps.rankdata(values)
    return [int(round(2 * rank)) for rank in ranks]


def _tied_exact_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided permutation p of the rank sum of A over all C(n_a+n_b, n_a) relabellings."""
    ranks = _doubled_midranks([*a, *b])
    n_a = len(a)
    # counts[k][s]: subsets of k ranks summing to s (float64 is exact below 2**53).
    counts = np.zeros((n_a + 1, sum(ranks) + 1))
    counts[0][0] = 1.0
    for rank in ranks:
        counts[1:, rank:] += counts[:-1, : counts.shape[1] - rank].copy()
    distribution = counts[n_a] / counts[n_a].sum()
    observed = sum(ranks[:n_a])
    below, above = distribution[: observed + 1].sum(), distribution[observed:].sum()
    return float(min(1.0, 2 * min(below, above)))


def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided MW p, exact; 1.0 when there is nothing to tell apart."""
    if not a or not b or len(set(a) | set(b)) == 1:
        return 1.0
    if len(set(a) | set(b)) < len(a) + len(b):
        return _tied_exact_p(a, b)
    return float(sps.mannwhitneyu(a, b, alternative="two-sided", method="exact").pvalue)


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
    # most base boots): the percentile then is inf or nan, which the verdict reads as "not
    # within the threshold", so numpy's warning about it says nothing new.
    with np.errstate(invalid="ignore"):
        lo, hi = np.percentile(pct_change(a_meds, b_meds), [2.5, 97.5])
    return float(lo), float(hi)


def spread(values: Sequence[float]) -> tuple[float, float]:
    """Sample standard deviation and coefficient of variation (% of the mean)."""
    if len(values) < 2:
        return 0.0, 0.0
    stdev = statistics.stdev(values)
    mean = statistics.fmean(values)
    if mean == 0:
        return stdev, 0.0 if stdev == 0 else math.inf
    return stdev, stdev / abs(mean) * 100


def verdict_for(result: MetricResult, threshold_pct: float, alpha: float) -> Verdict:
    """BETTER/WORSE: significant after Holm and beyond the threshold; SAME: CI within it."""
    gain = result.change_pct if result.better is Better.HIGHER else -result.change_pct
    if result.p_holm < alpha and abs(gain) > threshold_pct:
        return Verdict.BETTER if gain > 0 else Verdict.WORSE
    lo, hi = result.ci95_pct
    if -threshold_pct <= lo and hi <= threshold_pct:
        return Verdict.SAME
    return Verdict.INCONCLUSIVE


@dataclass(frozen=True)
class _Observed:
    """Per-boot values of one metric on each side, with its unit and direction."""

    name: str
    unit: str
    better: Better
    a_values: tuple[float, ...]
    b_values: tuple[float, ...]


def _observe(boots: Sequence[BootSample]) -> list[_Observed]:
    """Each metric's per-boot values per side, in first-seen order."""
    first: dict[str, Metric] = {}
    for boot in boots:
        for name, metric in boot.metrics.items():
            first.setdefault(name, metric)

    def values(name: str, side: Side) -> tuple[float, ...]:
        return tuple(b.metrics[name].value for b in boots if b.side is side and name in b.metrics)

    return [
        _Observed(name, m.unit, m.better, values(name, Side.A), values(name, Side.B))
        for name, m in first.items()
    ]


def _missing_result(obs: _Observed) -> MetricResult:
    """A metric only one side printed: its values, and nan wherever a comparison would go."""
    nan = math.nan
    sd_a, cv_a = spread(obs.a_values)
    sd_b, cv_b = spread(obs.b_values)
    return MetricResult(
        name=obs.name,
        unit=obs.unit,
        better=obs.better,
        a_values=obs.a_values,
        b_values=obs.b_values,
        median_a=statistics.median(obs.a_values) if obs.a_values else nan,
        median_b=statistics.median(obs.b_values) if obs.b_values else nan,
        change_pct=nan,
        ci95_pct=(nan, nan),
        p=nan,
        p_holm=nan,
        stdev_a=sd_a,
        stdev_b=sd_b,
        cv_a=cv_a,
        cv_b=cv_b,
        verdict=Verdict.MISSING,
        boots_needed=None,
        mde_pct=nan,
    )


@dataclass(frozen=True)
class _Family:
    """What every metric of one Holm family shares."""

    size: int
    threshold_pct: float
    alpha: float


def _compared_result(obs: _Observed, p: float, p_holm: float, family: _Family) -> MetricResult:
    """A metric both sides printed, with its verdict and, if inconclusive, the boots it needs."""
    med_a, med_b = statistics.median(obs.a_values), statistics.median(obs.b_values)
    sd_a, cv_a = spread(obs.a_values)
    sd_b, cv_b = spread(obs.b_values)
    pooled_cv = math.sqrt((cv_a**2 + cv_b**2) / 2)
    n = min(len(obs.a_values), len(obs.b_values))
    result = MetricResult(
        name=obs.name,
        unit=obs.unit,
        better=obs.better,
        a_values=obs.a_values,
        b_values=obs.b_values,
        median_a=med_a,
        median_b=med_b,
        change_pct=float(pct_change(np.array([med_a]), np.array([med_b]))[0]),
        ci95_pct=bootstrap_ci_pct(obs.a_values, obs.b_values),
        p=p,
        p_holm=p_holm,
        stdev_a=sd_a,
        stdev_b=sd_b,
        cv_a=cv_a,
        cv_b=cv_b,
        verdict=Verdict.INCONCLUSIVE,
        boots_needed=None,
        mde_pct=mde_pct(pooled_cv, n, family.size, family.alpha),
    )
    verdict = verdict_for(result, family.threshold_pct, family.alpha)
    if verdict is not Verdict.INCONCLUSIVE:
        return replace(result, verdict=verdict)
    needed = boots_needed(pooled_cv, family.threshold_pct, family.size, family.alpha)
    return replace(result, boots_needed=needed)


def compare_metrics(
    boots: Sequence[BootSample], threshold_pct: float, alpha: float = 0.05
) -> tuple[MetricResult, ...]:
    """One MetricResult per metric any boot printed; Holm over those both sides printed."""
    observed = _observe(boots)
    paired = [obs for obs in observed if obs.a_values and obs.b_values]
    p_values = [mann_whitney_p(obs.a_values, obs.b_values) for obs in paired]
    family = _Family(len(paired), threshold_pct, alpha)
    compared = {
        obs.name: _compared_result(obs, p, p_holm, family)
        for obs, p, p_holm in zip(paired, p_values, holm(p_values), strict=True)
    }
    return tuple(compared.get(obs.name) or _missing_result(obs) for obs in observed)


def scenario_pages(scenario: str, info: Mapping[str, str]) -> int | None:
    """4 KiB pages a metadata scenario touched: `pages.SCENARIO=N` if printed, else its name.

    The name rule reads a size suffix of the first dotted part: anon_1g.held -> 1 GiB -> 262144.
    """
    base = scenario.split(".", 1)[0]
    for key in (f"pages.{scenario}", f"pages.{base}"):
        if key in info and info[key].strip().isdigit():
            return int(info[key])
    match = _SCENARIO_SIZE.search(base)
    if not match:
        return None
    return int(match.group(1)) * _SIZE_SUFFIX[match.group(2).lower()] // PAGE_BYTES


def _median_slab_bytes(boots: Iterable[BootSample], scenario: str, cache: str) -> float:
    """Median growth of a cache over the boots that ran the scenario; absent means 0 bytes."""
    per_boot = [
        sum(s.bytes for s in boot.slabs if s.scenario == scenario and s.cache == cache)
        for boot in boots
        if any(s.scenario == scenario for s in boot.slabs)
    ]
    return float(statistics.median(per_boot)) if per_boot else math.nan


def summarise_slabs(boots: Sequence[BootSample]) -> tuple[SlabResult, ...]:
    """Per scenario and cache, each side's median growth, with the scenario's page count."""
    info: dict[str, str] = {}
    for boot in boots:
        info = {**boot.info, **info}
    keys = dict.fromkeys((s.scenario, s.cache) for boot in boots for s in boot.slabs)
    side_a = [b for b in boots if b.side is Side.A]
    side_b = [b for b in boots if b.side is Side.B]
    return tuple(
        SlabResult(
            scenario=scenario,
            cache=cache,
            median_bytes_a=_median_slab_bytes(side_a, scenario, cache),
            median_bytes_b=_median_slab_bytes(side_b, scenario, cache),
            pages=scenario_pages(scenario, info),
        )
        for scenario, cache in keys
    )


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
        family_size=sum(r.verdict is not Verdict.MISSING for r in results),
        excluded=tuple(ExcludedBoot(b.side, b.index, b.reason) for b in boots if not b.ok),
    )
