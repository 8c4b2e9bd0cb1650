"""harness compare's orchestration on recorded data: request checks (bad input before
any build), the interleaved order, the guest script, the metric testcases and the
results.json form. No kernel: the boots are recorded BootSamples."""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from harness.boot import kvm
from harness.cases import Case, Status
from harness.compare import command, request, stats
from harness.compare.boots import BootPlan, guest_script, interleaved, load_jsonl
from harness.compare.model import Better, BootSample, Metric, Side, Verdict
from harness.compare.request import CompareRequest, Timing
from harness.compare.sides import BuiltSide, SideSpec
from harness.errors import UserError
from harness.intake import series as series_mod
from harness.progress import StageClock
from harness.results.rundir import RunDir
from harness.suites.guest import BuiltSuite

ROOT = Path(__file__).resolve().parent.parent
PLANTED = ROOT / "patches" / "fixtures" / "planted-slow"


def make_request(**changes: object) -> CompareRequest:
    base = CompareRequest(
        series=series_mod.load_one(PLANTED),
        against=None,
        aa=False,
        benches=(),
        boots=5,
        timing=None,
        threshold=5.0,
        reps=5,
        warmup=1,
        cpus=2,
        memory="3G",
        timeout=600,
        no_kvm=False,
        out=Path("/nonexistent/out"),
        cache=Path("/nonexistent/cache"),
        base="",
        tree=None,
        kconfig=(),
        jobs=2,
        argv=("compare", str(PLANTED)),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_too_few_boots_is_bad_input() -> None:
    with pytest.raises(UserError, match="need ≥ 3 boots per side"):
        request.validate(make_request(boots=2))


def test_unknown_benchmark_is_bad_input_naming_the_known_ones() -> None:
    with pytest.raises(UserError, match="unknown benchmark 'pf9'.*pf1"):
        request.validate(make_request(benches=("pf1", "pf9")))


def test_aa_with_against_is_refused() -> None:
    other = series_mod.load_one(ROOT / "patches" / "fixtures" / "planted-alloc")
    with pytest.raises(UserError, match="--aa"):
        request.validate(make_request(aa=True, against=other))


def test_threshold_must_be_a_percentage() -> None:
    with pytest.raises(UserError, match="threshold"):
        request.validate(make_request(threshold=0.0))


def test_a_good_request_passes_unchanged() -> None:
    good = make_request(benches=("pf1",))
    assert request.validate(good) is good


def test_boots_alternate_sides() -> None:
    assert interleaved(2) == [(Side.A, 0), (Side.B, 0), (Side.A, 1), (Side.B, 1)]


def test_guest_script_sets_the_knobs_and_runs_the_chosen_benchmarks(tmp_path: Path) -> None:
    plan = BootPlan(3, ("pf1", "fork"), Timing.ICOUNT, False, 7, 2, 2, "3G", 600, ("gmem=on",))
    bench = BuiltSuite("bench", tmp_path, ("pf1", "pf2", "fork"))
    side = BuiltSide(
        spec=SideSpec(Side.A, None, "base", "-base"),
        kernel=tmp_path / "bzImage",
        bench=bench,
        commit="0" * 40,
        seconds=0.0,
    )
    script = guest_script(plan, side)
    assert script.splitlines()[0] == "export BENCH_REPS=7 BENCH_WARMUP=2"
    assert "run.sh pf1 fork" in script and "pf2" not in script


def _boot(side: Side, index: int, value: float, ok: bool = True) -> BootSample:
    metric = Metric("pf1.thp_never.pages_per_s", "pages/s", Better.HIGHER, (value, value))
    return BootSample(side=side, index=index, metrics={metric.name: metric}, ok=ok)


def test_a_regression_fails_its_testcase_and_json_keeps_the_raw_boots() -> None:
    boots = [_boot(Side.A, i, 1000.0 + i) for i in range(8)]
    boots += [_boot(Side.B, i, 700.0 + i) for i in range(8)]
    comparison = stats.analyse(boots, 5.0)
    suite = command.metric_cases(comparison, 5.0)
    [case] = suite.children
    assert case.status is Status.FAIL and case.message.startswith("worse: -29.9")
    assert "n=8/8" in case.message
    data = command.comparison_json(comparison)
    [metric] = data["metrics"]
    assert metric["a"] == [1000.0 + i for i in range(8)] and metric["verdict"] == "worse"
    json.dumps(data, allow_nan=False)  # strict JSON: no NaN sneaks through


def test_a_metric_on_one_side_only_is_skipped_not_failed() -> None:
    only_b = Metric("peer_pf1.pages_per_s", "pages/s", Better.HIGHER, (5.0,))
    boots = [_boot(Side.A, i, 1000.0) for i in range(3)]
    boots += [replace(_boot(Side.B, i, 1000.0), metrics={only_b.name: only_b}) for i in range(3)]
    comparison = stats.analyse(boots, 5.0)
    suite = command.metric_cases(comparison, 5.0)
    statuses = {c.name: c.status for c in suite.children}
    assert statuses["peer_pf1.pages_per_s"] is Status.SKIP
    missing = [r for r in comparison.results if r.verdict is Verdict.MISSING]
    assert {r.name for r in missing} == {"peer_pf1.pages_per_s", "pf1.thp_never.pages_per_s"}


def test_nothing_measured_is_an_error_not_a_pass() -> None:
    suite = command.metric_cases(stats.analyse([], 5.0), 5.0)
    assert suite.status is Status.ERROR


def test_auto_boots_are_fixed_from_the_family_size() -> None:
    # Holm over m metrics needs m * min_p <= alpha for the smallest p to be significant.
    for m in (1, 10, 20, 40):
        n = stats.min_boots_for(m, request.ALPHA)
        assert m * stats.min_p_mann_whitney(n, n) <= request.ALPHA
        assert n == 3 or m * stats.min_p_mann_whitney(n - 1, n - 1) > request.ALPHA
    assert not math.isnan(stats.min_p_mann_whitney(5, 5))


RECORDED_AA = Path(__file__).parent / "fixtures" / "compare" / "recorded-aa-pf1.jsonl"


def test_recorded_boots_load_back_and_the_report_renders() -> None:
    """boots.jsonl of a real A/A run (base kernel booted as both sides, pf1 under icount,
    3 boots per side): it loads back, no verdict is better/worse, and both outputs render.
    3 against 3 cannot show "same" either (the smallest one-sided exact p is 1/20): each
    metric is inconclusive and says how many boots it needs."""
    from harness.compare import report_html, table

    boots = load_jsonl(RECORDED_AA)
    assert [(b.side, b.index) for b in boots] == interleaved(3)
    assert all(len(b.metrics["pf1.thp_never.pages_per_s"].samples) == 3 for b in boots)
    comparison = stats.analyse(boots, 5.0, meta={"series": "planted-slow", "side_b": "base (A/A)"})
    assert {r.verdict for r in comparison.results} == {Verdict.INCONCLUSIVE}
    text = table.render_table(comparison)
    assert "pf1.thp_never.pages_per_s" in text and "3/3" in text and "need 5 boots" in text
    page = report_html.render_html(comparison, boots)
    assert page.count("data:image/png;base64,") == 2 and "http" not in page.split("<body>")[1]


RECORDED_GMEM = Path(__file__).parent / "fixtures" / "compare" / "recorded-gmem-ab.jsonl"


def test_recorded_gmem_comparison_keeps_its_verdicts() -> None:
    """boots.jsonl of the real `harness compare patches/gmem-rfc-v1-6.12` (6 boots per side,
    icount): plain anonymous memory costs nothing beyond ±5 %, the peer-shared figures exist
    only on B, and the slab summary names gm_mapping at 48 bytes per 4 KiB page. The four
    slab/SUnreclaim figures of meta_anon vary by 100-1000 % from boot to boot (the probe took
    its baseline before the slabs settled): unmeasurable, out of the family of 19."""
    boots = load_jsonl(RECORDED_GMEM)
    comparison = stats.analyse(boots, 5.0)
    by_name = {r.name: r for r in comparison.results}
    assert comparison.family_size == 15 and (comparison.n_a, comparison.n_b) == (6, 6)
    assert by_name["meta_anon.held.slab_bytes"].verdict is Verdict.UNMEASURABLE
    assert not [r.name for r in comparison.results if r.verdict is Verdict.WORSE]
    assert by_name["pf1.thp_never.pages_per_s"].verdict is Verdict.SAME
    assert by_name["peer_meta.held.bytes_per_page"].verdict is Verdict.MISSING
    [gm_mapping] = [
        s for s in comparison.slabs if (s.scenario, s.cache) == ("peer_1g.held", "gm_mapping")
    ]
    assert gm_mapping.pages == 262144 and round(gm_mapping.median_bytes_b / gm_mapping.pages) == 48


def test_recorded_full_aa_gives_no_false_verdict() -> None:
    """The real A/A run (`harness compare patches/gmem-rfc-v1-6.12 --aa`: the base kernel as
    both sides, 6 boots each, icount): no metric better or worse, the fault paths same."""
    boots = load_jsonl(Path(__file__).parent / "fixtures" / "compare" / "recorded-aa-full.jsonl")
    comparison = stats.analyse(boots, 5.0)
    verdicts = {r.name: r.verdict for r in comparison.results}
    assert comparison.family_size == 15  # 19 less meta_anon's four unmeasurable figures
    assert not {Verdict.BETTER, Verdict.WORSE} & set(verdicts.values())
    assert verdicts["pf1.thp_never.pages_per_s"] is Verdict.SAME
    assert verdicts["fork.anon_256m.us_per_op"] is Verdict.SAME


class _FakeBoots:
    """boot_once's stand-in: each boot takes a moment; it counts how many ran at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.started: list[tuple[Side, int]] = []
        self.running_at_start: list[int] = []  # this boot included

    def __call__(
        self, plan: BootPlan, side: BuiltSide, label: Side, index: int, rundir: Path, stop: object
    ) -> tuple[BootSample, Case]:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.started.append((label, index))
            self.running_at_start.append(self.running)
        time.sleep(0.02 if label is Side.A else 0.004)  # B ends first: the order must hold
        with self.lock:
            self.running -= 1
        return _boot(label, index, 100.0 + index), Case(f"bench {label.value}{index}")


def _sides(tmp_path: Path, same_kernel: bool) -> dict[Side, BuiltSide]:
    bench = BuiltSuite("bench", tmp_path, ("pf1",))
    return {
        side: BuiltSide(
            spec=SideSpec(side, None, side.value, f"-{side.value}"),
            kernel=tmp_path / ("bzImage" if same_kernel else f"bzImage-{side.value}"),
            bench=bench,
            commit="0" * 40,
            seconds=0.0,
        )
        for side in (Side.A, Side.B)
    }


def _boot_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, timing: Timing, same_kernel: bool = False
) -> tuple[_FakeBoots, list[BootSample], RunDir]:
    fake = _FakeBoots()
    monkeypatch.setattr(command, "boot_once", fake)
    monkeypatch.setattr(command.vm, "modules_ready", lambda kernel: not same_kernel)
    monkeypatch.setattr(command.pool, "available_memory", lambda: 64 << 30)
    plan = BootPlan(0, ("pf1",), timing, False, 3, 1, 1, "3G", 600, ())
    run = RunDir.create(tmp_path / "out", "compare", [])
    run.meta["qemu"] = {"A": "qemu-a", "B": "qemu-b"}
    at_once = command._boots_at_once(make_request(jobs=2), plan)
    samples: list[BootSample] = []
    command._boot_all(plan, _sides(tmp_path, same_kernel), run, samples, at_once)
    return fake, samples, run


def test_under_icount_two_boots_run_at_once_and_are_recorded_in_abab_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, samples, run = _boot_all(tmp_path, monkeypatch, Timing.ICOUNT)
    boots = run.meta["boots_per_side"]
    assert fake.running_at_start[:2] == [1, 2]  # B0 began while A0 ran
    assert [(s.side, s.index) for s in samples] == interleaved(boots)
    recorded = load_jsonl(run.path / "boots.jsonl")
    assert [(s.side, s.index) for s in recorded] == interleaved(boots)
    assert all(s.qemu_cmdline == f"qemu-{s.side.value.lower()}" for s in recorded)


def test_under_a_wall_clock_boots_go_one_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, samples, run = _boot_all(tmp_path, monkeypatch, Timing.WALL)
    assert fake.most == 1 and len(samples) == 2 * run.meta["boots_per_side"]


def test_an_aa_run_whose_modules_vng_must_link_boots_its_first_pair_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, samples, run = _boot_all(tmp_path, monkeypatch, Timing.ICOUNT, same_kernel=True)
    assert fake.started[:2] == [(Side.A, 0), (Side.B, 0)]
    assert fake.running_at_start[:2] == [1, 1]  # B0 began after A0 ended
    assert fake.most == 2  # the later pairs: vng linked the modules in the first boot
    assert [(s.side, s.index) for s in samples] == interleaved(run.meta["boots_per_side"])


def test_a_failed_boot_is_retried_once_and_the_family_comes_from_the_boots_that_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A0 fails, its retry runs: the family is pf1's one metric (not 0, which left the run
    at 5 boots where nothing can be said). A2 fails twice: the table says 4 of 5 ran."""
    fake = _FakeBoots()
    failing = {(Side.A, 0), (Side.A, 2), (Side.A, command.RETRY_INDEX + 2)}

    def boot_once(*args: object) -> tuple[BootSample, Case]:
        sample, case = fake(*args)  # type: ignore[arg-type]
        if (sample.side, sample.index) in failing:
            sample = replace(sample, metrics={}, ok=False, reason="timeout after 600 s")
        return sample, case

    monkeypatch.setattr(command, "boot_once", boot_once)
    monkeypatch.setattr(command.vm, "modules_ready", lambda kernel: True)
    plan = BootPlan(0, ("pf1",), Timing.WALL, False, 3, 1, 1, "3G", 600, ())
    run = RunDir.create(tmp_path / "out", "compare", [])
    run.meta["qemu"] = {"A": "qemu-a", "B": "qemu-b"}
    samples: list[BootSample] = []
    command._boot_all(plan, _sides(tmp_path, False), run, samples, 1)
    retried = [(s.side, s.index) for s in samples if s.index >= command.RETRY_INDEX]
    assert retried == [(Side.A, command.RETRY_INDEX), (Side.A, command.RETRY_INDEX + 2)]
    assert run.meta["family_size"] == 1 and run.meta["boots_per_side"] == 5
    comparison = stats.analyse(samples, 5.0, meta={"boots_per_side": "5"})
    assert (comparison.n_a, comparison.n_b) == (4, 5)
    from harness.compare import table

    text = table.render_table(comparison)
    assert "only 4/5 of the 5 planned boots per side ran" in text
    assert "excluded: boot A2: timeout after 600 s" in text


def _kvm_fails_every_guest(
    monkeypatch: pytest.MonkeyPatch, why: str
) -> tuple[list[BootPlan], list[kvm.KvmVerdict]]:
    """boot_once's stand-in whose KVM boots all fail with `why`: the plans it was given,
    and the verdicts recorded."""
    fake = _FakeBoots()
    plans: list[BootPlan] = []
    recorded: list[kvm.KvmVerdict] = []

    def boot_once(plan: BootPlan, *args: object) -> tuple[BootSample, Case]:
        plans.append(plan)
        sample, case = fake(plan, *args)  # type: ignore[arg-type]
        return replace(sample, kvm_failed=why if plan.kvm else ""), case

    monkeypatch.setattr(command, "boot_once", boot_once)
    monkeypatch.setattr(command.vm, "modules_ready", lambda kernel: True)
    monkeypatch.setattr(command.pool, "available_memory", lambda: 64 << 30)
    monkeypatch.setattr(command.kvm, "record", lambda cache, found: recorded.append(found))
    return plans, recorded


def test_a_guest_kvm_fails_makes_every_boot_start_again_under_tcg_and_icount(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe's firmware ran under KVM, the first Linux guest did not (it was booted
    again under TCG, on a wall clock): the verdict is recorded and the boots start over
    under icount, none of the first plan's kept."""
    plans, recorded = _kvm_fails_every_guest(monkeypatch, "KVM internal error. Suberror: 1")
    monkeypatch.setattr(command.kvm, "verdict", lambda cache: kvm.KvmVerdict(True, "firmware"))
    run = RunDir.create(tmp_path / "out", "compare", [])
    command._measure(make_request(jobs=2), _sides(tmp_path, False), run, StageClock())
    assert [p.kvm for p in plans[:2]] == [True, True] and not any(p.kvm for p in plans[2:])
    assert all(p.timing is Timing.ICOUNT for p in plans[2:])
    assert recorded and not recorded[0].usable and "KVM internal error" in recorded[0].reason
    kept = load_jsonl(run.path / "boots.jsonl")
    assert kept and not any(s.kvm_failed for s in kept)
    assert run.meta["accel"] == "tcg" and run.meta["timing"] == Timing.ICOUNT.value


def test_a_serialization_pass_alone_starts_again_under_tcg_when_kvm_fails_a_guest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--serialization-only has no timing pass to find KVM failing first: its own first
    pair does, the verdict is recorded, and its boots start over under icount."""
    why = "the kernel printed nothing in 60 s under KVM"
    plans, recorded = _kvm_fails_every_guest(monkeypatch, why)
    request = make_request(jobs=2, serialization=True, serialization_only=True)
    run = RunDir.create(tmp_path / "out", "compare", [])
    pass_ = command.serial_boot_pass(run)
    samples: list[BootSample] = []

    def plan_for(use_kvm: bool) -> BootPlan:
        return command._serial_plan(request, command._plan(request, use_kvm))

    command._boot_pass(request, plan_for, True, _sides(tmp_path, False), run, samples, pass_)
    assert [p.kvm for p in plans[:2]] == [True, True] and not any(p.kvm for p in plans[2:])
    assert all(p.timing is Timing.ICOUNT and p.benches == ("locks",) for p in plans[2:])
    assert recorded and not recorded[0].usable and "printed nothing" in recorded[0].reason
    again = load_jsonl(pass_.jsonl)
    assert len(again) == 2 * run.meta["serial_boots_per_side"]
    assert not any(s.kvm_failed for s in again) and all(s.ok for s in samples)
