"""`harness compare`: what a series costs, base against patched, the boot as the unit.

Input: a CompareRequest. Output: RUN/ with results.json (per metric: raw per-boot values
of both sides, medians, change, CI, p, Holm p, verdict), junit.xml (one testcase per
metric; worse beyond the threshold fails), table.txt, report.html, boots.jsonl (every
boot's raw inner samples, host load, QEMU command line), reproduce.sh.
Exit: 0 nothing worse, 1 a regression or a kernel failure. Bad input raises UserError
before anything is built.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from .. import proc
from ..boot import kvm, pool, vm
from ..build import kconfig
from ..cases import Case, Status
from ..errors import interrupt_message
from ..progress import StageClock, note
from ..results.rundir import RunDir
from . import baseline, serial, stats
from .boots import BootPlan, append_jsonl, boot_once, interleaved, vm_spec
from .model import BootSample, Comparison, MetricResult, Side, Verdict
from .request import (
    ALPHA,
    DEFAULT_MIN_BOOTS,
    GUEST_CPUS,
    GUEST_MEMORY,
    SCENARIOS,
    CompareRequest,
    Timing,
    validate,
)
from .sides import (
    BuiltSide,
    SideFailed,
    SideSpec,
    Workspace,
    build_side,
    check_applies,
    open_workspace,
)
from .sides import side_specs as sides_of

SUITE = "compare"
# A failed boot is booted once more, numbered this plus its index (boots/100-A.console.log).
RETRY_INDEX = 100


def compare(request: CompareRequest) -> RunDir:
    validate(request)
    proc.require(proc.BOOT_TOOLS)  # a missing tool is exit 3 now, not a failed side later
    clock = StageClock()
    specs = sides_of(request)
    ws = open_workspace(request)
    try:
        with clock.stage("apply"):
            check_applies(ws, specs, ws.slot.worktree.parent)
        run = RunDir.create(request.out, f"compare-{request.series.name}", list(request.argv))
        run.meta.update(_request_meta(request, ws.tree.label))
        if request.serialization_only:
            _serial_pass(ws, specs, request, run, clock, [])
        else:
            built = _build_sides(ws, specs, request, run, clock)
            if built is not None:
                samples = _measure(request, built, run, clock)
                if request.serialization:
                    _serial_pass(ws, specs, request, run, clock, samples)
    finally:
        ws.slot.release()
    return run


def _build_sides(
    ws: Workspace,
    specs: list[SideSpec],
    request: CompareRequest,
    run: RunDir,
    clock: StageClock,
    pass_: BootPass | None = None,
) -> dict[Side, BuiltSide] | None:
    pass_ = pass_ or timing_pass(run)
    built: dict[Side, BuiltSide] = {}
    for spec in specs:
        name = f"{pass_.prefix}build {spec.side.value}"
        with clock.stage(name):
            try:
                side = build_side(ws, spec, request, pass_.dir / spec.side.value, note)
            except SideFailed as failed:
                failed.case.name = f"{pass_.prefix}{failed.case.name}"
                run.add(failed.case)  # a kernel that does not build is a result: exit 1
                return None
        built[spec.side] = side
        run.add(
            Case(
                name,
                Status.PASS,
                f"{spec.label} on base {side.commit[:12]}",
                seconds=side.seconds,
            )
        )
    if Side.B not in built:  # A/A: one kernel is both sides
        built[Side.B] = built[Side.A]
    return built


@dataclass(frozen=True)
class BootPass:
    """Where one pass of boots keeps its files, records and meta keys: the timing pass
    at the top of RUN/, the serialization pass in RUN/serial/."""

    dir: Path  # RUN/ or RUN/serial/: <side>/ (the kernel) and boots/ below it
    prefix: str  # of its meta keys and of its Case names

    @property
    def jsonl(self) -> Path:
        return self.dir / "boots.jsonl"

    def key(self, name: str) -> str:
        return f"{self.prefix.strip().replace(' ', '_')}_{name}" if self.prefix else name


def timing_pass(run: RunDir) -> BootPass:
    return BootPass(run.path, "")


def serial_boot_pass(run: RunDir) -> BootPass:
    where = run.path / "serial"
    where.mkdir(parents=True, exist_ok=True)
    return BootPass(where, "serial ")


class KvmFailedGuest(Exception):
    """The probe's firmware ran under KVM, but a Linux guest did not: the boots so far were
    booted again under TCG, on a wall clock the plan did not choose."""


def _plan(request: CompareRequest, use_kvm: bool) -> BootPlan:
    timing = request.timing or (Timing.WALL if use_kvm else Timing.ICOUNT)
    return BootPlan(
        boots=request.boots,
        benches=request.benches,
        timing=timing,
        kvm=use_kvm,
        reps=request.reps,
        warmup=request.warmup,
        cpus=request.cpus or GUEST_CPUS,
        memory=request.memory or GUEST_MEMORY,
        timeout=request.timeout,
        cmdline=request.series.config.cmdline,
    )


def _measure(
    request: CompareRequest, built: dict[Side, BuiltSide], run: RunDir, clock: StageClock
) -> list[BootSample]:
    use_kvm = kvm.verdict(request.cache).usable and not request.no_kvm
    samples: list[BootSample] = []
    try:
        with clock.stage("boots"):
            _boot_pass(request, partial(_plan, request), use_kvm, built, run, samples)
    except KeyboardInterrupt as err:  # Ctrl-C, SIGTERM, SIGHUP: what was measured is kept
        why = f"{interrupt_message(err)} after {len(samples)} boots"
        run.add(Case("interrupted", Status.ERROR, why))
        raise
    finally:
        with clock.stage("analysis"):
            run.meta["stage_seconds"] = clock.seconds
            # Until the serialization pass writes its verdicts, it has none: an error.
            pending = (
                _serial_failed(request, run, "the pass did not run")
                if request.serialization
                else None
            )
            _write_outputs(request, run, samples, pending)
    return samples


# Inner repetitions of the serialization pass: its figures count instructions and lock
# operations, and vary far less between windows than times do.
SERIAL_REPS = 3


def _serial_plan(request: CompareRequest, timing: BootPlan) -> BootPlan:
    """The timing pass's boots, with the locks program, and the kernel's own RCU stall
    timeout. Under icount about one two-vCPU lock-statistics boot in twenty stalls early
    in boot (udev's coldplug, or a 9p open()): the guest clock leaps by the whole stall
    timeout at once (21.47 s between two clocksource watchdog checks due every 0.5 s; 300 s
    under a 300 s timeout), vCPU 1 took no tick in that time, and the warning's backtrace
    NMI finds it at the entry of a call-function IPI. The warning ends the wait, whatever
    its timeout: a longer one only made each such boot 280 s longer. The warning fails
    the boot, which is booted once more."""
    scenarios = request.serial_scenarios or SCENARIOS
    return replace(
        timing,
        benches=(serial.BENCH,),
        reps=SERIAL_REPS,
        warmup=1,
        knobs=(f"BENCH_LOCK_SCENARIOS={' '.join(scenarios)}",),
    )


def _serial_pass(
    ws: Workspace,
    specs: list[SideSpec],
    request: CompareRequest,
    run: RunDir,
    clock: StageClock,
    timing_samples: list[BootSample],
) -> None:
    """The second kernel per side, with lock statistics, and its own boots and family.
    Its figures never enter the timing or metadata verdicts: lockdep changes struct
    sizes and moves every PTE lock into a slab cache."""
    pass_ = serial_boot_pass(run)
    fragment = kconfig.find_fragment(serial.FRAGMENT, None)
    lock_ws = replace(ws, fragments=[*ws.fragments, fragment])
    note(f"serialization pass: a second kernel per side with {fragment.name}")
    built = _build_sides(lock_ws, specs, request, run, clock, pass_)
    if built is None:
        failed = _serial_failed(request, run, "a kernel did not build")
        _write_outputs(request, run, timing_samples, failed)
        return
    samples: list[BootSample] = []
    # Under a wall clock the pass keeps its own clock: lock figures count what ran.
    if "accel" in run.meta:  # the timing pass's
        use_kvm = run.meta["accel"] == "kvm"
    else:
        use_kvm = kvm.verdict(request.cache).usable and not request.no_kvm

    def plan_for(use_kvm: bool) -> BootPlan:
        return _serial_plan(request, _plan(request, use_kvm))

    try:
        with clock.stage("serial boots"):
            _boot_pass(request, plan_for, use_kvm, built, run, samples, pass_)
    except KeyboardInterrupt as err:
        why = f"{interrupt_message(err)} after {len(samples)} serialization boots"
        run.add(Case("interrupted", Status.ERROR, why))
        raise
    finally:
        with clock.stage("serial analysis"):
            run.meta["stage_seconds"] = clock.seconds
            result = serial.analyse(
                samples,
                request.serial_threshold,
                request.threshold,
                ALPHA,
                meta=_str_meta(run.meta),
                invalid=_invalid(run, pass_),
            )
            _write_outputs(request, run, timing_samples, result)


def _invalid(run: RunDir, pass_: BootPass) -> list[str]:
    """Why boots of the pass have no lock figures: their failed benchmark cases."""
    return [
        f"{suite.name}: {leaf.name}: {leaf.message}"
        for suite in run.suites
        if suite.name.startswith(pass_.prefix + "bench")
        for leaf in suite.leaves()
        if leaf.status.is_bad
    ]


def _serial_failed(request: CompareRequest, run: RunDir, why: str) -> serial.SerialComparison:
    return serial.analyse(
        [],
        request.serial_threshold,
        request.threshold,
        ALPHA,
        meta=_str_meta(run.meta),
        invalid=[why],
    )


def _boot_pass(
    request: CompareRequest,
    plan_for: Callable[[bool], BootPlan],
    use_kvm: bool,
    built: dict[Side, BuiltSide],
    run: RunDir,
    samples: list[BootSample],
    pass_: BootPass | None = None,
) -> None:
    """A pass's boots. When KVM fails a Linux guest (the probe ran only firmware), the
    verdict is kept and every boot of the pass starts again under TCG, where icount is
    the clock: none of the first plan's figures are kept."""
    pass_ = pass_ or timing_pass(run)
    recorded = len(run.suites)
    try:
        _boot_plan(request, plan_for(use_kvm), built, run, samples, pass_)
    except KvmFailedGuest as err:
        kvm.record(request.cache, kvm.KvmVerdict(False, f"a boot failed: {err}"))
        note(f"KVM failed a guest ({err}): every boot again, under TCG")
        samples.clear()
        pass_.jsonl.unlink(missing_ok=True)
        del run.suites[recorded:]
        _boot_plan(request, plan_for(False), built, run, samples, pass_)


def _boot_plan(
    request: CompareRequest,
    plan: BootPlan,
    built: dict[Side, BuiltSide],
    run: RunDir,
    samples: list[BootSample],
    pass_: BootPass,
) -> None:
    if not pass_.prefix:
        run.meta.update(
            accel="kvm" if plan.kvm else "tcg",
            timing=plan.timing.value,
            timing_label=timing_label(plan.timing, plan.kvm),
        )
    run.meta[pass_.key("qemu")] = {
        s.value: qemu_command(plan, b, pass_.dir) for s, b in built.items()
    }
    at_once = _boots_at_once(request, plan)
    run.meta[pass_.key("boots_at_once")] = at_once
    if at_once > 1:
        note(f"up to {at_once} boots at once (--jobs): under icount, load does not move figures")
    kept = baseline.open_kept(request.cache, plan, built[Side.A], request.fresh_base)
    _boot_all(plan, built, run, samples, at_once, pass_, kept)


def _boots_at_once(request: CompareRequest, plan: BootPlan) -> int:
    """Boots side by side: only under icount, where a boot's figures count the guest's
    executed instructions, which the host's load does not change (it only stretches the
    wall time); under a wall clock, a second guest's load would be measured too."""
    if plan.timing is not Timing.ICOUNT or plan.kvm:  # icount counts TCG's instructions
        return 1
    return pool.at_once(request.jobs, 2, plan.memory)


def _boot_all(
    plan: BootPlan,
    built: dict[Side, BuiltSide],
    run: RunDir,
    samples: list[BootSample],
    at_once: int,
    pass_: BootPass | None = None,
    kept: baseline.Kept | None = None,
) -> None:
    """ABAB…, `at_once` boots side by side; each is recorded in that order as it ends.
    With `kept`, the A side's boots come from it as far as it goes (recorded first), and
    the A boots this run makes are added to it."""
    where = pass_ or timing_pass(run)
    have = list(kept.samples) if kept is not None else []

    def start(
        side: Side, i: int, k: int, total: str, stop: threading.Event | None
    ) -> tuple[BootSample, Case]:
        note(f"{where.prefix}boot {k}/{total}: side {side.value} #{i}")
        return boot_once(plan, built[side], side, i, where.dir, stop)

    def record(result: tuple[BootSample, Case]) -> None:
        sample, suite = result
        sample = replace(sample, qemu_cmdline=run.meta[where.key("qemu")][sample.side.value])
        samples.append(sample)
        append_jsonl(where.jsonl, sample)
        _record_boot(run, sample, suite, where.prefix)
        if kept is not None:
            kept.add(sample, where.dir)

    taken: list[BootSample] = []

    def take(upto: int) -> None:
        """Record the kept A boots up to index `upto`."""
        for i in range(len(taken), min(upto, len(have))):
            taken.append(replace(have[i], index=i))
            samples.append(taken[-1])
            append_jsonl(where.jsonl, taken[-1])
        if kept is not None and taken:
            run.meta[where.key("a_kept")] = kept.describe(len(taken))

    def boot(order: list[tuple[Side, int]], first: int, width: int, total: str) -> None:
        order = [(side, i) for side, i in order if side is Side.B or i >= len(have)]
        work = [partial(start, side, i, first + k + 1, total) for k, (side, i) in enumerate(order)]
        pool.run_in_order(work, width, lambda _, result: record(result))
        ended = samples[len(samples) - len(order) :]
        failed = [(s.side, RETRY_INDEX + s.index) for s in ended if not s.ok]
        if failed:  # once: a boot that fails twice is a result, the comparison says so
            note(f"{len(failed)} boot(s) failed: each is booted once more")
            work = [partial(start, side, i, 0, "retry") for side, i in failed]
            pool.run_in_order(work, width, lambda _, result: record(result))

    if have:
        note(f"{where.prefix}side A: up to {len(have)} boot(s) kept from earlier comparisons")
    take(1)
    # The first pair shows the family; n is fixed from it, not from results. It goes one
    # boot at a time when vng must first link a kernel's modules (A/A: one kernel twice).
    kernels = {b.kernel for b in built.values()}
    ready = len(kernels) == 2 and all(vm.modules_ready(k) for k in kernels)
    planned = str(2 * plan.boots - min(plan.boots, len(have))) if plan.boots else "?"
    boot(interleaved(1), 0, at_once if ready else 1, planned)
    failed_kvm = next((s.kvm_failed for s in samples if s.kvm_failed), "")
    if plan.kvm and failed_kvm:
        raise KvmFailedGuest(failed_kvm)
    boots = _fix_boots(plan, samples, run, where)
    take(boots)
    fresh = 2 * boots - len(taken)
    boot(interleaved(boots)[2:], 2 - len(taken[:1]), at_once, str(fresh))


def _first_ok(samples: list[BootSample], side: Side) -> BootSample | None:
    return next((s for s in samples if s.side is side and s.ok), None)


def _fix_boots(plan: BootPlan, samples: list[BootSample], run: RunDir, pass_: BootPass) -> int:
    """Boots per side, fixed from the size of the metric family before any comparison."""
    a, b = _first_ok(samples, Side.A), _first_ok(samples, Side.B)
    if a is None or b is None:
        note("warning: a side's first boot failed twice: the family of metrics is not known")
    family = len(set(a.metrics) & set(b.metrics)) if a and b else 0
    needed = stats.min_boots_for(family, ALPHA) if family else 0
    run.meta[pass_.key("family_size")] = family
    if plan.boots:  # the user's number stands; say when it cannot reach a verdict
        run.meta[pass_.key("boots_per_side")] = plan.boots
        if plan.boots < needed:
            note(
                f"warning: with {plan.boots} boots per side, Holm over {family} metrics can "
                f"never reach p<{ALPHA} (needs {needed}): no metric can be called worse or better"
            )
        return plan.boots
    boots = max(needed, DEFAULT_MIN_BOOTS)
    run.meta[pass_.key("boots_per_side")] = boots
    note(
        f"{pass_.prefix}{family} metrics on both sides: {boots} boots per side "
        f"(the fewest at which Holm over {family} can reach p<{ALPHA}: "
        f"min two-sided Mann-Whitney p {stats.min_p_mann_whitney(boots, boots):.2g})"
    )
    return boots


def _record_boot(run: RunDir, sample: BootSample, suite: Case, prefix: str = "") -> None:
    label = f"{sample.side.value}{sample.index}"
    if not sample.ok:
        run.add(
            Case(
                f"{prefix}boot {label}",
                Status.ERROR,
                sample.reason,
                properties={"console": sample.console},
            )
        )
    failed = [c for c in suite.children if c.status.is_bad]
    for case in failed:
        case.name = f"{case.name} ({prefix}boot {label})"
    if failed:
        run.add(Case(f"{prefix}bench {label}", children=failed))


def _write_outputs(
    request: CompareRequest,
    run: RunDir,
    samples: list[BootSample],
    serial_result: serial.SerialComparison | None = None,
) -> None:
    from . import report_html, table  # matplotlib: only once there is something to draw

    comparison = stats.analyse(samples, request.threshold, ALPHA, meta=_str_meta(run.meta))
    run.meta["compare"] = comparison_json(comparison)
    run.meta["boots"] = [_boot_summary(s) for s in samples]
    run.suites = [s for s in run.suites if s.name not in (SUITE, SERIAL_SUITE)]
    if request.serialization_only:
        run.meta["timing_pass"] = "not run (--serialization-only)"
    else:
        run.add(metric_cases(comparison, request.threshold))
    if serial_result is not None:
        run.meta["serialization"] = serial_json(serial_result, comparison)
        run.add(serial_cases(serial_result))
    text = table.render_table(comparison, serial_result, timed=not request.serialization_only)
    run.file("table.txt").write_text(text)
    run.file("report.html").write_text(report_html.render_html(comparison, samples, serial_result))
    print(text)


SERIAL_SUITE = "serialization"


def serial_cases(result: serial.SerialComparison) -> Case:
    """One testcase per lock metric: more serialized beyond the threshold fails. A pass
    whose figures are not valid is an error, never a pass: "same" would be a guess."""
    suite = metric_cases(result.comparison, result.comparison.threshold_pct)
    suite.name = SERIAL_SUITE
    for case, r in zip(suite.children, result.comparison.results, strict=True):
        if r.unit == serial.POINTS and r.verdict not in (Verdict.MISSING, Verdict.UNMEASURABLE):
            case.message = case.message.replace(
                f"threshold ±{result.comparison.threshold_pct:g}%",
                f"threshold ±{result.threshold_pp:g} pp",
            )
    if result.invalid:
        suite.own = Status.ERROR
        suite.message = "; ".join(result.invalid)
    elif not suite.children:
        suite.message = "no lock figure was measured on both sides"
    return suite


def serial_json(
    result: serial.SerialComparison, timing: Comparison | None = None
) -> dict[str, Any]:
    body = comparison_json(result.comparison)
    body.pop("slabs")
    return {
        **body,
        "threshold_pp": result.threshold_pp,
        "n_a": result.comparison.n_a,
        "n_b": result.comparison.n_b,
        "family_size": result.comparison.family_size,
        "invalid": list(result.invalid),
        "noise_floor_pp": _finite(serial.noise_floor_pp(result)),
        "amdahl": {
            scenario: {
                side: {
                    str(n): serial.amdahl(median, n)
                    for n in serial.AMDAHL_TASKS
                    if math.isfinite(median)
                }
                for side, median in (("A", r.median_a), ("B", r.median_b))
            }
            for scenario in result.scenarios
            if (r := result.result(scenario)) is not None
        },
        "culprits": [
            {
                "scenario": c.scenario,
                "side": c.side.value,
                "class": c.name,
                "serial_pct": c.serial_pct,
                "acq_per_op": c.acq_per_op,
                "shared_pct": c.shared_pct,
                "hold_ns_per_op": c.hold_ns_per_op,
            }
            for c in result.culprits
        ],
        "measured": _measured_json(timing),
    }


def _measured_json(timing: Comparison | None) -> dict[str, Any]:
    """The corroboration: s measured from parallel tasks (wall clock only), or why not."""
    found, why = serial.corroboration(timing) if timing else ([], "no timing pass")
    return {
        "why_not": why,
        "fits": [
            {
                "kind": m.kind,
                "tasks": m.tasks,
                "sigma_pct": {"A": _finite(m.sigma_pct[0]), "B": _finite(m.sigma_pct[1])},
                "kappa_pct": {"A": _finite(m.kappa_pct[0]), "B": _finite(m.kappa_pct[1])},
            }
            for m in found
        ],
    }


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def metric_cases(comparison: Comparison, threshold: float) -> Case:
    """One testcase per metric: worse beyond the threshold fails, the rest pass or skip."""
    suite = Case(SUITE)
    for r in comparison.results:
        status = {
            Verdict.WORSE: Status.FAIL,
            Verdict.MISSING: Status.SKIP,
            Verdict.UNMEASURABLE: Status.SKIP,
        }.get(r.verdict, Status.PASS)
        suite.children.append(
            Case(r.name, status, _case_message(r, threshold), properties={"unit": r.unit})
        )
    suite.own = Status.PASS if suite.children else Status.ERROR
    if not suite.children:
        suite.message = "no metric was measured on both sides"
    return suite


def _case_message(r: MetricResult, threshold: float) -> str:
    if r.verdict is Verdict.MISSING:
        return f"only on one side (n={r.n_a}/{r.n_b})"
    if r.verdict is Verdict.UNMEASURABLE:
        return f"{stats.advice(r, threshold)} (n={r.n_a}/{r.n_b})"
    return (
        f"{r.verdict.value}: {r.change_pct:+.2f}% "
        f"(95% CI {r.ci95_pct[0]:+.2f}..{r.ci95_pct[1]:+.2f}), "
        f"p={r.p:.3g}, p_holm={r.p_holm:.3g}, p_same={r.p_same:.3g}, n={r.n_a}/{r.n_b}, "
        f"threshold ±{threshold:g}%"
    )


def comparison_json(comparison: Comparison) -> dict[str, Any]:
    finite = _finite
    metrics = [
        {
            "name": r.name,
            "unit": r.unit,
            "better": r.better.value,
            "a": list(r.a_values),
            "b": list(r.b_values),
            "n_a": r.n_a,
            "n_b": r.n_b,
            "median_a": finite(r.median_a),
            "median_b": finite(r.median_b),
            "change_pct": finite(r.change_pct),
            "ci95": [finite(r.ci95_pct[0]), finite(r.ci95_pct[1])],
            "p": finite(r.p),
            "p_holm": finite(r.p_holm),
            "stdev_a": finite(r.stdev_a),
            "stdev_b": finite(r.stdev_b),
            "cv_a": finite(r.cv_a),
            "cv_b": finite(r.cv_b),
            "verdict": r.verdict.value,
            "boots_needed": r.boots_needed,
            "mde_pct": finite(r.mde_pct),
            "p_same": finite(r.p_same),
            "advice": stats.advice(r, comparison.threshold_pct),
        }
        for r in comparison.results
    ]
    slabs = [
        {
            "scenario": s.scenario,
            "cache": s.cache,
            "median_bytes_a": s.median_bytes_a,
            "median_bytes_b": s.median_bytes_b,
            "delta_bytes": s.delta_bytes,
            "pages": s.pages,
            "delta_bytes_per_page": s.delta_per_page,
        }
        for s in comparison.slabs
    ]
    return {"metrics": metrics, "slabs": slabs}


def _boot_summary(s: BootSample) -> dict[str, Any]:
    return {
        "side": s.side.value,
        "index": s.index,
        "ok": s.ok,
        "reason": s.reason,
        "seconds": round(s.seconds, 2),
        "load_before": s.load_before,
        "load_after": s.load_after,
        "console": s.console,
        "info": s.info,
    }


def qemu_command(plan: BootPlan, side: BuiltSide, rundir: Path) -> str:
    """The QEMU command line vng would run (vng --dry-run prints it)."""
    spec = vm_spec(plan, side, rundir / "boots" / "dry-run.console.log", "true")
    result = proc.run([*vm.vng_argv(spec), "--dry-run"], timeout=120)
    lines = [ln for ln in result.output.splitlines() if "qemu-system" in ln]
    return (
        lines[-1][lines[-1].index("/") :] if lines and "/" in lines[-1] else result.output[-2000:]
    )


def timing_label(timing: Timing, kvm: bool) -> str:
    if timing is Timing.ICOUNT:
        return "icount (TCG, guest time = executed instructions)"
    return "KVM wall clock" if kvm else "emulated (TCG wall clock)"


def _request_meta(request: CompareRequest, base_label: str) -> dict[str, Any]:
    return {
        "series": request.series.name,
        "side_a": "base" if request.against is None else request.against.name,
        "side_b": "base (A/A)" if request.aa else request.series.name,
        "aa": request.aa,
        "base": base_label,
        "boots_per_side": request.boots or "auto",
        "reps": request.reps,
        "warmup": request.warmup,
        "threshold_pct": request.threshold,
        "alpha": ALPHA,
        "benches": list(request.benches) or "all",
    }


def _str_meta(meta: dict[str, Any]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}


def exit_status(run: RunDir) -> int:
    return 1 if run.failed else 0
