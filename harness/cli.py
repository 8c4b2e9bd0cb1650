"""Command line: argument parsing and the exit-status contract.

0 all passed; 1 something failed; 2 bad input or usage (one line, no traceback);
3 the environment lacks something (with how to install it).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import pipeline, series
from .errors import HarnessError
from .rundir import terminal_summary

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"harness: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def default_cache() -> Path:
    base = os.environ.get("HARNESS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "harness"
    )
    return Path(base)


def _tree_options(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--tree", type=Path, help="existing git tree (never modified)")
    group.add_argument(
        "--base", default="", help="base spec (default: series.yaml's, else debian:6.12)"
    )
    p.add_argument("--out", type=Path, default=Path("results"), help="results dir")
    p.add_argument("--cache", type=Path, default=None, help="cache dir (trees, builds)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    test = sub.add_parser("test", help="apply, build, boot, run guest tests")
    test.add_argument("series", type=Path)
    _tree_options(test)
    test.add_argument("--kconfig", action="append", default=[], help="extra fragment")
    test.add_argument(
        "--suite",
        action="append",
        default=[],
        help="guest suite, kunit[:GLOB] or kselftest:DIR[/TEST]; the series' own tests are added",
    )
    test.add_argument(
        "--compare-base", action="store_true", help="run the same tests on the base; report changes"
    )
    test.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    test.add_argument("--timeout", type=int, default=600, help="per boot, seconds")
    test.add_argument("--no-kvm", action="store_true", help="force TCG")
    test.add_argument("--memory", default="", help="guest memory, e.g. 2G")
    test.add_argument("--cpus", type=int, default=0, help="guest CPUs")
    apply = sub.add_parser("apply", help="apply the series and report per patch")
    apply.add_argument("series", type=Path)
    _tree_options(apply)
    check = sub.add_parser("check", help="review per patch: build, W=1, checkpatch, static")
    check.add_argument("series", type=Path)
    _tree_options(check)
    check.add_argument("--kconfig", action="append", default=[], help="extra fragment")
    check.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    report = sub.add_parser("report", help="results.json of a check run -> review mail")
    report.add_argument("run_dir", type=Path)
    report.add_argument("--email", action="store_true", help="write RUN_DIR/review.eml")
    report.add_argument("--markdown", action="store_true", help="write RUN_DIR/review.md")
    parse = sub.add_parser("parse", help="console/KTAP log -> results, offline")
    parse.add_argument("log", type=Path)
    parse.add_argument("--junit", type=Path)
    parse.add_argument("--json", type=Path)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        return _dispatch(args, argv)
    except HarnessError as err:
        print(f"harness: {err}", file=sys.stderr)
        return err.exit_status
    except KeyboardInterrupt:
        print("harness: interrupted; partial results were kept", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace, argv: list[str]) -> int:
    if args.command in ("check", "report"):
        return _review(args, argv)
    if args.command == "parse":
        from . import offline

        return offline.parse_command(args.log, args.junit, args.json)
    all_series = series.load(args.series)  # validated before any tree is touched
    failed = False
    for one in all_series:
        opts = pipeline.TestOptions(
            argv=argv,
            out=args.out,
            cache=args.cache or default_cache(),
            base=args.base,
            tree=args.tree,
            apply_only=args.command == "apply",
            **(
                {}
                if args.command == "apply"
                else dict(
                    kconfig=tuple(args.kconfig),
                    suites=tuple(args.suite),
                    jobs=args.jobs,
                    timeout=args.timeout,
                    no_kvm=args.no_kvm,
                    memory=args.memory,
                    cpus=args.cpus,
                    compare_base=args.compare_base,
                )
            ),
        )
        run = pipeline.test_series(one, opts)
        print(f"\n{one.name}: {one.subject}")
        terminal_summary(run)
        failed = failed or run.failed
    return EXIT_FAILED if failed else EXIT_OK


def _review(args: argparse.Namespace, argv: list[str]) -> int:
    """`harness check` and `harness report` (see check.py and report.py)."""
    from . import check, report

    if args.command == "report":
        return report.report_command(args.run_dir, args.email, args.markdown)
    opts = check.CheckOptions(
        argv=argv,
        out=args.out,
        cache=args.cache or default_cache(),
        base=args.base,
        tree=args.tree,
        kconfig=tuple(args.kconfig),
        jobs=args.jobs,
    )
    return check.check_command(args.series, opts)


if __name__ == "__main__":
    sys.exit(main())
