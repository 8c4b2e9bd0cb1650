"""The boots of a comparison: A and B interleaved, each boot one replicate.

Input: the built sides and a BootPlan. Output: one BootSample per boot, appended to
RUN/boots.jsonl the moment the boot ends (Ctrl-C keeps what was measured), plus the
benchmarks' KTAP verdicts as Cases. Files: RUN/boots/NN-SIDE.{sh,console.log,out}.
"""

from __future__ import annotations

import json
import os
import shlex
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..boot import vm
from ..boot.console_cases import incident_cases
from ..cases import Case, Status
from ..suites import guest
from .metrics import parse_boot_output
from .model import Better, BootSample, LockClass, Metric, Side, SlabDelta
from .request import BENCH_CMDLINE, BENCH_SUITE, Timing
from .sides import BuiltSide

# QEMU's instruction counter: 2^0 ns per instruction, so the guest clock is the count
# of executed instructions. sleep stays on: with sleep=off the guest does not power off.
ICOUNT_OPTS = ("-icount", "shift=0")


@dataclass(frozen=True)
class BootPlan:
    boots: int  # per side
    benches: tuple[str, ...]
    timing: Timing
    kvm: bool
    reps: int
    warmup: int
    cpus: int
    memory: str
    timeout: int
    cmdline: tuple[str, ...]  # the series' own (gmem=on) before ours
    knobs: tuple[str, ...] = ()  # more VAR=value for run.sh (the serialization pass's)


def interleaved(boots: int) -> list[tuple[Side, int]]:
    """ABAB…: a drift of the host over the run hits both sides alike."""
    return [(side, i) for i in range(boots) for side in (Side.A, Side.B)]


def vm_spec(plan: BootPlan, side: BuiltSide, console: Path, command: str) -> vm.VmSpec:
    return vm.VmSpec(
        kernel=side.kernel,
        command=command,
        console_log=console,
        guest_log=console.with_suffix(".out"),
        cpus=plan.cpus,
        memory=plan.memory,
        append=(*plan.cmdline, *BENCH_CMDLINE),
        kvm=plan.kvm,
        timeout=plan.timeout,
        qemu_opts=ICOUNT_OPTS if plan.timing is Timing.ICOUNT else (),
    )


def guest_script(plan: BootPlan, side: BuiltSide) -> str:
    benches = plan.benches or side.bench.workloads
    knobs = shlex.join(
        ["export", f"BENCH_REPS={plan.reps}", f"BENCH_WARMUP={plan.warmup}", *plan.knobs]
    )
    return knobs + "\n" + guest.guest_command([(side.bench, tuple(benches))]) + "\n"


def boot_once(
    plan: BootPlan,
    side: BuiltSide,
    label: Side,
    index: int,
    rundir: Path,
    stop: threading.Event | None = None,
) -> tuple[BootSample, Case]:
    """One boot: the benchmarks' figures, and their KTAP verdicts as a suite Case.
    `stop`: set by the main thread when boots run side by side and the run stops."""
    stem = rundir / "boots" / f"{index:02d}-{label.value}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    script = stem.with_suffix(".sh")
    script.write_text(guest_script(plan, side))
    spec = vm_spec(plan, side, stem.with_suffix(".console.log"), f"sh {shlex.quote(str(script))}")
    before = os.getloadavg()
    result = vm.boot(spec, stop=stop)
    after = os.getloadavg()
    [suite] = guest.suite_results(result.guest_output, [BENCH_SUITE], result.reason)
    suite.name = f"bench {label.value}{index}"
    # An oops or a splat during a benchmark is a kernel failure of that side, named after
    # the benchmark that was running, as `harness test` reports it.
    incidents = incident_cases(result.console, f"{label.value}{index}")
    suite.children += incidents.children
    ran = result.status is Status.PASS and suite.status is not Status.ERROR
    output = "\n".join(lines for _, lines, _ in _bench_segments(result.guest_output))
    parsed = parse_boot_output(output)
    sample = BootSample(
        side=label,
        index=index,
        metrics=parsed.metrics if ran else {},
        slabs=parsed.slabs if ran else (),
        info=parsed.info,
        seconds=result.seconds,
        load_before=before,
        load_after=after,
        console=spec.console_log.name,
        ok=ran,
        reason=result.reason if result.status.is_bad else _first_error(suite),
        warnings=parsed.warnings,
        kvm_failed=result.kvm_failed,
        locks=parsed.locks if ran else (),
    )
    return sample, suite


def _bench_segments(guest_output: str) -> Iterator[tuple[str, str, int | None]]:
    for name, lines, rc in guest.split_output(guest_output):
        if name == BENCH_SUITE:
            yield name, "\n".join(lines), rc


def _first_error(suite: Case) -> str:
    bad = [leaf for leaf in suite.leaves() if leaf.status is Status.ERROR]
    return f"{bad[0].name}: {bad[0].message}" if bad else ""


def append_jsonl(path: Path, sample: BootSample) -> None:
    """One line per boot, flushed at once: the raw record survives anything after it."""
    record = asdict(sample)
    record["side"] = sample.side.value
    record["metrics"] = {
        name: {"unit": m.unit, "better": m.better.value, "samples": list(m.samples)}
        for name, m in sample.metrics.items()
    }
    record["warnings"] = [asdict(w) for w in sample.warnings]
    with path.open("a") as out:
        out.write(json.dumps(record) + "\n")
        out.flush()
        os.fsync(out.fileno())


def load_jsonl(path: Path) -> list[BootSample]:
    """boots.jsonl back into BootSamples: re-analyse a run, or feed tests recorded boots."""
    lines = path.read_text().splitlines()
    return [sample_from_record(json.loads(line)) for line in lines if line.strip()]


def sample_from_record(record: dict[str, Any]) -> BootSample:
    """One line of boots.jsonl, as append_jsonl wrote it."""
    metrics = {
        name: Metric(name, m["unit"], Better(m["better"]), tuple(m["samples"]))
        for name, m in record["metrics"].items()
    }
    return BootSample(
        side=Side(record["side"]),
        index=record["index"],
        metrics=metrics,
        slabs=tuple(SlabDelta(**s) for s in record["slabs"]),
        info=record["info"],
        seconds=record["seconds"],
        load_before=tuple(record["load_before"]),
        load_after=tuple(record["load_after"]),
        qemu_cmdline=record["qemu_cmdline"],
        console=record["console"],
        ok=record["ok"],
        reason=record["reason"],
        locks=tuple(LockClass(**lock) for lock in record.get("locks", ())),
    )
