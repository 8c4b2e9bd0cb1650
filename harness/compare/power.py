"""Power of compare's own tests, by seeded simulation: the minimum detectable effect, the
boots a metric needs, and which metrics no plan of boots can measure.

Input: a metric's noise (CV in %), boots per side and its Family (Holm size, threshold,
alpha). Output: percentages and boot counts. No I/O, raises nothing.

The test simulated is the one stats.py runs for WORSE: the exact one-sided rank test of B
rescaled to the threshold's boundary (ranks.py), at Holm's first-step level alpha / 2m
(its p is doubled for the two directions). The first step is the
strictest, so the power stated is a lower bound of the power within the family.
Noise model: every boot is its side's median times exp(sigma * Z), Z standard normal,
sigma = sqrt(ln(1 + CV^2)) (log-normal: a CV is a relative spread). A rank test is
invariant under the log, so the simulation draws normal log values: an effect is then a
shift, and the shift each draw needs before the test rejects (a quantile of its pairwise
differences) gives the whole power curve from one set of draws.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from harness.compare import ranks
from harness.compare.model import Better

POWER = 0.8
# The power the MDE is computed for: a little above the stated POWER, so that the stated
# figure holds within the error of a simulation that checks it (tests/test_compare_power.py).
DESIGN_POWER = 0.84
SIM_DRAWS = 10_000
SIM_SEED = 20_250_602
# The most boots per side a plan may ask for: beyond it a metric is "not measurable with
# boots" (a compare boot costs minutes; 30 a side is already an hour or more).
PLAN_LIMIT = 30
MIN_BOOTS = 3
# A metric that PLAN_LIMIT boots could not see change by this many thresholds is noise.
UNMEASURABLE_TIMES = 3


@dataclass(frozen=True)
class Family:
    """What every metric of one Holm family shares."""

    size: int
    threshold_pct: float
    alpha: float


def sigma_of(cv_pct: float) -> float:
    """The log-normal sigma of a spread of `cv_pct` % (inf when the CV is)."""
    if not math.isfinite(cv_pct):
        return math.inf
    return math.sqrt(math.log1p((cv_pct / 100) ** 2))


@functools.lru_cache(maxsize=256)
def critical_shifts(n_a: int, n_b: int, level: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Per draw, in units of sigma: how far B must move down for "B lower" to reject at
    `level`, and how far up for "B higher". None when no outcome is significant."""
    u = ranks.critical_u(n_a, n_b, level)
    if u is None:
        return None
    rng = np.random.default_rng((SIM_SEED, n_a, n_b))
    down, up = [], []
    for _ in range(SIM_DRAWS // 1000):  # in chunks: a draw holds n_a * n_b differences
        diff = (rng.standard_normal((1000, 1, n_b)) - rng.standard_normal((1000, n_a, 1))).reshape(
            1000, -1
        )
        # "B lower" rejects when at most u pairs still have B above A: B must move down by
        # the (u+1)-th largest difference; "B higher" mirrors it.
        down.append(-np.partition(-diff, u, axis=1)[:, u])
        up.append(-np.partition(diff, u, axis=1)[:, u])
    return np.concatenate(down), np.concatenate(up)


def _worse_level(family: Family) -> float:
    return family.alpha / (2 * max(family.size, 1))


def mde_pct(cv_pct: float, n_a: int, n_b: int, family: Family, better: Better) -> float:
    """The true change (%, of A, in the worse direction) that compare calls WORSE with 80 %
    power at these boots; inf when the test cannot reject at all."""
    lower = better is Better.HIGHER  # worse: B below A (1 - t), "B lower" must reject
    sigmas = _sigmas_for_power(n_a, n_b, _worse_level(family), lower) if min(n_a, n_b) else None
    sigma = sigma_of(cv_pct)
    if sigmas is None or not math.isfinite(sigma):
        return math.inf
    t = family.threshold_pct / 100
    if lower:
        return (1 - (1 - t) * math.exp(-sigmas * sigma)) * 100
    return ((1 + t) * math.exp(sigmas * sigma) - 1) * 100


@functools.lru_cache(maxsize=1024)
def _sigmas_for_power(n_a: int, n_b: int, level: float, lower: bool) -> float | None:
    """The move (in sigmas) past the boundary that the one-sided test finds with the design
    power."""
    shifts = critical_shifts(n_a, n_b, level)
    return None if shifts is None else float(np.quantile(shifts[0 if lower else 1], DESIGN_POWER))


def boots_needed(cv_pct: float, family: Family, better: Better) -> int | None:
    """Fewest boots per side (up to PLAN_LIMIT) at which a change of twice the threshold is
    called WORSE with 80 % power. None: not measurable with boots."""
    target = 2 * family.threshold_pct
    if not mde_pct(cv_pct, PLAN_LIMIT, PLAN_LIMIT, family, better) <= target:
        return None
    lo, hi = MIN_BOOTS, PLAN_LIMIT  # enough at hi; the smallest n that is enough
    while lo < hi:
        mid = (lo + hi) // 2
        if mde_pct(cv_pct, mid, mid, family, better) <= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


def unmeasurable(cv_pct: float, family: Family, better: Better) -> bool:
    """The rule: a metric is unmeasurable when its boot-to-boot noise is such that even
    PLAN_LIMIT boots per side would miss a change of UNMEASURABLE_TIMES the threshold more
    than 20 % of the time."""
    limit = UNMEASURABLE_TIMES * family.threshold_pct
    return not mde_pct(cv_pct, PLAN_LIMIT, PLAN_LIMIT, family, better) <= limit
