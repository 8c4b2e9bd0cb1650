"""What `harness compare` was asked to do, checked before any tree is touched.

Input: the parsed command line and the series. Output: a CompareRequest.
Errors: UserError (exit 2) for anything a run could only fail on later: too few
boots, an unknown benchmark, --aa with --against, a threshold that is not a percentage.
"""

from __future__ import annotations

import argparse
import enum
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UserError

if TYPE_CHECKING:  # `harness --help` builds compare's options from here: keep it light
    from ..intake.series import Series

BENCH_SUITE = "bench"
# Below 3 boots per side no rank test can say anything, and one odd boot decides the median.
MIN_BOOTS = 3
# Boots per side when the family of metrics is small; `auto` raises it so that Holm over
# the metrics the first pair of boots printed can reach significance at all.
DEFAULT_MIN_BOOTS = 5
# The guest compare boots when --cpus/--memory are not given (bisect's perf mode too).
GUEST_CPUS = 2
GUEST_MEMORY = "3G"
BOOT_TIMEOUT = 900  # seconds
ALPHA = 0.05
# The guest's own view: ASLR off (the page-table layout moves from boot to boot
# otherwise) and every slab cache on its own (merged caches hide whose metadata grew).
BENCH_CMDLINE = ("slab_nomerge", "norandmaps")
# The serialization pass's scenarios (guest-tests/bench/src/locks.c), each run by two
# threads of one process and by two processes.
SCENARIOS = ("anon4k", "thp", "shmfile", "mmap", "fork", "peer", "vmobj_munmap")
DEFAULT_THRESHOLD_PP = 2.0


class Timing(enum.Enum):
    """How the guest's clock runs while it measures."""

    WALL = "wall"  # real time: KVM's, or TCG's emulated (host noise plus emulation artefacts)
    ICOUNT = "icount"  # QEMU -icount: guest time advances with executed instructions


@dataclass(frozen=True)
class CompareRequest:
    series: Series
    against: Series | None  # side A: this series instead of the bare base
    aa: bool  # side A and side B are both the base: the noise floor
    benches: tuple[str, ...]  # () means every benchmark of guest-tests/bench
    boots: int  # per side; 0 = auto (see DEFAULT_MIN_BOOTS)
    timing: Timing | None  # None = icount under TCG, wall under KVM
    threshold: float  # percent
    reps: int  # inner repetitions per benchmark and boot
    warmup: int
    cpus: int
    memory: str
    timeout: int  # per boot, seconds
    no_kvm: bool
    out: Path
    cache: Path
    base: str
    tree: Path | None
    kconfig: tuple[str, ...]
    jobs: int
    argv: tuple[str, ...]
    # The serialization pass: a second kernel per side with lock statistics (serial.py).
    serialization: bool = False
    serial_threshold: float = DEFAULT_THRESHOLD_PP  # percentage points of the serial fraction s
    serial_scenarios: tuple[str, ...] = ()  # () means all of them
    serialization_only: bool = False  # no timing pass: "more serialized" alone
    fresh_base: bool = False  # boot the base side anew, neither taking nor keeping its boots


def known_benches() -> list[str]:
    """The benchmarks guest-tests/bench runs, in its order (its `workloads` file)."""
    from ..suites.guest import GUEST_TESTS

    listed = GUEST_TESTS / BENCH_SUITE / "workloads"
    return listed.read_text().split() if listed.is_file() else []


def validate(request: CompareRequest) -> CompareRequest:
    """Refuse what can only fail later; returns the request unchanged."""
    if request.boots and request.boots < MIN_BOOTS:
        raise UserError(f"need ≥ {MIN_BOOTS} boots per side (--boots {request.boots})")
    if request.aa and request.against is not None:
        raise UserError("--aa compares the base with itself: it takes no --against")
    if not 0 < request.threshold < 100:
        raise UserError(
            f"--threshold is a percentage above 0 and below 100, not {request.threshold}"
        )
    if request.reps < 1 or request.warmup < 0:
        raise UserError("--reps must be ≥ 1 and --warmup ≥ 0")
    known = known_benches()
    unknown = [b for b in request.benches if b not in known]
    if unknown:
        raise UserError(f"unknown benchmark '{unknown[0]}' (known: {', '.join(known)})")
    _validate_serial(request)
    return request


