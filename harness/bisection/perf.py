"""Perf mode's decision (`--bad-when metric:NAME`): is a candidate worse than the good end
on one `harness compare` metric, with compare's own statistics?

Input: per-boot BootSamples of the good end (the pool, kept for the whole bisection) and of
one candidate, and a PerfSpec; for `measure`, two boot functions. Output: a Judgement
(compare's verdict for NAME, its MetricResult, the step's confidence) and, through
`outcome_of`, the search's Outcome. Pure apart from calling the boot functions; writes
nothing. Raises NothingToBisect when the bad end is not worse than the good end.

The test and the decision are compare's (compare/stats.py): Mann-Whitney U, two-sided,
exact, on the boots' values (the boot is the replicate: its value is the median of its
inner repetitions), a family of one metric (Holm over one is the raw p), and verdict_for:
WORSE when p < alpha and the change of medians is beyond the threshold in the bad
direction; SAME when the bootstrap 95 % CI of the change lies within ±threshold; BETTER
the mirror of WORSE; INCONCLUSIVE otherwise. WORSE is bad; SAME and BETTER are good; an
inconclusive step gets one more good-end boot and one more candidate boot, up to
max_boots candidate boots fixed up front, and then is a skip ("cannot say").

Why the boots go as they do: the good end's samples are a pool that every step compares
against (booted at the start, interleaved with the bad end's), and each step adds one
fresh good-end boot before its own, so the pool spans the whole bisection and a drift of
the host hits both sides. At 3 candidate boots against a pool of >= 5 the smallest exact
two-sided p is 2/C(8,3) = 0.036 < 0.05: 3 boots can decide; 3 against 3 (0.1) never can.

A step's confidence (the search multiplies them): a bad step 1 − p (its Mann-Whitney p);
a good step 1 − p_ni, where p_ni is the one-sided exact Mann-Whitney p of the
non-inferiority test "the candidate is worse than the good end by more than the
threshold" (the candidate's values scaled back by the threshold against the pool's).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from scipy import stats as sps

from harness.bisection.search import Kind, NothingToBisect, Outcome
from harness.compare import stats
from harness.compare.model import Better, BootSample, MetricResult, Side, Verdict

Boot = Callable[[], BootSample]


@dataclass(frozen=True)
class PerfSpec:
    metric: str  # a compare metric: bench.variant.quantity (pf1.thp_never.pages_per_s)
    threshold: float = 5.0  # percent of the good end's median
    alpha: float = 0.05
    boots: int = 3  # candidate boots per step, at least
    end_boots: int = 5  # boots of each end at the start
    max_boots: int = 8  # candidate boots per step at most (an end: max(end_boots, this))

    @property
    def bench(self) -> str:
        """The guest-tests/bench benchmark that prints the metric."""
        return self.metric.split(".", 1)[0]


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    result: MetricResult | None  # None: a side has no value of the metric
    confidence: float

    def describe(self, metric: str) -> str:
        r = self.result
        if r is None or r.verdict is Verdict.MISSING:
            return f"{metric}: not measured on both sides"
        return (
            f"{metric}: n={r.n_a}/{r.n_b}, median {r.median_a:.6g} -> {r.median_b:.6g} "
            f"{r.unit} ({r.change_pct:+.2f}%), p={r.p:.3g}, {self.verdict.value}"
        )


def _only(samples: Sequence[BootSample], metric: str, side: Side) -> list[BootSample]:
    """The boots that printed the metric, relabelled to a side, with that metric alone."""
    return [
        replace(s, side=side, metrics={metric: s.metrics[metric]})
        for s in samples
        if s.ok and metric in s.metrics
    ]


def judge(good: Sequence[BootSample], candidate: Sequence[BootSample], spec: PerfSpec) -> Judgement:
    """compare's verdict for the metric, the good end as A and the candidate as B."""
    boots = _only(good, spec.metric, Side.A) + _only(candidate, spec.metric, Side.B)
    found = [r for r in stats.compare_metrics(boots, spec.threshold, spec.alpha)]
    if not found or found[0].verdict is Verdict.MISSING:
        return Judgement(Verdict.MISSING, found[0] if found else None, 0.0)
    result = found[0]
    if result.verdict is Verdict.WORSE:
        return Judgement(result.verdict, result, 1.0 - result.p)
    if result.verdict in (Verdict.SAME, Verdict.BETTER):
        p_ni = non_inferiority_p(result.a_values, result.b_values, result.better, spec.threshold)
        return Judgement(result.verdict, result, 1.0 - p_ni)
    return Judgement(result.verdict, result, 0.0)


