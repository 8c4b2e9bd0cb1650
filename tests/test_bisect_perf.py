"""Perf mode's decision on recorded and synthetic boots: compare's verdict per step, the
boot schedule and its budget, the search on top, the bad input. No kernel."""

from __future__ import annotations

import argparse
import math
import random
from pathlib import Path

import pytest

from harness.bisection import perf, request
from harness.bisection.perf import PerfSpec
from harness.bisection.search import Kind, NothingToBisect, Outcome, SearchSpec, Verdict, search
from harness.compare.boots import load_jsonl
from harness.compare.model import Better, BootSample, Metric, Side
from harness.compare.model import Verdict as CompareVerdict
from harness.errors import UserError

NAME = "pf1.thp_never.pages_per_s"
RECORDED_AA = Path(__file__).parent / "fixtures" / "compare" / "recorded-aa-pf1.jsonl"
SPEC = PerfSpec(NAME)


def sample(value: float, side: Side = Side.B, index: int = 0, ok: bool = True) -> BootSample:
    metric = Metric(NAME, "pages/s", Better.HIGHER, (value, value, value))
    return BootSample(side, index, {NAME: metric} if ok else {}, ok=ok, reason="" if ok else "x")


class Kernel:
    """A kernel whose boots print NAME around `median` with a CV of `cv` (seeded)."""

    def __init__(self, median: float, cv: float = 0.003, seed: int = 0) -> None:
        self.median, self.cv = median, cv
        self.rng = random.Random(seed)
        self.boots = 0

    def __call__(self) -> BootSample:
        self.boots += 1
        return sample(self.rng.gauss(self.median, self.median * self.cv), index=self.boots)


def recorded() -> tuple[list[BootSample], list[BootSample]]:
    boots = load_jsonl(RECORDED_AA)
    return [b for b in boots if b.side is Side.A], [b for b in boots if b.side is Side.B]


def test_the_recorded_aa_boots_are_not_worse_and_a_planted_drop_is_worse() -> None:
    """The real A/A boots (the base kernel on both sides, pf1 under icount): 3 against 3
    cannot show "not worse" at level 0.025 (the smallest one-sided exact p is 1/20), nor
    worse; the B boots scaled to 79 % (the planted regression's -21 %) against a pool of the
    A boots and two more: worse, at the smallest one-sided p of 5 against 3, 1/C(8,3)."""
    good, same = recorded()
    level = SPEC.level(end=False)
    judged = perf.judge(good, same, SPEC, level)
    assert judged.verdict is CompareVerdict.INCONCLUSIVE
    assert judged.p == pytest.approx(1 / math.comb(6, 3))  # every B above A·0.95
    slow = [sample(b.metrics[NAME].value * 0.79) for b in same]
    extra = [sample(good[0].metrics[NAME].value * f, Side.A) for f in (1.001, 0.999)]
    pool = [*good, *extra]
    worse = perf.judge(pool, slow, SPEC, level)
    assert worse.verdict is CompareVerdict.WORSE
    assert worse.p == pytest.approx(1 / math.comb(8, 3))  # exact, one-sided
    assert worse.p < level
    assert "n=5/3" in worse.describe(NAME) and "-21." in worse.describe(NAME)


def test_three_against_three_can_never_be_worse() -> None:
    """Why the ends boot more: the smallest exact one-sided p of 3 vs 3 is 0.05."""
    pool = [sample(100.0 + i, Side.A) for i in range(3)]
    judged = perf.judge(pool, [sample(50.0)] * 3, SPEC, SPEC.level(end=False))
    assert judged.verdict is not CompareVerdict.WORSE


def test_the_worse_and_not_worse_tests_are_one_sided_in_the_metric_s_direction() -> None:
    a = [100.0, 101.0, 99.0, 100.5, 99.5]
    assert perf.worse_p(a, [100.2, 99.8, 100.1], Better.HIGHER, 5)[1] < 0.05
    assert perf.worse_p(a, [90.2, 89.8, 90.1], Better.HIGHER, 5)[0] < 0.05
    assert perf.worse_p(a, [100.2, 99.8, 100.1], Better.LOWER, 5)[1] < 0.05
    assert perf.worse_p(a, [110.2, 109.8, 110.1], Better.LOWER, 5)[0] < 0.05