def _validate_serial(request: CompareRequest) -> None:
    if not 0 < request.serial_threshold < 100:
        raise UserError(
            "--serial-threshold is in percentage points of the serial fraction, above 0 "
            f"and below 100, not {request.serial_threshold}"
        )
    unknown = [s for s in request.serial_scenarios if s not in SCENARIOS]
    if unknown:
        raise UserError(
            f"unknown serialization scenario '{unknown[0]}' (known: {', '.join(SCENARIOS)})"
        )
    if request.serial_scenarios and not request.serialization:
        raise UserError("--serial-scenario chooses what --serialization measures: add it")
    if request.serialization_only and not request.serialization:
        raise UserError("--serialization-only: the serialization pass is off")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """`harness compare`'s own options (the series/tree/out/kconfig/jobs ones are shared)."""
    p.add_argument("--against", type=Path, help="side A is this series instead of the bare base")
    p.add_argument(
        "--aa", action="store_true", help="A/A: boot the base as both sides (noise floor)"
    )
    p.add_argument(
        "--bench", action="append", default=[], help="benchmark of guest-tests/bench (default: all)"
    )
    p.add_argument(
        "--boots",
        type=int,
        default=0,
        help="boots per side, fixed up front (default: the fewest ≥ 5 at which Holm over the "
        "metrics can reach significance)",
    )
    p.add_argument(
        "--timing",
        choices=[t.value for t in Timing],
        default=None,
        help="guest clock: icount (instruction-driven; default under TCG) "
        "or wall (default under KVM)",
    )
    p.add_argument("--threshold", type=float, default=5.0, help="percent change that matters")
    p.add_argument("--reps", type=int, default=5, help="inner repetitions per benchmark and boot")
    p.add_argument("--warmup", type=int, default=1, help="untimed repetitions before them")
    p.add_argument("--cpus", type=int, default=0, help=f"guest CPUs (default: {GUEST_CPUS})")
    p.add_argument("--memory", default="", help=f"guest memory (default: {GUEST_MEMORY})")
    p.add_argument("--timeout", type=int, default=BOOT_TIMEOUT, help="per boot, seconds")
    p.add_argument("--no-kvm", action="store_true", help="force TCG")
    p.add_argument(
        "--fresh-base",
        action="store_true",
        help="boot the bare base's side anew: under icount its good boots are otherwise "
        "kept, and taken by later comparisons on the same base, config, benchmarks and QEMU",
    )
    p.add_argument(
        "--serialization",
        action="store_true",
        help="also measure how serialized each mm operation is, on a second kernel per side "
        "with lock statistics (kconfigs/lockstat.config)",
    )
    p.add_argument(
        "--serialization-only",
        action="store_true",
        help="only the serialization pass: no timing or metadata kernels and boots",
    )
    p.add_argument(
        "--serial-threshold",
        type=float,
        default=DEFAULT_THRESHOLD_PP,
        help="change of the serial fraction that matters, in percentage points "
        f"(default {DEFAULT_THRESHOLD_PP:g})",
    )
    p.add_argument(
        "--serial-scenario",
        action="append",
        default=[],
        help=f"serialization scenario ({' '.join(SCENARIOS)}; default: all)",
    )


def from_args(args: argparse.Namespace, argv: list[str], cache: Path) -> CompareRequest:
    """The request, validated: series that do not parse, too few boots, an unknown
    benchmark end here with exit 2, before any tree is touched."""
    from ..intake.series import load_one

    return validate(
        CompareRequest(
            series=load_one(args.series),
            against=load_one(args.against) if args.against else None,
            aa=args.aa,
            benches=tuple(args.bench),
            boots=args.boots,
            timing=Timing(args.timing) if args.timing else None,
            threshold=args.threshold,
            reps=args.reps,
            warmup=args.warmup,
            cpus=args.cpus,
            memory=args.memory,
            timeout=args.timeout,
            no_kvm=args.no_kvm,
            out=args.out,
            cache=cache,
            base=args.base,
            tree=args.tree,
            kconfig=tuple(args.kconfig),
            jobs=args.jobs,
            argv=tuple(argv),
            serialization=args.serialization or args.serialization_only,
            serialization_only=args.serialization_only,
            serial_threshold=args.serial_threshold,
            serial_scenarios=tuple(args.serial_scenario),
            fresh_base=args.fresh_base,
        )
    )
