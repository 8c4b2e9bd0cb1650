"""Exact one-sided Mann-Whitney p values, and B rescaled to a threshold's boundary.

Input: per-boot values of A and B. Output: p values (floats). No I/O, raises nothing.

The test statistic is the sum of B's midranks among all boots; its null distribution is
counted exactly over all C(n_a+n_b, n_b) relabellings, with the ties as they are
(metadata metrics repeat exact values), so there is no normal approximation at any n.
Without ties the distribution depends on (n_a, n_b) alone and is cached.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np


def doubled_midranks(values: Sequence[float]) -> tuple[int, ...]:
    """Midranks times two, so ties stay integers: a tie group at ranks i..j gets i + j."""
    _, where, counts = np.unique(
        np.asarray(values, dtype=float), return_inverse=True, return_counts=True
    )
    ends = np.cumsum(counts)
    return tuple((2 * ends - counts + 1)[where].tolist())


@functools.lru_cache(maxsize=1024)
def rank_sum_distribution(ranks: tuple[int, ...], n_b: int) -> np.ndarray:
    """P(the doubled ranks of n_b boots drawn from `ranks` sum to s), for every s."""
    # counts[k][s]: subsets of k ranks summing to s (float64: exact below 2**53, and
    # relatively exact beyond, which is all a p value needs).
    counts = np.zeros((n_b + 1, sum(ranks) + 1))
    counts[0][0] = 1.0
    for rank in ranks:
        counts[1:, rank:] += counts[:-1, : counts.shape[1] - rank].copy()
    distribution: np.ndarray = counts[n_b] / counts[n_b].sum()
    return distribution


def tails(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """One-sided exact p of "B tends lower than A" and of "B tends higher": P(S <= observed)
    and P(S >= observed) for S the doubled rank sum of B. (1, 1) with nothing to rank."""
    if not a or not b:
        return 1.0, 1.0
    ranks = doubled_midranks([*a, *b])
    # Without ties the ranks are 2, 4, ..., 2N whatever the values: one cached table.
    key = ranks if len(set(ranks)) < len(ranks) else tuple(range(2, 2 * len(ranks) + 1, 2))
    distribution = rank_sum_distribution(key, len(b))
    observed = sum(ranks[len(a) :])
    lower, higher = distribution[: observed + 1].sum(), distribution[observed:].sum()
    return min(1.0, float(lower)), min(1.0, float(higher))


def p_lower(a: Sequence[float], b: Sequence[float]) -> float:
    """One-sided exact p of "B tends to be lower than A"; 1.0 when there is nothing to rank."""
    return tails(a, b)[0]


def p_higher(a: Sequence[float], b: Sequence[float]) -> float:
    """One-sided exact p of "B tends to be higher than A"; 1.0 when there is nothing to rank."""
    return tails(a, b)[1]


def min_p_one_sided(n_a: int, n_b: int) -> float:
    """The smallest one-sided exact p: every B boot beyond every A boot."""
    distribution = rank_sum_distribution(tuple(range(2, 2 * (n_a + n_b) + 1, 2)), n_b)
    return float(distribution[n_b * (n_b + 1)])


def critical_u(n_a: int, n_b: int, level: float) -> int | None:
    """Largest count of (A, B) pairs with B above A at which "B lower" is still significant
    at `level` (no ties); None when no outcome is."""
    distribution = rank_sum_distribution(tuple(range(2, 2 * (n_a + n_b) + 1, 2)), n_b)
    lowest = n_b * (n_b + 1)  # doubled rank sum of B when every B is below every A
    cdf = np.cumsum(distribution[lowest::2])  # index u: P(U <= u), U the pairs with B above
    significant = np.flatnonzero(cdf <= level)
    return int(significant[-1]) if significant.size else None


def scaled(a: Sequence[float], b: Sequence[float], ratio: float) -> list[float]:
    """B moved to where it would be if B were A times `ratio`: B / ratio for values that are
    never negative (a change in % is a ratio: exact for a scale family), else B shifted by
    (ratio - 1) times |median of A| (a metric that crosses zero has no ratio)."""
    if min([*a, *b]) >= 0:
        return [x / ratio for x in b]
    shift = (ratio - 1) * abs(float(np.median(a)))
    return [x - shift for x in b]