def test_the_plan_has_two_looks_each_at_half_the_step_s_alpha() -> None:
    assert SPEC.looks(end=False) == [3, 8] and SPEC.looks(end=True) == [5, 8]
    assert SPEC.level(end=False) == SPEC.alpha / 2
    assert PerfSpec(NAME, max_boots=3).looks(end=False) == [3]
    # At 0.05 / 3 a step, 3 boots against a pool of 6 cannot decide (1/C(9,3) > 0.0083):
    # the first look is at 4.
    assert PerfSpec(NAME, alpha=0.05 / 3).looks(end=False, pool=6) == [4, 8]


def _step_bad_rate(change: float, sims: int, seed: int) -> float:
    """How often a step calls a candidate `change` away from the good end bad (CV 1 %)."""
    rng = random.Random(seed)
    bad = 0
    for _ in range(sims):
        good = Kernel(150000, cv=0.01, seed=rng.randrange(1 << 30))
        candidate = Kernel(150000 * (1 + change), cv=0.01, seed=rng.randrange(1 << 30))
        pool = [good() for _ in range(SPEC.end_boots)]
        done = perf.measure(candidate, good, pool, SPEC, end=False)
        bad += perf.outcome_of(done, SPEC, False, lambda r: False).kind is Kind.BAD
    return bad / sims


@pytest.mark.parametrize(("change", "seed"), [(-0.04, 20_250_605), (-0.05, 20_250_607)])
def test_a_change_inside_or_at_the_threshold_is_called_bad_at_most_alpha(
    change: float, seed: int
) -> None:
    """A true -4 % at a 5 % threshold, 1000 seeded steps: judging after every added pair
    with a test against zero called it bad 38 % of the time. At -5 % (the boundary) the
    rate is what the plan spends, at most alpha."""
    rate = _step_bad_rate(change, 1000, seed)
    assert rate <= SPEC.alpha + 0.014, rate  # 0.014: two standard errors at 1000


def test_a_change_well_beyond_the_threshold_is_called_bad() -> None:
    assert _step_bad_rate(-0.10, 200, 20_250_606) >= 0.9


def test_the_bad_end_boots_interleaved_with_the_good_end() -> None:
    order: list[str] = []
    good, bad = Kernel(150000, seed=1), Kernel(118000, seed=2)

    def boot(kernel: Kernel, tag: str) -> BootSample:
        order.append(tag)
        return kernel()

    pool: list[BootSample] = []
    done = perf.measure(lambda: boot(bad, "C"), lambda: boot(good, "G"), pool, SPEC, end=True)
    assert order == ["G", "C"] * SPEC.end_boots
    assert done.judgement.verdict is CompareVerdict.WORSE and len(pool) == 5
    assert done.judgement.p == pytest.approx(1 / math.comb(10, 5))
    outcome = perf.outcome_of(done, SPEC, end=True, infra=lambda r: False)
    assert outcome.kind is Kind.BAD and outcome.error == SPEC.alpha and outcome.exact


def test_a_step_boots_the_good_end_once_then_three_times_the_candidate() -> None:
    order: list[str] = []
    good, same = Kernel(150000, seed=3), Kernel(150000, seed=4)
    pool = [good() for _ in range(5)]

    def boot(kernel: Kernel, tag: str) -> BootSample:
        order.append(tag)
        return kernel()

    done = perf.measure(lambda: boot(same, "C"), lambda: boot(good, "G"), pool, SPEC, end=False)
    assert order == ["G", "C", "C", "C"] and len(pool) == 6
    assert done.judgement.verdict is CompareVerdict.SAME  # not worse
    assert done.judgement.p == pytest.approx(1 / math.comb(9, 3))
    outcome = perf.outcome_of(done, SPEC, end=False, infra=lambda r: False)
    assert outcome.kind is Kind.GOOD and outcome.error == SPEC.alpha


def test_an_inconclusive_step_gets_pairs_of_boots_up_to_the_budget_then_is_a_skip() -> None:
    """A change right at the threshold, in noise: the verdict stays open; the step stops at
    max_boots candidate boots (fixed up front) and says it cannot tell."""
    spec = PerfSpec(NAME, max_boots=6)
    good, edge = Kernel(150000, cv=0.03, seed=5), Kernel(150000 * 0.95, cv=0.03, seed=6)
    pool = [good() for _ in range(5)]
    done = perf.measure(edge, good, pool, spec, end=False)
    assert done.judgement.verdict is CompareVerdict.INCONCLUSIVE
    assert len(done.boots) == 6 and done.good_added == 1 + 3 and len(pool) == 9
    outcome = perf.outcome_of(done, spec, end=False, infra=lambda r: False)
    assert outcome.kind is Kind.SKIP and outcome.signature == f"metric: {NAME} inconclusive"


