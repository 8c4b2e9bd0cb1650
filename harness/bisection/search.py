"""The bisection search: a pure function of an oracle, with repeats for flaky failures.

Input: an oracle (candidate index -> one run's Outcome), the number of patches n (the
candidates are 0..n: 0 the good end, n the bad end) and a SearchSpec. Output: a
SearchResult: every step, the culprit or the candidates that remain, a lower bound of the
chance that the answer is right (`confidence`) and a Verdict. Writes nothing. Raises
NothingToBisect when the bad end never fails or the good end fails too (bad input),
InfraAborted when a run keeps failing for reasons of the machine (never counted as bad).

The rules:
- the bad end runs `end_runs` times; x of them fail the way we look for. The reproduction
  rate p is not taken as x / end_runs: its one-sided Clopper-Pearson lower bound p_lo at
  level gamma = (1 - min_confidence) / 2 is (one or two runs that failed say little);
- a candidate is bad after one matching failure (a candidate before the culprit never
  fails that way); it is good only after k = ceil(ln a / ln(1 - p_lo)) clean runs, at most
  MAX_RUNS_FOR_GOOD, so that a bad candidate passes them all with probability
  (1 - p)^k <= (1 - p_lo)^k <= a whenever p >= p_lo; a is the per-step error rate: --alpha,
  or less, so that the good steps a search can take share the other half of the budget;
- an outcome that repeats exactly (Outcome.exact: the build alone decides it, or the oracle
  decides a whole step itself, as perf mode does): p = 1 is known, one run decides;
- a run that fails differently makes the candidate a skip (git bisect run's 125);
- each step states an error bound: a good step (1 - p_lo)^runs, a bad one 0; an oracle that
  decides a whole step itself (perf mode: many boots and a test, bisection/perf.py) states
  its planned error rate. `confidence` = 1 - gamma (when p_lo was used) - the sum of the
  steps' bounds (Bonferroni): a lower bound of the chance that the culprit is right, if
  the failure is monotone in the candidates. CONFIRMED needs it >= min_confidence.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from scipy import stats as sps

# The most clean runs a good call may ask for: past it the step's error bound says how sure.
MAX_RUNS_FOR_GOOD = 50


class Kind(enum.Enum):
    BAD = "bad"  # failed the way the bisection is looking for
    GOOD = "good"
    SKIP = "skip"  # failed some other way: cannot say
    INFRA = "infra"  # the machine failed (QEMU did not start, no output at all)


@dataclass(frozen=True)
class Outcome:
    """One run of one candidate, as the predicate sees it."""

    kind: Kind
    signature: str = ""  # what failed ("build: mm/mmap.c: error: ..."); '' when clean
    seconds: float = 0.0
    error: float | None = None  # the step's planned error rate, when the oracle decides it
    detail: str = ""  # what the oracle measured (perf mode: n, medians, change, p)
    exact: bool = False  # a run repeats exactly (a build's failure; a perf step): p = 1


Oracle = Callable[[int], Outcome]


class Verdict(enum.Enum):
    CONFIRMED = "confirmed"
    UNRELIABLE = "unreliable"
    INCONCLUSIVE = "inconclusive"


class NothingToBisect(Exception):
    """The ends do not disagree: bad input, exit 2."""


class InfraAborted(Exception):
    """A run failed for reasons of the machine, again after the retries: exit 3."""


@dataclass(frozen=True)
class SearchSpec:
    end_runs: int = 5  # runs of the bad end, to estimate p
    alpha: float = 0.05  # accepted chance of calling a bad candidate good, per step (at most)
    min_confidence: float = 0.9  # the bound of the chance of a right answer, to confirm
    infra_retries: int = 2  # an infra failure is run again this many times, then aborts

    @property
    def gamma(self) -> float:
        """The share of the error budget spent on the bound of p."""
        return (1 - self.min_confidence) / 2


@dataclass
class Step:
    candidate: int
    kind: Kind  # the step's verdict: BAD, GOOD or SKIP
    runs: int
    failed: int
    signature: str
    error: float  # a bound of the chance that this step's call is wrong
    seconds: float
    role: str = ""  # "bad end", "good end", "" for a search step
    detail: str = ""
    stated: bool = False  # the oracle stated the error (perf mode), not the repeats
    exact: bool = False  # its outcome repeats exactly


@dataclass
class SearchResult:
    n: int
    p: float  # the bad end's share of matching failures
    p_low: float  # its Clopper-Pearson lower bound (1 when deterministic)
    runs_for_good: int
    steps: list[Step]
    remaining: list[int]  # candidates that may be the first bad one
    confidence: float  # a lower bound of the chance that the answer is right
    verdict: Verdict
    flags: list[str] = field(default_factory=list)  # why the result is unreliable

    @property
    def culprit(self) -> int | None:
        return self.remaining[0] if len(self.remaining) == 1 else None

    @property
    def builds(self) -> int:
        return len({s.candidate for s in self.steps})

    @property
    def total_runs(self) -> int:
        return sum(s.runs for s in self.steps)


def runs_for_good(p: float, alpha: float) -> int:
    """Clean runs after which a candidate that fails with rate p is called good: the fewest
    k with (1 - p)^k <= alpha, at most MAX_RUNS_FOR_GOOD."""
    if p >= 1.0:
        return 1
    if p <= 0.0:
        return MAX_RUNS_FOR_GOOD
    return min(MAX_RUNS_FOR_GOOD, max(1, math.ceil(math.log(alpha) / math.log(1.0 - p))))


def good_error(p: float, runs: int) -> float:
    """The chance that a candidate failing with rate p passes `runs` runs."""
    return (1.0 - p) ** runs


def p_lower_bound(failed: int, runs: int, gamma: float) -> float:
    """One-sided Clopper-Pearson lower bound of a rate seen `failed` times in `runs`: the
    true rate is below it with probability at most gamma."""
    if failed <= 0:
        return 0.0
    return float(sps.beta.ppf(gamma, failed, runs - failed + 1))


def max_steps(n: int) -> int:
    """The steps of a search over 0..n that can be wrong: one end, and the halvings."""
    return math.ceil(math.log2(n + 1)) + 1


def step_alpha(spec: SearchSpec, n: int) -> float:
    """The per-step error rate: --alpha, or less, so that the steps of a search together
    stay within the half of the budget (1 - min_confidence) that gamma does not take."""
    return min(spec.alpha, (1 - spec.min_confidence - spec.gamma) / max_steps(n))


def evaluate(oracle: Oracle, candidate: int, limit: int, spec: SearchSpec) -> Step:
    """Run `candidate` until a matching failure, a different one, or `limit` clean runs."""
    runs = failed = 0
    seconds = 0.0
    while runs < limit:
        outcome = _run_once(oracle, candidate, spec)
        runs += 1
        seconds += outcome.seconds
        if outcome.kind is not Kind.GOOD:
            failed += 1
            return _step(candidate, outcome, runs, failed, seconds)
    return _step(candidate, outcome, runs, 0, seconds)


def _step(candidate: int, outcome: Outcome, runs: int, failed: int, seconds: float) -> Step:
    """A step's record; its error is the oracle's when stated, else 0 (bad: a candidate
    before the culprit never fails that way; good: set by the caller, who knows p)."""
    signature = outcome.signature if outcome.kind is not Kind.GOOD else ""
    stated = outcome.error is not None
    error = outcome.error if outcome.error is not None else 0.0
    return Step(
        candidate, outcome.kind, runs, failed, signature, error, seconds, "", outcome.detail, stated
    )


def _good_step_error(step: Step, p_low: float) -> float:
    return step.error if step.stated else good_error(p_low, step.runs)


def _run_once(oracle: Oracle, candidate: int, spec: SearchSpec) -> Outcome:
    for _ in range(spec.infra_retries + 1):
        outcome = oracle(candidate)
        if outcome.kind is not Kind.INFRA:
            return outcome
    raise InfraAborted(
        f"candidate {candidate}: {outcome.signature or 'infrastructure failure'} "
        f"({spec.infra_retries + 1} tries); aborting the bisection"
    )


def measure_bad_end(oracle: Oracle, n: int, spec: SearchSpec) -> Step:
    """All `end_runs` runs of the bad end: how often does it fail the way we look for?"""
    outcomes = [_run_once(oracle, n, spec) for _ in range(spec.end_runs)]
    bad = [o for o in outcomes if o.kind is Kind.BAD]
    seconds = sum(o.seconds for o in outcomes)
    if not bad:
        clean = sum(1 for o in outcomes if o.kind is Kind.GOOD)
        others = {o.signature for o in outcomes if o.kind is Kind.SKIP}
        why = f"; it failed otherwise: {', '.join(sorted(others))}" if others else ""
        raise NothingToBisect(
            f"nothing to bisect: the bad end passed {clean}/{len(outcomes)} runs{why}"
        )
    step = _step(n, bad[0], len(outcomes), len(bad), seconds)
    step.role = "bad end"
    step.exact = all(o.exact for o in bad)
    return step


def check_good_end(oracle: Oracle, limit: int, p_low: float, spec: SearchSpec) -> Step:
    step = evaluate(oracle, 0, limit, spec)
    step.role = "good end"
    if step.kind is Kind.BAD:
        raise NothingToBisect(f"nothing to bisect: the good end fails too ({step.signature})")
    if step.kind is Kind.SKIP:
        raise NothingToBisect(f"the good end fails otherwise, cannot start: {step.signature}")
    step.error = _good_step_error(step, p_low)
    return step


def next_candidate(lo: int, hi: int, skipped: set[int]) -> int | None:
    """The untested candidate nearest the middle of (lo, hi), as git bisect picks one
    next to a skipped commit."""
    pool = [c for c in range(lo + 1, hi) if c not in skipped]
    if not pool:
        return None
    middle = (lo + hi) / 2
    return min(pool, key=lambda c: (abs(c - middle), c))


def search(
    oracle: Oracle, n: int, spec: SearchSpec, on_step: Callable[[Step], None] = lambda s: None
) -> SearchResult:
    """Both ends first, then halve (lo good, hi bad) until they are neighbours."""
    bad_end = measure_bad_end(oracle, n, spec)
    on_step(bad_end)
    p = bad_end.failed / bad_end.runs
    p_low = 1.0 if bad_end.exact else p_lower_bound(bad_end.failed, bad_end.runs, spec.gamma)
    limit = runs_for_good(p_low, step_alpha(spec, n))
    steps = [bad_end, check_good_end(oracle, limit, p_low, spec)]
    on_step(steps[-1])
    lo, hi, skipped = 0, n, set[int]()
    while (candidate := next_candidate(lo, hi, skipped)) is not None:
        step = evaluate(oracle, candidate, limit, spec)
        if step.kind is Kind.GOOD:
            step.error = _good_step_error(step, p_low)
            lo = candidate
        elif step.kind is Kind.BAD:
            hi = candidate
        else:
            skipped.add(candidate)
        steps.append(step)
        on_step(step)
    remaining = list(range(lo + 1, hi + 1))
    confidence = confidence_of(steps, spec, p_low)
    return SearchResult(
        n, p, p_low, limit, steps, remaining, confidence, verdict_of(remaining, confidence, spec)
    )


def confidence_of(steps: list[Step], spec: SearchSpec, p_low: float) -> float:
    """1 - the steps' error bounds - gamma when a good call leaned on p's bound."""
    leaned = p_low < 1 and any(s.kind is Kind.GOOD and not s.stated for s in steps)
    errors = sum(s.error for s in steps if s.kind is not Kind.SKIP)
    return max(0.0, 1.0 - errors - (spec.gamma if leaned else 0.0))


def verdict_of(remaining: list[int], confidence: float, spec: SearchSpec) -> Verdict:
    if len(remaining) != 1:
        return Verdict.INCONCLUSIVE
    # The budget is split so that the bound lands on min_confidence exactly: float's last bit.
    confirmed = confidence >= spec.min_confidence - 1e-12
    return Verdict.CONFIRMED if confirmed else Verdict.UNRELIABLE


def flag_unreliable(result: SearchResult, why: str) -> None:
    """A check after the search (identical vmlinux, the revert still fails) doubts it."""
    result.flags.append(why)
    if result.verdict is Verdict.CONFIRMED:
        result.verdict = Verdict.UNRELIABLE
