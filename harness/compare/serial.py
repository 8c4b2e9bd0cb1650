"""The serialization pass of `harness compare`: "more serialized", measured, not guessed.

Input: the boots of a second kernel per side (the series' fragments plus lockstat.config:
CONFIG_LOCK_STAT and histogram triggers), each running guest-tests/bench's `locks`.
Output: a SerialComparison: per scenario and mode (threads in one mm, processes in
separate mms) the serial fraction s, in percent of the operation's time, its shared
acquisitions per operation, the Amdahl bound it implies, and the lock class that
contributes most. No I/O; raises nothing.

What s is: the part of one operation spent holding a lock instance that a second task,
doing the same operation on disjoint memory, also takes (the guest program decides which
instances are shared from a trace of both tasks, not from lock names). By Amdahl's law
N tasks go at most N / (1 + (N - 1) s) times as fast as one, and never beyond 1/s. On
one vCPU under icount this is measured without contention; cache-line bouncing and the
hand-off of a contended lock make the real effect at least this large.

Statistics, as for the timing pass: the boot is the replicate, n fixed up front, Holm over
this pass's own family. s is judged against a threshold in percentage points (a change
from 1 % to 2 % is not "100 % more serialized"); acquisitions per operation against the
percentage threshold of the timing pass. A scenario only one side ran (peer-shared
memory on a GMEM kernel) is reported, not judged.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from . import ranks, stats
from .model import BootSample, Comparison, ExcludedBoot, LockClass, MetricResult, Side, Verdict

FRAGMENT = "lockstat.config"
BENCH = "locks"  # guest-tests/bench's program and run.sh's name for this pass
MODES = ("threads", "procs")
AMDAHL_TASKS = (2, 8, 64)
SERIAL = "serial_pct"  # metric lock.SCEN.MODE.serial_pct, unit pp
POINTS = "pp"


def amdahl(serial_pct: float, tasks: int) -> float:
    """The most N tasks can gain over one when s of each operation is serial."""
    s = min(max(serial_pct / 100, 0.0), 1.0)
    return tasks / (1 + (tasks - 1) * s)


def threshold_p_points(a: Sequence[float], b: Sequence[float], points: float) -> stats.ThresholdP:
    """The exact rank tests of B shifted by ∓points against A: a threshold in the metric's
    own unit (percentage points), not in percent of A."""
    below, not_below = ranks.tails(a, [x + points for x in b])
    not_above, above = ranks.tails(a, [x - points for x in b])
    return stats.ThresholdP(below=below, above=above, within=max(not_below, not_above))


@dataclass(frozen=True)
class Culprit:
    """The lock class contributing most to s in one scenario, on one side (medians over
    the boots)."""

    scenario: str
    side: Side
    name: str
    serial_pct: float
    acq_per_op: float
    shared_pct: float
    hold_ns_per_op: float


@dataclass(frozen=True)
class SerialComparison:
    comparison: Comparison
    threshold_pp: float
    culprits: tuple[Culprit, ...]
    invalid: tuple[str, ...]  # why a boot's lock figures cannot be used

    def result(self, scenario: str) -> MetricResult | None:
        name = f"lock.{scenario}.{SERIAL}"
        return next((r for r in self.comparison.results if r.name == name), None)

    def culprit(self, scenario: str, side: Side) -> Culprit | None:
        return next((c for c in self.culprits if c.scenario == scenario and c.side is side), None)

    @property
    def scenarios(self) -> list[str]:
        """SCEN.MODE of every s any boot printed, in the order printed."""
        return [
            scenario_of(r.name) for r in self.comparison.results if r.name.endswith(f".{SERIAL}")
        ]


def scenario_of(metric: str) -> str:
    """SCEN.MODE of lock.SCEN.MODE.serial_pct."""
    return metric.removeprefix("lock.").removesuffix(f".{SERIAL}")


def _tests(obs: stats.Observed, threshold_pp: float, threshold_pct: float) -> stats.ThresholdP:
    if obs.unit == POINTS:
        return threshold_p_points(obs.a_values, obs.b_values, threshold_pp)
    return stats.threshold_p(obs.a_values, obs.b_values, threshold_pct)


def judge(
    boots: Sequence[BootSample], threshold_pp: float, threshold_pct: float, alpha: float
) -> tuple[MetricResult, ...]:
    """Every lock metric; Holm over those both sides printed (this pass's family)."""
    observed = stats.observe(boots)
    paired = [o for o in observed if o.a_values and o.b_values]
    tests = [_tests(o, threshold_pp, threshold_pct) for o in paired]
    beyond = stats.holm([t.beyond for t in tests])
    within = stats.holm([t.within for t in tests])
    results = {}
    for obs, t, p_holm, p_same in zip(paired, tests, beyond, within, strict=True):
        verdict = (
            Verdict.SAME if obs.constant else stats.decide(obs.better, t, p_holm, p_same, alpha)
        )
        results[obs.name] = replace(
            stats.base_result(obs, verdict), p=t.beyond, p_holm=p_holm, p_same=p_same
        )
    return tuple(results.get(o.name) or stats.base_result(o, Verdict.MISSING) for o in observed)


def culprits(boots: Sequence[BootSample]) -> tuple[Culprit, ...]:
    """Per scenario and side, the class with the largest median share of s."""
    by: dict[tuple[str, Side, str], list[LockClass]] = {}
    for boot in boots:
        for lock in boot.locks:
            by.setdefault((lock.scenario, boot.side, lock.name), []).append(lock)
    found: dict[tuple[str, Side], Culprit] = {}
    for (scenario, side, name), rows in by.items():
        metric = f"lock.{scenario}.{SERIAL}"
        n_side = sum(1 for b in boots if b.side is side and metric in b.metrics)
        # a class a boot did not list contributed nothing there: zeros, not gaps
        serial = [r.serial_pct for r in rows] + [0.0] * max(0, n_side - len(rows))
        candidate = Culprit(
            scenario,
            side,
            name,
            statistics.median(serial),
            statistics.median(r.acq_per_op for r in rows),
            statistics.median(r.shared_pct for r in rows),
            statistics.median(r.hold_ns_per_op for r in rows),
        )
        best = found.get((scenario, side))
        if candidate.serial_pct > 0 and (best is None or candidate.serial_pct > best.serial_pct):
            found[(scenario, side)] = candidate
    return tuple(found[k] for k in sorted(found, key=lambda k: (k[0], k[1].value)))


def analyse(
    boots: Sequence[BootSample],
    threshold_pp: float,
    threshold_pct: float,
    alpha: float = 0.05,
    meta: Mapping[str, str] | None = None,
    invalid: Sequence[str] = (),
) -> SerialComparison:
    usable = [b for b in boots if b.ok]
    results = judge(usable, threshold_pp, threshold_pct, alpha)
    comparison = Comparison(
        results=results,
        slabs=(),
        meta=dict(meta or {}),
        threshold_pct=threshold_pct,
        alpha=alpha,
        n_a=sum(b.side is Side.A for b in usable),
        n_b=sum(b.side is Side.B for b in usable),
        family_size=sum(r.verdict is not Verdict.MISSING for r in results),
        excluded=tuple(ExcludedBoot(b.side, b.index, b.reason) for b in boots if not b.ok),
    )
    return SerialComparison(comparison, threshold_pp, culprits(usable), tuple(invalid))


@dataclass(frozen=True)
class Span:
    """The boot-to-boot range of s of one scenario on one side, in points."""

    scenario: str
    side: Side
    points: float


def spans(serial: SerialComparison) -> list[Span]:
    """Every scenario's boot-to-boot range of s per side, the widest first."""
    found = [
        Span(scenario_of(r.name), side, max(values) - min(values))
        for r in serial.comparison.results
        if r.unit == POINTS
        for side, values in ((Side.A, r.a_values), (Side.B, r.b_values))
        if values
    ]
    return sorted(found, key=lambda s: -s.points)


def noise_floor_pp(serial: SerialComparison) -> float:
    """The widest boot-to-boot range of s on one side of one scenario, in points."""
    return max((s.points for s in spans(serial)), default=math.nan)


@dataclass(frozen=True)
class Measured:
    """s measured from real parallel tasks: the timing pass's scale_threads or scale_procs
    at 1..N tasks, fitted by the Universal Scalability Law. sigma is the contention term
    (Amdahl's s), kappa the coherence term (nan with fewer than 3 task counts)."""

    kind: str  # threads or procs
    tasks: int  # the most tasks measured
    sigma_pct: tuple[float, float]  # A, B
    kappa_pct: tuple[float, float]


def usl_fit(per_task: Mapping[int, float]) -> tuple[float, float]:
    """sigma and kappa, in percent, from per-task throughput at C tasks (C = 1 needed).
    USL: X(C) / (C X(1)) = 1 / (1 + sigma (C-1) + kappa C (C-1)); least squares on
    1/r - 1, linear in both. With one C beyond 1 only sigma (Amdahl's s) is defined."""
    base = per_task.get(1, math.nan)
    points = [(c, base / x - 1) for c, x in sorted(per_task.items()) if c > 1 and x > 0]
    if not points or not math.isfinite(base):
        return math.nan, math.nan
    if len(points) == 1:
        c, y = points[0]
        return 100 * y / (c - 1), math.nan
    # normal equations for y = sigma u + kappa v, u = C-1, v = C (C-1)
    suu = sum((c - 1) ** 2 for c, _ in points)
    svv = sum((c * (c - 1)) ** 2 for c, _ in points)
    suv = sum((c - 1) * c * (c - 1) for c, _ in points)
    suy = sum((c - 1) * y for c, y in points)
    svy = sum(c * (c - 1) * y for c, y in points)
    det = suu * svv - suv * suv
    return 100 * (suy * svv - svy * suv) / det, 100 * (svy * suu - suy * suv) / det


def corroboration(timing: Comparison) -> tuple[list[Measured], str]:
    """s measured from the timing pass's scaling benchmarks, or why there is none: under
    icount one vCPU runs at a time, so more tasks never run in parallel."""
    if timing.meta.get("timing") != "wall":
        return [], (
            "none under icount (one vCPU runs at a time, tasks never overlap); with KVM or "
            "--timing wall (MTTCG), --bench scale_threads --bench scale_procs measure s "
            "beside this model"
        )
    found = []
    for kind in MODES:
        sides: list[dict[int, float]] = [{}, {}]
        for r in timing.results:
            prefix, _, rest = r.name.partition(".t")
            count, _, what = rest.partition(".")
            if prefix == f"scale_{kind}" and what == "pages_per_s_per_task" and count.isdigit():
                sides[0][int(count)] = r.median_a
                sides[1][int(count)] = r.median_b
        if len(sides[0]) >= 2:
            fits = [usl_fit(s) for s in sides]
            found.append(
                Measured(
                    kind,
                    max(sides[0]),
                    (fits[0][0], fits[1][0]),
                    (fits[0][1], fits[1][1]),
                )
            )
    return found, "" if found else "add --bench scale_threads --bench scale_procs"