def test_a_bad_end_that_is_not_worse_is_nothing_to_bisect() -> None:
    good, same = Kernel(150000, seed=7), Kernel(150000, seed=8)
    done = perf.measure(same, good, [], SPEC, end=True)
    with pytest.raises(NothingToBisect, match="nothing to bisect: the bad end is not worse"):
        perf.outcome_of(done, SPEC, end=True, infra=lambda r: False)


def test_a_failed_candidate_boot_stops_the_step_as_a_skip_or_an_infra_failure() -> None:
    good = Kernel(150000, seed=9)
    pool = [good() for _ in range(5)]
    done = perf.measure(lambda: sample(0, ok=False), good, pool, SPEC, end=False)
    assert len(done.boots) == 1 and done.failed is not None
    assert perf.outcome_of(done, SPEC, False, lambda r: False).kind is Kind.SKIP
    assert perf.outcome_of(done, SPEC, False, lambda r: True).kind is Kind.INFRA


class PerfSim:
    """Candidates >= culprit are 21 % slower: perf.measure + outcome_of per call, as the
    real oracle does, on simulated kernels."""

    def __init__(self, culprit: int, n: int) -> None:
        self.n, self.good = n, Kernel(150000, seed=10)
        self.kernels = {
            k: Kernel(118000 if k >= culprit else 150000, seed=20 + k) for k in range(n + 1)
        }
        self.pool: list[BootSample] = []
        self.called: list[int] = []

    def __call__(self, k: int) -> Outcome:
        self.called.append(k)
        if k == 0:
            return Outcome(Kind.GOOD, error=0.0, exact=True)
        end = k == self.n
        done = perf.measure(self.kernels[k], self.good, self.pool, SPEC, end=end and not self.pool)
        return perf.outcome_of(done, SPEC, end, lambda r: False)


@pytest.mark.parametrize(("n", "culprit"), [(3, 2), (3, 1), (3, 3), (6, 4)])
def test_the_search_on_perf_steps_names_the_culprit_with_the_stated_error_rates(
    n: int, culprit: int
) -> None:
    oracle = PerfSim(culprit, n)
    result = search(oracle, n, SearchSpec(end_runs=1))
    assert result.culprit == culprit
    assert result.builds <= 2 + math.ceil(math.log2(n + 1))
    assert all(s.stated for s in result.steps)
    assert result.confidence == pytest.approx(1 - sum(s.error for s in result.steps))
    assert result.verdict is (Verdict.CONFIRMED if result.confidence >= 0.9 else Verdict.UNRELIABLE)
    bad_end = result.steps[0]
    assert bad_end.role == "bad end" and "n=5/5" in bad_end.detail


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    request.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_a_perf_request_fixes_its_budget_up_front() -> None:
    args = _args("s", "--bad-when", f"metric:{NAME}", "--max-boots", "6", "--threshold", "3")
    wanted = request.from_args(args, [], Path("/c"))
    assert wanted.perf == PerfSpec(NAME, 3.0, 0.05, 3, 5, 6)
    assert wanted.search.end_runs == 1  # a step is one oracle call


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("s", "--bad-when", "metric:pf9.a.b"), "no benchmark 'pf9'"),
        (("s", "--bad-when", "metric:pf1"), "bench.variant.quantity"),
        (("s", "--bad-when", f"metric:{NAME}", "--boots", "2"), "--boots >= 3"),
        (("s", "--bad-when", f"metric:{NAME}", "--end-boots", "3"), "--end-boots >= 4"),
        (("s", "--bad-when", f"metric:{NAME}", "--max-boots", "2"), "--max-boots >= --boots"),
        (("s", "--bad-when", f"metric:{NAME}", "--threshold", "0"), "--threshold"),
        (
            ("--tree", "t", "--good", "a", "--bad", "b", "--bad-when", f"metric:{NAME}"),
            "perf mode .* bisects a series",
        ),
    ],
)
def test_bad_perf_requests_are_refused_before_anything_runs(
    argv: tuple[str, ...], message: str
) -> None:
    with pytest.raises(UserError, match=message):
        request.from_args(_args(*argv), [], Path("/c"))


