"""The base side's kept boots: taken by a later comparison with the same key, never by
another; only good A boots are kept; under a wall clock nothing is."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
from test_compare_command import _boot, make_request

from harness.cases import Case
from harness.compare import baseline, command, stats, table
from harness.compare.boots import BootPlan, interleaved, load_jsonl
from harness.compare.model import BootSample, Side, Verdict
from harness.compare.request import ALPHA, Timing
from harness.compare.sides import BuiltSide, SideSpec
from harness.results.rundir import RunDir
from harness.suites.guest import BuiltSuite

PLAN = BootPlan(5, ("pf1",), Timing.ICOUNT, False, 3, 1, 2, "3G", 600, ())


def _side(tmp_path: Path, side: Side = Side.A, series: object = None) -> BuiltSide:
    out = tmp_path / "bench"
    (out / "bin").mkdir(parents=True, exist_ok=True)
    (out / "bin" / "faults").write_bytes(b"\x7fELF faults")
    (out / "run.sh").write_text("echo run\n")
    (out / "faults.o").write_bytes(b"an object naming its slot")
    config = tmp_path / "config"
    if not config.exists():
        config.write_text("CONFIG_MMU=y\n")
    spec = SideSpec(side, series, side.value, "-base")  # type: ignore[arg-type]
    return BuiltSide(
        spec, tmp_path / "bzImage", BuiltSuite("bench", out, ("pf1",)), "c" * 40, 0.0, config
    )


@pytest.fixture(autouse=True)
def _versions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(baseline.kvm, "qemu_version", lambda: "QEMU emulator version 7.2.15")
    monkeypatch.setattr(baseline, "_vng_version", lambda: "virtme-ng 1.33")


class _Boots:
    """boot_once's stand-in: figures drawn from one distribution for both sides (an A/A),
    or A's failing where asked."""

    def __init__(self, seed: int = 0, failing: frozenset[tuple[Side, int]] = frozenset()):
        self.rng = random.Random(seed)
        self.started: list[tuple[Side, int]] = []
        self.failing = failing

    def __call__(
        self, plan: BootPlan, side: BuiltSide, label: Side, index: int, rundir: Path, stop: object
    ) -> tuple[BootSample, Case]:
        self.started.append((label, index))
        sample = _boot(label, index, self.rng.gauss(1000.0, 10.0))
        if (label, index) in self.failing:
            sample = replace(sample, metrics={}, ok=False, reason="guest wedged")
        return replace(sample, console=f"{index:02d}-{label.value}.console.log"), Case("bench")


def _compare(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    boots: _Boots,
    plan: BootPlan = PLAN,
    fresh: bool = False,
) -> tuple[list[BootSample], RunDir]:
    monkeypatch.setattr(command, "boot_once", boots)
    monkeypatch.setattr(command.vm, "modules_ready", lambda kernel: True)
    run = RunDir.create(tmp_path / name, "compare", [])
    run.meta["qemu"] = {"A": "qemu", "B": "qemu"}
    side = _side(tmp_path)
    built = {Side.A: side, Side.B: replace(side, spec=SideSpec(Side.B, None, "B", "-s"))}
    kept = baseline.open_kept(tmp_path / "cache", plan, side, fresh)
    samples: list[BootSample] = []
    command._boot_all(plan, built, run, samples, 1, None, kept)
    return samples, run


def test_a_second_comparison_on_the_base_boots_only_its_b_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _Boots(1)
    samples, run = _compare(tmp_path, monkeypatch, "one", first)
    assert first.started == interleaved(5)  # nothing kept yet: ABAB
    assert "a_kept" not in run.meta
    second = _Boots(2)
    samples, run = _compare(tmp_path, monkeypatch, "two", second)
    assert second.started == [(Side.B, i) for i in range(5)]
    a = [s for s in samples if s.side is Side.A]
    assert [s.index for s in a] == list(range(5))
    [one] = (tmp_path / "one").iterdir()
    first_a = [s for s in load_jsonl(one / "boots.jsonl") if s.side is Side.A]
    assert [s.metrics for s in a] == [s.metrics for s in first_a]
    assert run.meta["a_kept"].startswith("A side: 5 boot(s) kept from earlier comparisons")
    recorded = load_jsonl(run.path / "boots.jsonl")
    # A0 with B0 fix the family; then the rest of the kept A, then B's boots
    order = [(Side.A, 0), (Side.B, 0), *((Side.A, i) for i in range(1, 5))]
    assert [(s.side, s.index) for s in recorded] == order + [(Side.B, i) for i in range(1, 5)]
    comparison = stats.analyse(samples, 5.0, meta={"a_kept": run.meta["a_kept"]})
    assert (comparison.n_a, comparison.n_b) == (5, 5)
    assert run.meta["a_kept"] in table.render_table(comparison)


def test_fewer_kept_than_planned_boots_the_rest_of_a_and_keeps_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _compare(tmp_path, monkeypatch, "one", _Boots(1), replace(PLAN, boots=3))
    boots = _Boots(2)
    samples, _ = _compare(tmp_path, monkeypatch, "two", boots)
    assert boots.started == [(Side.B, 0), (Side.B, 1), (Side.B, 2), *interleaved(5)[6:]]
    assert len(baseline.open_kept(tmp_path / "cache", PLAN, _side(tmp_path), False).samples) == 5


