"""The bisection search: a pure function of an oracle, with repeats for flaky failures.

Input: an oracle (candidate index -> one run's Outcome), the number of patches n (the
candidates are 0..n: 0 the good end, n the bad end) and a SearchSpec. Output: a
SearchResult: every step, the culprit or the candidates that remain, the overall
confidence and a Verdict. Writes nothing. Raises NothingToBisect when the bad end never
fails or the good end fails too (bad input), InfraAborted when a run keeps failing for
reasons of the machine (never counted as bad).

The rules:
- the bad end runs `end_runs` times; the share of matching failures is the reproduction
  rate p;
- a candidate is bad after one matching failure; it is good only after
  k = ceil(ln α / ln(1 − p)) clean runs, so that a bad candidate passes all k runs with
  probability (1 − p)^k ≤ α; one run when p = 1;
- a run that fails differently makes the candidate a skip (git bisect run's 125);
- each good step's confidence is 1 − (1 − p)^k, a bad step's 1; the overall confidence
  is their product. An oracle that decides a whole step in one call (perf mode: many boots
  and a statistical test, bisection/perf.py) states the step's confidence itself.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass, field


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
    stated: float | None = None  # the step's confidence, when the oracle measured it
    detail: str = ""  # what the oracle measured (perf mode: n, medians, change, p)


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
    alpha: float = 0.05  # accepted chance of calling a bad candidate good, per step
    min_confidence: float = 0.9  # overall confidence below this: unreliable
    infra_retries: int = 2  # an infra failure is run again this many times, then aborts


@dataclass
class Step:
    candidate: int
    kind: Kind  # the step's verdict: BAD, GOOD or SKIP
    runs: int
    failed: int
    signature: str
    confidence: float
    seconds: float
    role: str = ""  # "bad end", "good end", "" for a search step
    detail: str = ""
    stated: float | None = None  # the oracle's own confidence (perf mode)


@dataclass
class SearchResult:
    n: int
    p: float
    runs_for_good: int
    steps: list[Step]
    remaining: list[int]  # candidates that may be the first bad one
    confidence: float
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
    """Clean runs after which a candidate that fails with rate p is called good."""
    if p >= 1.0:
        return 1
    return max(1, math.ceil(math.log(alpha) / math.log(1.0 - p)))


def good_confidence(p: float, runs: int) -> float:
    """The chance that a bad candidate would have failed at least once in `runs` runs."""
    return 1.0 - (1.0 - p) ** runs


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
            confidence = 1.0 if outcome.stated is None else outcome.stated
            return Step(
                candidate,
                outcome.kind,
                runs,
                failed,
                outcome.signature,
                confidence,
                seconds,
                detail=outcome.detail,
                stated=outcome.stated,
            )
    return Step(
        candidate,
        Kind.GOOD,
        runs,
        0,
        "",
        0.0,
        seconds,
        detail=outcome.detail,
        stated=outcome.stated,
    )


def _good_step_confidence(step: Step, p: float) -> float:
    return good_confidence(p, step.runs) if step.stated is None else step.stated


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
    confidence = 1.0 if bad[0].stated is None else bad[0].stated
    return Step(
        n,
        Kind.BAD,
        len(outcomes),
        len(bad),
        bad[0].signature,
        confidence,
        seconds,
        "bad end",
        bad[0].detail,
        bad[0].stated,
    )


def check_good_end(oracle: Oracle, limit: int, p: float, spec: SearchSpec) -> Step:
    step = evaluate(oracle, 0, limit, spec)
    step.role = "good end"
    if step.kind is Kind.BAD:
        raise NothingToBisect(f"nothing to bisect: the good end fails too ({step.signature})")
    if step.kind is Kind.SKIP:
        raise NothingToBisect(f"the good end fails otherwise, cannot start: {step.signature}")
    step.confidence = _good_step_confidence(step, p)
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
    limit = runs_for_good(p, spec.alpha)
    steps = [bad_end, check_good_end(oracle, limit, p, spec)]
    on_step(steps[-1])
    lo, hi, skipped = 0, n, set[int]()
    while (candidate := next_candidate(lo, hi, skipped)) is not None:
        step = evaluate(oracle, candidate, limit, spec)
        if step.kind is Kind.GOOD:
            step.confidence = _good_step_confidence(step, p)
            lo = candidate
        elif step.kind is Kind.BAD:
            hi = candidate
        else:
            skipped.add(candidate)
        steps.append(step)
        on_step(step)
    remaining = list(range(lo + 1, hi + 1))
    confidence = math.prod(s.confidence for s in steps if s.kind is not Kind.SKIP)
    return SearchResult(
        n, p, limit, steps, remaining, confidence, verdict_of(remaining, confidence, spec)
    )


def verdict_of(remaining: list[int], confidence: float, spec: SearchSpec) -> Verdict:
    if len(remaining) != 1:
        return Verdict.INCONCLUSIVE
    return Verdict.CONFIRMED if confidence >= spec.min_confidence else Verdict.UNRELIABLE


def flag_unreliable(result: SearchResult, why: str) -> None:
    """A check after the search (identical vmlinux, the revert still fails) doubts it."""
    result.flags.append(why)
    if result.verdict is Verdict.CONFIRMED:
        result.verdict = Verdict.UNRELIABLE
