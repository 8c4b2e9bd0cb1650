"""Perf mode's decision (`--bad-when metric:NAME`): is a candidate worse than the good end
on one `harness compare` metric, beyond the threshold?

Input: per-boot BootSamples of the good end (the pool, kept for the whole bisection) and of
one candidate, and a PerfSpec; for `measure`, two boot functions. Output: a Judgement (the
verdict, the p that decided it and the level it was held to) and, through `outcome_of`, the
search's Outcome, which states the step's planned error rate. Pure apart from calling the
boot functions; writes nothing. Raises NothingToBisect when the bad end is not worse.

The tests are compare's exact one-sided rank tests against the threshold (compare/ranks.py;
the boot is the replicate, its value the median of its inner repetitions): the candidate
is WORSE when "its ratio to the good end is beyond 1 - t in the bad direction" rejects
(H0: within the threshold); it is not worse (good) when "its ratio is within 1 - t" rejects
(H0: worse beyond the threshold, the non-inferiority test); else inconclusive. Each call
is wrong with probability at most the level it is held to.

The plan is group-sequential with two looks fixed before a step boots, each held to
alpha / 2 (Bonferroni spending: the step's chance of a wrong call stays within alpha,
whatever the looks see): the first after `boots` candidate boots (`end_boots` for the
bad end; more when the pool is too small for `boots` to reach alpha / 2 at all), the
second after `max_boots`; between them, an inconclusive step adds (good end, candidate)
pairs without looking. Inconclusive at the second look is a skip ("cannot say").
Judging after every added pair with no correction called a true -4 % change at a 5 %
threshold bad 38 % of the time; tests/test_bisect_perf.py simulates this plan.

Why the boots go as they do: the good end's samples are a pool that every step compares
against (booted at the start, interleaved with the bad end's), and each step adds one
fresh good-end boot before its own, so the pool spans the whole bisection and a drift of
the host hits both sides.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from harness.bisection.search import Kind, NothingToBisect, Outcome
from harness.compare import ranks
from harness.compare.model import Better, BootSample, Verdict

Boot = Callable[[], BootSample]


@dataclass(frozen=True)
class PerfSpec:
    metric: str  # a compare metric: bench.variant.quantity (pf1.thp_never.pages_per_s)
    threshold: float = 5.0  # percent of the good end's median
    alpha: float = 0.05  # the step's planned error rate (the search's per-step share)
    boots: int = 3  # candidate boots per step at the first look
    end_boots: int = 5  # boots of each end at the start (the bad end's first look)
    max_boots: int = 8  # candidate boots per step at the second look (an end: max(end_boots, this))

    @property
    def bench(self) -> str:
        """The guest-tests/bench benchmark that prints the metric."""
        return self.metric.split(".", 1)[0]

    def looks(self, end: bool, pool: int = 0) -> list[int]:
        """The candidate boot counts at which a step is judged, fixed before its boots:
        the first no earlier than where a test against a pool of `pool` can reject."""
        first = self.end_boots if end else self.boots
        last = max(self.end_boots, self.max_boots) if end else self.max_boots
        while pool and first < last and ranks.min_p_one_sided(pool, first) >= self.level(end):
            first += 1
        return [first] if last <= first else [first, last]

    def level(self, end: bool) -> float:
        """Each look's level: the step's alpha spent equally over its (two) looks."""
        last = max(self.end_boots, self.max_boots) if end else self.max_boots
        return self.alpha / (1 if last <= (self.end_boots if end else self.boots) else 2)


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict  # WORSE, SAME (not worse), INCONCLUSIVE or MISSING
    p: float  # the deciding test's p (worse, or not worse); the smaller when neither decides
    level: float  # what p was held to
    unit: str = ""
    a: tuple[float, ...] = ()  # the good end's values
    b: tuple[float, ...] = ()  # the candidate's

    def describe(self, metric: str) -> str:
        if not self.a or not self.b:
            return f"{metric}: not measured on both sides"
        med_a, med_b = statistics.median(self.a), statistics.median(self.b)
        change = (med_b - med_a) / abs(med_a) * 100 if med_a else float("nan")
        said = {Verdict.SAME: "not worse"}.get(self.verdict, self.verdict.value)
        return (
            f"{metric}: n={len(self.a)}/{len(self.b)}, median {med_a:.6g} -> {med_b:.6g} "
            f"{self.unit} ({change:+.2f}%), {said} (p={self.p:.3g}, level {self.level:.3g})"
        )


def _values(samples: Sequence[BootSample], metric: str) -> tuple[float, ...]:
    return tuple(s.metrics[metric].value for s in samples if s.ok and metric in s.metrics)


def worse_p(
    a: Sequence[float], b: Sequence[float], better: Better, threshold_pct: float
) -> tuple[float, float]:
    """One-sided exact p of "B is worse than A beyond the threshold" and of "B is not"
    (non-inferiority): B rescaled to the threshold's boundary in the bad direction."""
    t = threshold_pct / 100
    if better is Better.HIGHER:  # worse: B below A (1 - t)
        return ranks.tails(a, ranks.scaled(a, b, 1 - t))
    lower, higher = ranks.tails(a, ranks.scaled(a, b, 1 + t))  # worse: above A (1 + t)
    return higher, lower


