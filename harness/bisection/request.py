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
        help="build, boot, crash, test:GLOB or metric:NAME (default: the bad end's failure)",
    )
    p.add_argument("--repeats", type=int, default=5, help="runs of the bad end, to estimate p")
    p.add_argument("--alpha", type=float, default=0.05, help="per-step chance of a wrong good")
    p.add_argument(
        "--min-confidence", type=float, default=0.9, help="overall confidence to confirm"
    )
    p.add_argument("--resume", type=Path, default=None, help="continue the bisection in RUN")


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

    spec = SearchSpec(end_runs=args.repeats, alpha=args.alpha, min_confidence=args.min_confidence)
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
    )