def non_inferiority_p(
    a: Sequence[float], b: Sequence[float], better: Better, threshold_pct: float
) -> float:
    """One-sided p of H0 "B is worse than A by more than the threshold" (exact MW when
    there are no ties): B scaled back by the threshold, tested against A."""
    if not a or not b:
        return 1.0
    if better is Better.HIGHER:  # worse: B < A (1 - t); no worse: B / (1 - t) above A
        shifted, alternative = [x / (1 - threshold_pct / 100) for x in b], "greater"
    else:  # worse: B > A (1 + t); no worse: B / (1 + t) below A
        shifted, alternative = [x / (1 + threshold_pct / 100) for x in b], "less"
    tied = len(set(shifted) | set(a)) < len(shifted) + len(a)
    method = "asymptotic" if tied else "exact"
    p = sps.mannwhitneyu(shifted, list(a), alternative=alternative, method=method).pvalue
    return 1.0 if math.isnan(p) else float(p)


@dataclass
class Measured:
    """One step's boots and what they say."""

    judgement: Judgement
    boots: list[BootSample] = field(default_factory=list)  # the candidate's
    good_added: int = 0  # good-end boots this step added to the pool
    failed: BootSample | None = None  # a candidate boot that did not run its benchmark


def measure(
    candidate: Boot, good: Boot, pool: list[BootSample], spec: PerfSpec, end: bool
) -> Measured:
    """Boot until the verdict is not inconclusive or the budget is spent. An end (the bad
    end at the start, the pool still empty) boots G C G C ... end_boots pairs; a step one
    good-end boot, then `boots` candidate boots; then (G, C) pairs up to the budget.
    The good-end boots go into `pool` (the caller's list) as they happen."""
    first = ["G", "C"] * spec.end_boots if end else ["G", *["C"] * spec.boots]
    budget = max(spec.end_boots, spec.max_boots) if end else spec.max_boots
    done = Measured(Judgement(Verdict.INCONCLUSIVE, None, 0.0))
    order = iter(first)
    while True:
        for which in order:
            if which == "G":
                pool.append(good())
                done.good_added += 1
                continue
            sample = candidate()
            done.boots.append(sample)
            if not sample.ok:
                done.failed = sample
                return done
        done.judgement = judge(pool, done.boots, spec)
        if done.judgement.verdict is not Verdict.INCONCLUSIVE or len(done.boots) >= budget:
            return done
        order = iter(["G", "C"])


def outcome_of(
    measured: Measured, spec: PerfSpec, end: bool, infra: Callable[[str], bool]
) -> Outcome:
    """The search's view of a step: WORSE bad, SAME/BETTER good, anything else a skip (a
    failed boot, a metric one side lacks, inconclusive at the budget). `infra` tells a
    boot the machine failed (retried by the search, never bad). The bad end must be worse."""
    j = measured.judgement
    detail = j.describe(spec.metric)
    if measured.failed is not None:
        reason = measured.failed.reason or "the benchmark did not run"
        kind = Kind.INFRA if infra(reason) else Kind.SKIP
        if end and kind is Kind.SKIP:
            raise NothingToBisect(f"the bad end's benchmark boot failed, cannot start: {reason}")
        return Outcome(kind, f"boot: {reason}", detail=detail)
    if end and j.verdict is not Verdict.WORSE:
        raise NothingToBisect(
            f"nothing to bisect: the bad end is not worse than the good end ({detail}; "
            f"threshold ±{spec.threshold:g}%, {len(measured.boots)} boots)"
        )
    if j.verdict is Verdict.WORSE:
        return Outcome(Kind.BAD, f"metric: {spec.metric} worse", stated=j.confidence, detail=detail)
    if j.verdict in (Verdict.SAME, Verdict.BETTER):
        return Outcome(Kind.GOOD, stated=j.confidence, detail=detail)
    what = "inconclusive" if j.verdict is Verdict.INCONCLUSIVE else "not measured"
    return Outcome(Kind.SKIP, f"metric: {spec.metric} {what}", stated=0.0, detail=detail)


def plan_text(spec: PerfSpec, steps: int) -> str:
    """The boots a perf bisection costs: what it needs, and at most (the budget)."""
    end_max = max(spec.end_boots, spec.max_boots)
    least = 2 * spec.end_boots + steps * (1 + spec.boots)
    most = 2 * end_max + steps * (1 + spec.boots + 2 * (spec.max_boots - spec.boots))
    return (
        f"perf mode on {spec.metric}: the ends {spec.end_boots} boots each, interleaved; "
        f"each step 1 good-end boot + {spec.boots} candidate boots, inconclusive ones a "
        f"(good, candidate) pair more up to {spec.max_boots}; {least}..{most} boots in "
        f"about {steps} steps; Mann-Whitney (exact, two-sided) + compare's verdict at "
        f"alpha {spec.alpha:g}, threshold ±{spec.threshold:g}%"
    )