def judge(
    good: Sequence[BootSample], candidate: Sequence[BootSample], spec: PerfSpec, level: float
) -> Judgement:
    """The candidate against the good end's pool, both tests held to `level`."""
    a, b = _values(good, spec.metric), _values(candidate, spec.metric)
    if not a or not b:
        return Judgement(Verdict.MISSING, 1.0, level, a=a, b=b)
    first = next(s.metrics[spec.metric] for s in candidate if spec.metric in s.metrics)
    p_worse, p_fine = worse_p(a, b, first.better, spec.threshold)
    if p_worse < level:
        return Judgement(Verdict.WORSE, p_worse, level, first.unit, a, b)
    if p_fine < level:
        return Judgement(Verdict.SAME, p_fine, level, first.unit, a, b)
    return Judgement(Verdict.INCONCLUSIVE, min(p_worse, p_fine), level, first.unit, a, b)


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
    """Boot and judge at the planned looks only. An end (the bad end at the start, the pool
    still empty) boots G C G C ... end_boots pairs; a step one good-end boot, then `boots`
    candidate boots (more if the pool is too small for that many to decide); an
    inconclusive first look adds (G, C) pairs up to the last look.
    The good-end boots go into `pool` (the caller's list) as they happen."""
    looks, level = spec.looks(end, 0 if end else len(pool) + 1), spec.level(end)
    first = ["G", "C"] * spec.end_boots if end else ["G", *["C"] * looks[0]]
    done = Measured(Judgement(Verdict.INCONCLUSIVE, 1.0, level))
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
        if len(done.boots) in looks:
            done.judgement = judge(pool, done.boots, spec, level)
            if done.judgement.verdict is not Verdict.INCONCLUSIVE or len(done.boots) >= looks[-1]:
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
        return Outcome(kind, f"boot: {reason}", detail=detail, exact=True)
    if end and j.verdict is not Verdict.WORSE:
        raise NothingToBisect(
            f"nothing to bisect: the bad end is not worse than the good end ({detail}; "
            f"threshold ±{spec.threshold:g}%, {len(measured.boots)} boots)"
        )
    if j.verdict is Verdict.WORSE:
        sig = f"metric: {spec.metric} worse"
        return Outcome(Kind.BAD, sig, error=spec.alpha, detail=detail, exact=True)
    if j.verdict is Verdict.SAME:
        return Outcome(Kind.GOOD, error=spec.alpha, detail=detail, exact=True)
    what = "inconclusive" if j.verdict is Verdict.INCONCLUSIVE else "not measured"
    return Outcome(Kind.SKIP, f"metric: {spec.metric} {what}", detail=detail, exact=True)


def plan_text(spec: PerfSpec, steps: int) -> str:
    """The boots a perf bisection costs: what it needs, and at most (the budget)."""
    end_max = max(spec.end_boots, spec.max_boots)
    least = 2 * spec.end_boots + steps * (1 + spec.boots)
    most = 2 * end_max + steps * (1 + spec.boots + 2 * (spec.max_boots - spec.boots))
    looks = " and ".join(str(n) for n in spec.looks(False))
    return (
        f"perf mode on {spec.metric}: the ends {spec.end_boots} boots each, interleaved; "
        f"each step 1 good-end boot + {spec.boots} candidate boots, judged after {looks} "
        f"candidate boots (a (good, candidate) pair more at a time between them); "
        f"{least}..{most} boots in about {steps} steps; exact one-sided Mann-Whitney tests against "
        f"±{spec.threshold:g}%, each step wrong with probability ≤ {spec.alpha:.3g} "
        f"({spec.level(False):.3g} a look)"
    )
