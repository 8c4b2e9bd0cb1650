"""`harness bisect`'s command line: series mode or range mode, checked before anything runs.

Input: argparse arguments. Output: a BisectRequest. Raises UserError (exit 2) for a
request that mixes the modes, lacks an end, or asks for impossible repeats.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import UserError

if TYPE_CHECKING:  # `harness --help` builds this parser: the search loads when a bisect runs
    from harness.bisection.perf import PerfSpec
    from harness.bisection.search import SearchSpec


@dataclass(frozen=True)
class BisectRequest:
    argv: tuple[str, ...]
    out: Path
    cache: Path
    series: Path | None  # series mode; None: range mode
    tree: Path | None
    base: str
    kconfig: tuple[str, ...]
    suites: tuple[str, ...]
    jobs: int
    timeout: int
    bad_when: str
    search: SearchSpec
    good: str = ""
    bad: str = ""
    first_parent: bool = False
    resume: Path | None = None
    perf: PerfSpec | None = None  # --bad-when metric:NAME (perf mode)
    reps: int = 3  # perf mode: inner repetitions per benchmark and boot
    warmup: int = 1

    @property
    def mode(self) -> str:
        return "series" if self.series is not None else "range"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("series", type=Path, nargs="?", help="the series (series mode)")
    p.add_argument("--tree", type=Path, help="git tree: the base (series) or the range's repo")
    p.add_argument("--base", default="", help="base spec in series mode (default: series.yaml's)")
    p.add_argument("--good", default="", help="range mode: a revision without the failure")
    p.add_argument("--bad", default="", help="range mode: a revision with the failure")
    p.add_argument("--first-parent", action="store_true", help="range mode: follow merges only")
    p.add_argument("--out", type=Path, default=Path("results"), help="where RUN goes")
    p.add_argument("--cache", type=Path, default=None, help="trees and build dirs")
    p.add_argument("--kconfig", action="append", default=[], help="extra Kconfig fragment")
    p.add_argument("--suite", action="append", default=[], help="guest suite (as harness test)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="make -j")
    p.add_argument("--timeout", type=int, default=0, help="per boot, seconds")
    p.add_argument(
        "--bad-when",
        default="",
        help="build, boot, crash, test:GLOB, failure:SIGNATURE (one failure, as a review names "
        "it) or metric:NAME (default: the bad end's failure)",
    )
    p.add_argument("--repeats", type=int, default=5, help="runs of the bad end, to bound p")
    p.add_argument("--alpha", type=float, default=0.05, help="per-step error rate, at most")
    p.add_argument(
        "--min-confidence",
        type=float,
        default=0.9,
        help="the bound of the chance of a right answer, to confirm",
    )
    p.add_argument("--resume", type=Path, default=None, help="continue the bisection in RUN")
    perf = p.add_argument_group("perf mode (--bad-when metric:NAME, a `harness compare` metric)")
    perf.add_argument("--threshold", type=float, default=5.0, help="percent change that is bad")
    perf.add_argument("--boots", type=int, default=3, help="candidate boots per step, at least")
    perf.add_argument("--end-boots", type=int, default=5, help="boots of each end at the start")
    perf.add_argument(
        "--max-boots", type=int, default=8, help="candidate boots per step at most (the budget)"
    )
    perf.add_argument("--reps", type=int, default=3, help="inner repetitions per boot")
    perf.add_argument("--warmup", type=int, default=1, help="untimed repetitions before them")


def perf_spec(args: argparse.Namespace, mode_is_series: bool) -> PerfSpec | None:
    """--bad-when metric:NAME's settings, checked: a benchmark guest-tests/bench has, a
    series (not a range), and boots that can reach p < 0.05 at all."""
    kind, _, name = args.bad_when.partition(":")
    if kind != "metric" or not name:
        return None
    from harness.bisection.perf import PerfSpec
    from harness.bisection.signature import parse_predicate
    from harness.compare.request import known_benches

    parse_predicate(args.bad_when)  # NAME's form
    spec = PerfSpec(name, args.threshold, 0.05, args.boots, args.end_boots, args.max_boots)
    known = known_benches()
    if spec.bench not in known:
        raise UserError(
            f"--bad-when {args.bad_when}: no benchmark '{spec.bench}' in guest-tests/bench "
            f"(known: {', '.join(known)})"
        )
    if not mode_is_series:
        raise UserError("bisect: perf mode (metric:) bisects a series, not a range")
    if not 0 < spec.threshold < 100 or args.reps < 1 or args.warmup < 0:
        raise UserError("bisect: 0 < --threshold < 100, --reps >= 1, --warmup >= 0")
    # 4 boots a side is the fewest at which an exact two-sided MW p can be < 0.05.
    if spec.boots < 3 or spec.end_boots < 4 or spec.max_boots < spec.boots:
        raise UserError("bisect: --boots >= 3, --end-boots >= 4, --max-boots >= --boots")
    return spec


def from_args(args: argparse.Namespace, argv: list[str], cache: Path) -> BisectRequest:
    if args.series is not None and (args.good or args.bad):
        raise UserError("bisect: give a series, or --tree with --good and --bad, not both")
    if args.resume is None and args.series is None and not (args.tree and args.good and args.bad):
        raise UserError("bisect: a series, or a range: --tree DIR --good REV --bad REV")
    if args.series is not None and args.tree and args.base:
        raise UserError("bisect: --tree and --base name the base twice")
    if args.first_parent and args.series is not None:
        raise UserError("bisect: --first-parent is for a range (--good/--bad)")
    if args.repeats < 1 or not 0 < args.alpha < 1 or not 0 < args.min_confidence <= 1:
        raise UserError("bisect: --repeats >= 1, 0 < --alpha < 1, 0 < --min-confidence <= 1")
    from harness.bisection.search import SearchSpec

    perf = perf_spec(args, args.series is not None)
    # Perf mode decides a step in one oracle call (many boots and a test): one "run" each.
    runs = 1 if perf else args.repeats
    spec = SearchSpec(end_runs=runs, alpha=args.alpha, min_confidence=args.min_confidence)
    return BisectRequest(
        argv=tuple(argv),
        out=args.out,
        cache=cache,
        series=args.series,
        tree=args.tree,
        base=args.base,
        kconfig=tuple(args.kconfig),
        suites=tuple(args.suite),
        jobs=args.jobs,
        timeout=args.timeout,
        bad_when=args.bad_when,
        search=spec,
        good=args.good,
        bad=args.bad,
        first_parent=args.first_parent,
        resume=args.resume,
        perf=perf,
        reps=args.reps,
        warmup=args.warmup,
    )