def test_a_failed_a_boot_is_not_kept_its_good_retry_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _compare(tmp_path, monkeypatch, "one", _Boots(1, frozenset({(Side.A, 2)})))
    kept = baseline.open_kept(tmp_path / "cache", PLAN, _side(tmp_path), False)
    assert kept is not None
    assert [s.index for s in kept.samples] == [0, 1, 3, 4, command.RETRY_INDEX + 2]
    assert all(s.console.endswith(".console.log") and "/" in s.console for s in kept.samples)


def test_a_line_cut_short_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _compare(tmp_path, monkeypatch, "one", _Boots(1))
    kept = baseline.open_kept(tmp_path / "cache", PLAN, _side(tmp_path), False)
    assert kept is not None
    with (kept.where / "boots.jsonl").open("a") as out:
        out.write('{"side": "A", "index": 9, "metr')
    again = baseline.open_kept(tmp_path / "cache", PLAN, _side(tmp_path), False)
    assert again is not None and len(again.samples) == 5


@pytest.mark.parametrize(
    "change",
    [
        {"plan": replace(PLAN, reps=5)},
        {"plan": replace(PLAN, cmdline=("gmem=on",))},
        {"plan": replace(PLAN, knobs=("BENCH_LOCK_SCENARIOS=anon4k",))},
        {"config": "CONFIG_MMU=y\nCONFIG_LOCK_STAT=y\n"},
        {"program": b"\x7fELF faults, rebuilt otherwise"},
        {"qemu": "QEMU emulator version 8.2.2"},
    ],
    ids=["reps", "cmdline", "knobs", "config", "benchmark", "qemu"],
)
def test_anything_that_decides_the_figures_is_another_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: dict[str, object]
) -> None:
    side = _side(tmp_path)
    before = baseline.open_kept(tmp_path / "cache", PLAN, side, False)
    plan = change.get("plan", PLAN)
    assert isinstance(plan, BootPlan)
    if "config" in change:
        (tmp_path / "config").write_text(str(change["config"]))
    if "program" in change:
        (tmp_path / "bench" / "bin" / "faults").write_bytes(change["program"])  # type: ignore[arg-type]
    if "qemu" in change:
        monkeypatch.setattr(baseline.kvm, "qemu_version", lambda: change["qemu"])
    after = baseline.open_kept(tmp_path / "cache", plan, side, False)
    assert before is not None and after is not None and before.where != after.where


def test_an_object_file_beside_the_programs_is_not_part_of_the_key(tmp_path: Path) -> None:
    side = _side(tmp_path)
    before = baseline.open_kept(tmp_path / "cache", PLAN, side, False)
    (tmp_path / "bench" / "faults.o").write_bytes(b"built in another slot")
    after = baseline.open_kept(tmp_path / "cache", PLAN, side, False)
    assert before is not None and after is not None and before.where == after.where


def test_nothing_is_kept_under_a_wall_clock_kvm_a_series_on_a_or_fresh_base(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    side = _side(tmp_path)
    assert baseline.open_kept(cache, replace(PLAN, timing=Timing.WALL), side, False) is None
    assert baseline.open_kept(cache, replace(PLAN, kvm=True), side, False) is None
    assert baseline.open_kept(cache, PLAN, side, True) is None
    series = make_request().series
    assert baseline.open_kept(cache, PLAN, _side(tmp_path, series=series), False) is None
    assert not cache.exists()


def test_kept_a_sides_hold_the_error_rate_at_the_threshold() -> None:
    """Seeded simulation: B truly 5 % below A, right at the threshold, so every WORSE is a
    false one. One set of kept A boots serves three comparisons in turn, against fresh B
    boots; over fresh draws of the kept set, WORSE comes out no more often than alpha and
    as often as with a fresh A side each time. (Verdicts that share one kept set are not
    independent of each other: --fresh-base gives an independent one.)"""
    rng = random.Random(7)

    def draw(side: Side, scale: float) -> list[BootSample]:
        return [_boot(side, i, rng.gauss(1000.0, 5.0) * scale) for i in range(5)]

    def worse(a: list[BootSample]) -> bool:
        verdict = stats.analyse(a + draw(Side.B, 0.95), 5.0).results[0].verdict
        assert verdict is not Verdict.UNMEASURABLE
        return verdict is Verdict.WORSE

    trials = 200
    kept = sum(worse(a) for a in (draw(Side.A, 1.0) for _ in range(trials)) for _ in range(3))
    fresh = sum(worse(draw(Side.A, 1.0)) for _ in range(3 * trials))
    kept_rate, fresh_rate = kept / (3 * trials), fresh / (3 * trials)
    assert kept_rate <= ALPHA and fresh_rate <= ALPHA, (kept_rate, fresh_rate)
    assert abs(kept_rate - fresh_rate) < 0.03, (kept_rate, fresh_rate)