def test_a_resumed_perf_bisection_keeps_each_step_s_stated_confidence(tmp_path: Path) -> None:
    """bisect.json records what a perf step measured: replayed, the confidence is the same."""
    from harness.bisection import state

    first = state.new_state(["bisect", "s"], "series", f"metric:{NAME}")
    live = search(state.Recorder(PerfSim(2, 3), tmp_path, first), 3, SearchSpec(end_runs=1))
    replaying = state.Recorder(lambda k: Outcome(Kind.INFRA), tmp_path, state.load(tmp_path))
    replayed = search(replaying, 3, SearchSpec(end_runs=1))
    assert replaying.replayed == len(live.steps)
    assert replayed.confidence == live.confidence < 1.0
    assert [s.detail for s in replayed.steps] == [s.detail for s in live.steps]


def test_the_perf_bisection_end_to_end_with_compare_s_sides_and_boots_simulated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """command.bisect on the bisect-perf fixture, compare's build_side and boot_once
    replaced by kernels whose pf1 drops 21 % from 2/3 on: the culprit, 4 builds, the pool
    in RUN/steps/k0/boots.jsonl, the summary's method and every step's measurement."""
    from harness import proc
    from harness.bisection import command, perf_oracle
    from harness.compare import sides
    from harness.suites.guest import BuiltSuite

    fixture = Path(__file__).parent.parent / "patches" / "fixtures" / "bisect-perf"
    built: list[int] = []
    rng = random.Random(1)

    class Slot:
        def build_dir(self, key: str) -> Path:
            return tmp_path / "build"

        def release(self) -> None:
            pass

    def build_side(ws: object, spec: sides.SideSpec, *_: object) -> sides.BuiltSide:
        k = len(spec.series.patches) if spec.series is not None else 0
        built.append(k)
        return sides.BuiltSide(spec, Path(f"/k{k}"), BuiltSuite("bench", tmp_path, ()), "c", 1.0)

    def boot_once(plan: object, side: sides.BuiltSide, label: Side, index: int, where: Path):
        slow = int(str(side.kernel)[2:]) >= 2
        value = rng.gauss(118000 if slow else 150000, 300)
        return sample(value, label, index), None

    monkeypatch.setattr(proc, "require", lambda tools: None)
    monkeypatch.setattr(sides, "open_workspace", lambda r: sides.Workspace(None, Slot(), []))  # type: ignore[arg-type]
    monkeypatch.setattr(sides, "build_side", build_side)
    applied: list[str] = []
    monkeypatch.setattr(sides, "check_applies", lambda ws, specs, d: applied.append(specs[0].label))
    monkeypatch.setattr(perf_oracle.compare_boots, "boot_once", boot_once)
    monkeypatch.setattr(perf_oracle.kvm, "verdict", lambda cache: argparse.Namespace(usable=False))
    argv = ["bisect", str(fixture), "--bad-when", f"metric:{NAME}", "--out", str(tmp_path)]
    args = _args(*argv[1:])
    rc = command.bisect(request.from_args(args, argv, tmp_path / "cache"))
    (run_dir,) = tmp_path.glob("bisect-*")
    summary = (run_dir / "summary.md").read_text()
    assert rc == 0 and "first bad patch: 2/3 mm: planted regression" in summary
    assert built == [3, 0, 1, 2]  # the bad end, the good end, then the halving
    assert applied == ["fixture-bisect-perf"]  # the whole series, once, before a build
    # Each of the 3 steps that can be wrong may be so with 0.05 / 3; a look gets half of it,
    # 0.0083, which 3 candidate boots against a pool of 6 cannot reach (1/C(9,3) = 0.012):
    # each step looks first at 4 boots.
    assert "exact one-sided Mann-Whitney test against the threshold" in summary
    assert "20 boots (7 of the good end" in summary and "probability ≥ 0.950" in summary
    assert len((run_dir / "steps" / "k0" / "boots.jsonl").read_text().splitlines()) == 7
    assert "n=6/4" in summary and "n=7/4" in summary and "worse" in summary
    assert "harness compare " in (run_dir / "reproduce.sh").read_text()
    assert "--bench pf1" in (run_dir / "reproduce.sh").read_text()
