"""The pure search against simulated oracles: the culprit, the builds, the confidence."""

from __future__ import annotations

import math
import random

import pytest

from harness.bisection.search import (
    InfraAborted,
    Kind,
    NothingToBisect,
    Outcome,
    SearchSpec,
    Verdict,
    good_confidence,
    runs_for_good,
    search,
)

SIG = "build: mm/mmap.c: error: 'x' undeclared"


class Simulated:
    """Candidates >= culprit fail with rate p; `skips` fail differently; counts runs."""

    def __init__(
        self, culprit: int, p: float = 1.0, seed: int = 0, skips: frozenset[int] = frozenset()
    ):
        self.culprit, self.p, self.skips = culprit, p, skips
        self.rng = random.Random(seed)
        self.runs: dict[int, int] = {}
        self.infra: dict[int, int] = {}  # candidate -> infra failures still to give

    def __call__(self, candidate: int) -> Outcome:
        self.runs[candidate] = self.runs.get(candidate, 0) + 1
        if self.infra.get(candidate, 0) > 0:
            self.infra[candidate] -= 1
            return Outcome(Kind.INFRA, "QEMU/vng failed before the kernel ran")
        if candidate in self.skips:
            return Outcome(Kind.SKIP, "build: fs/other.c: error: unrelated")
        if candidate >= self.culprit and self.rng.random() < self.p:
            return Outcome(Kind.BAD, SIG)
        return Outcome(Kind.GOOD)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6, 7, 8, 13])
def test_deterministic_finds_every_culprit_in_both_ends_plus_log2_builds(n: int) -> None:
    for culprit in range(1, n + 1):
        oracle = Simulated(culprit)
        result = search(oracle, n, SearchSpec(end_runs=1))
        assert result.culprit == culprit
        assert result.builds <= 2 + math.ceil(math.log2(n + 1))
        assert result.builds == len(oracle.runs)
        assert result.verdict is Verdict.CONFIRMED and result.confidence == 1.0
        assert result.p == 1.0 and result.runs_for_good == 1


def test_deterministic_runs_each_candidate_once_after_the_ends() -> None:
    oracle = Simulated(4)
    result = search(oracle, 6, SearchSpec(end_runs=5))
    assert oracle.runs[6] == 5  # the bad end, to estimate p
    assert all(oracle.runs[c] == 1 for c in oracle.runs if c != 6)
    assert [s.role for s in result.steps[:2]] == ["bad end", "good end"]


def test_runs_for_good_is_the_fewest_runs_a_miss_survives_at_most_alpha() -> None:
    assert runs_for_good(0.5, 0.05) == 5  # 0.5^5 = 0.031 <= 0.05 < 0.5^4
    assert runs_for_good(0.3, 0.05) == 9  # 0.7^9 = 0.040 <= 0.05 < 0.7^8 = 0.058
    assert runs_for_good(1.0, 0.05) == 1
    assert (1 - 0.3) ** runs_for_good(0.3, 0.05) <= 0.05 < (1 - 0.3) ** 8


@pytest.mark.parametrize(("p", "seed"), [(0.5, 1), (0.5, 2), (0.3, 3), (0.3, 4), (0.3, 5)])
def test_flaky_finds_the_culprit_and_states_the_confidence(p: float, seed: int) -> None:
    oracle = Simulated(4, p=p, seed=seed)
    spec = SearchSpec(end_runs=10, alpha=0.05)
    result = search(oracle, 6, spec)
    estimated = result.steps[0].failed / result.steps[0].runs
    assert result.p == estimated
    k = runs_for_good(estimated, spec.alpha)
    assert result.runs_for_good == k
    goods = [s for s in result.steps if s.kind is Kind.GOOD]
    assert all(s.runs == k for s in goods)
    bads = [s for s in result.steps if s.kind is Kind.BAD and s.role != "bad end"]
    assert all(s.failed == 1 and s.runs <= k for s in bads)  # bad at the first failure
    expected = math.prod(good_confidence(estimated, s.runs) for s in goods)
    assert result.confidence == pytest.approx(expected)
    # Never too early: a candidate before the culprit cannot fail the way we look for.
    assert result.culprit is not None and result.culprit >= 4
    if estimated <= p:  # p not overestimated: every good step kept its α
        assert result.culprit == 4
    wanted = Verdict.CONFIRMED if expected >= spec.min_confidence else Verdict.UNRELIABLE
    assert result.verdict is wanted


def test_flaky_over_many_seeds_is_wrong_at_most_as_often_as_alpha_allows() -> None:
    """With per-step α = 0.05 and a handful of good steps, most bisections are right."""
    wrong = quiet = 0
    for seed in range(200):
        try:
            result = search(Simulated(3, p=0.5, seed=seed), 8, SearchSpec(end_runs=6))
        except NothingToBisect:  # the bad end passed all 6 runs: chance 1/64
            quiet += 1
            continue
        wrong += result.culprit != 3
    assert quiet <= 10
    assert wrong <= 200 * 0.05 * 3  # at most ~3 good steps, each wrong with chance <= α


def test_a_flaky_culprit_misjudged_good_is_still_named_with_low_confidence() -> None:
    """p estimated at 0.2 needs 14 clean runs; the overall confidence says how sure."""
    result = search(Simulated(2, p=0.2, seed=7), 4, SearchSpec(end_runs=10))
    assert result.runs_for_good == runs_for_good(result.p, 0.05)
    assert 0 < result.confidence <= 1


def test_the_bad_end_never_failing_is_nothing_to_bisect() -> None:
    with pytest.raises(NothingToBisect, match="the bad end passed 5/5 runs"):
        search(Simulated(99), 6, SearchSpec(end_runs=5))


def test_the_good_end_failing_too_is_nothing_to_bisect() -> None:
    with pytest.raises(NothingToBisect, match="good end fails too"):
        search(Simulated(0), 6, SearchSpec(end_runs=1))


def test_skip_heavy_skips_and_still_finds_the_culprit_when_it_can() -> None:
    oracle = Simulated(5, skips=frozenset({2, 3, 6, 7}))
    result = search(oracle, 8, SearchSpec(end_runs=1))
    assert result.culprit == 5
    # (4, 8): 6 is skipped, then 5 (the nearer of 5 and 7) is bad: 7 is never built
    assert [s.candidate for s in result.steps] == [8, 0, 4, 6, 5]


def test_skips_around_the_culprit_leave_it_inconclusive_with_the_remaining_candidates() -> None:
    oracle = Simulated(4, skips=frozenset({3, 4}))
    result = search(oracle, 6, SearchSpec(end_runs=1))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.culprit is None
    assert result.remaining == [3, 4, 5]  # 5 is bad, 2 good, 3 and 4 could not be tested


def test_an_infra_failure_is_retried_and_never_bad() -> None:
    oracle = Simulated(4)
    oracle.infra = {3: 2}
    result = search(oracle, 6, SearchSpec(end_runs=1, infra_retries=2))
    assert result.culprit == 4
    assert oracle.runs[3] == 3  # two infra failures, then the real run


def test_an_infra_failure_that_persists_aborts_the_bisection() -> None:
    oracle = Simulated(4)
    oracle.infra = {3: 10}
    with pytest.raises(InfraAborted, match="candidate 3: QEMU/vng failed"):
        search(oracle, 6, SearchSpec(end_runs=1, infra_retries=2))
    assert oracle.runs[3] == 3
