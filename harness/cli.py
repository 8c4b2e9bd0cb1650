"""Command line: argument parsing and the exit-status contract.

0 all passed; 1 something failed; 2 bad input or usage (one line, no traceback);
3 the environment lacks something (with how to install it).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

# Only what `harness --help` needs is imported here; each command imports its stages
# when it runs, so help and usage errors stay fast.
from harness.arguments import REVIEW_STAGES, add_jobs_argument, add_series_arguments
from harness.boot import defaults
from harness.errors import (
    HarnessError,
    Interrupted,
    UserError,
    interrupt_message,
    interrupt_status,
)

if TYPE_CHECKING:
    from harness import pipeline

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
QUIET_HELP = "no progress lines: only the summary, the results and errors"
SUPPRESS = argparse.SUPPRESS  # a subcommand's -q must not reset the top-level one


DESCRIPTION = """\
harness applies a Linux kernel patch series to a tree, builds a minimal kernel, boots
it in QEMU through virtme-ng, runs guest tests (KTAP), watches the console for panics
and oopses, and reports JUnit, JSON and a terminal summary.

exit status: 0 all passed; 1 something failed (conflict, build error, crash, test
failure); 2 bad input or usage; 3 the environment lacks a tool (with how to install it)
"""

EXAMPLES = """\
examples:
  harness test patches/gmem-rfc-v1-6.12                  apply, build, boot, run its tests
  harness apply series.mbox --tree ~/linux               does it apply? per patch, per hunk
  harness check patches/gmem-rfc-v1-6.12                 review each patch like the list bots
  harness review patches/fixtures/bisect-boot-warn       the whole reply: check, test, bisect, costs
  harness report results/gmem-rfc-v1-6.12-<time> --email the review mail of a check run
  harness compare patches/fixtures/planted-slow          what the series costs: base vs patched
  harness bisect patches/fixtures/bisect-boot-warn       the first bad patch, with a confidence
  harness parse console.log --junit out.xml              results from a saved console log
  harness watch ci/watch.yaml --once                     check/test each new series on a list
  harness publish results/<run> --patchwork URL --kcidb kcidb.json  results -> patchwork, KCIDB
  harness merge results/<shard1> results/<shard2>        a sharded CI run's results as one
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"harness: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def default_cache() -> Path:
    base = os.environ.get("HARNESS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "harness"
    )
    return Path(base)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="harness",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-q", "--quiet", action="store_true", help=QUIET_HELP)
    parser.add_argument("--no-sandbox", action="store_true", help=NO_SANDBOX_HELP)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    test = sub.add_parser("test", help="apply, build, boot, run guest tests")
    add_series_arguments(test, builds=True)
    test.add_argument(
        "--suite",
        action="append",
        default=[],
        help="guest suite (SUITE[:WORKLOAD,...]: only those), kunit[:GLOB] or "
        "kselftest:DIR[/TEST]; the series' own tests are added",
    )
    test.add_argument(
        "--compare-base", action="store_true", help="run the same tests on the base; report changes"
    )
    test.add_argument(
        "--loop",
        action="store_true",
        help="stay resident: run again when the series, a kconfig fragment or guest-tests/ "
        "changes, or on Enter (Ctrl-C ends)",
    )
    add_jobs_argument(test)
    test.add_argument(
        "--timeout",
        type=int,
        default=0,
        help=f"per boot, seconds (default: series.yaml's, else {defaults.DEFAULT_TIMEOUT})",
    )
    test.add_argument("--no-kvm", action="store_true", help="boot with TCG even where KVM works")
    test.add_argument(
        "--shard", default="1/1", help="K/N: boot only this CI runner's slice (harness merge joins)"
    )
    test.add_argument(
        "--memory",
        default="",
        help=f"guest memory, e.g. 2G (default: series.yaml's, else {defaults.DEFAULT_MEMORY})",
    )
    test.add_argument(
        "--cpus",
        type=int,
        default=0,
        help=f"guest CPUs (default: series.yaml's, else {defaults.DEFAULT_CPUS})",
    )
    apply = sub.add_parser("apply", help="apply the series and report per patch")
    add_series_arguments(apply, builds=False)
    check = sub.add_parser("check", help="review per patch: build, W=1, checkpatch, static")
    add_series_arguments(check, builds=True)
    add_jobs_argument(check)
    check.add_argument(
        "--matrix",
        metavar="CELLS",
        default="",
        help="the builds, comma-separated, of: kernel (today's config), x86_64, x86_64-clang, "
        "i386, arm64, sparse (the touched objects under allmodconfig, W=1), options-off "
        "(each option the patch depends on turned off); default: series.yaml's, else all",
    )
    _add_review_command(sub)
    report = sub.add_parser("report", help="results.json of a check run -> review mail")
    report.add_argument("run_dir", type=Path, help="the run directory of a `harness check`")
    report.add_argument("--email", action="store_true", help="write RUN_DIR/review.eml")
    report.add_argument("--markdown", action="store_true", help="write RUN_DIR/review.md")
    report.add_argument(
        "--tests",
        type=Path,
        action="append",
        help="a `harness test` run, or the `harness check` run of another form of the series "
        "(a port's build matrix): its defects join the mail's findings table (repeatable)",
    )
    report.add_argument(
        "--findings-md",
        type=Path,
        help="also write that table as Markdown (between a README's markers)",
    )
    compare = sub.add_parser(
        "compare",
        help="what a series costs: base vs patched benchmarks, boots interleaved, statistics",
    )
    add_series_arguments(compare, builds=True)
    add_jobs_argument(compare)
    from harness.compare import request as compare_request

    compare_request.add_arguments(compare)
    bisect = sub.add_parser(
        "bisect",
        help="the first bad patch of a series or commit of a range, with a lower bound of "
        "the chance that it is right",
    )
    from harness.bisection import request as bisect_request

    bisect_request.add_arguments(bisect)
    _add_ci_commands(sub)
    parse = sub.add_parser("parse", help="console/KTAP log -> results, offline")
    parse.add_argument("log", type=Path, help="a saved console.log or KTAP output")
    parse.add_argument("--junit", type=Path, help="also write the results as JUnit XML here")
    parse.add_argument("--json", type=Path, help="also write the results as JSON here")
    for command in sub.choices.values():  # `harness test -q` as well as `harness -q test`
        command.add_argument(
            "-q", "--quiet", action="store_true", default=SUPPRESS, help=QUIET_HELP
        )
        command.add_argument(
            "--no-sandbox", action="store_true", default=SUPPRESS, help=NO_SANDBOX_HELP
        )
    return parser


def _add_review_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """`harness review`: check, test, bisect and compare as one reply (reply/command.py)."""
    review = sub.add_parser(
        "review",
        help="the whole reply: check per patch, test against the base, bisect each new "
        "runtime failure, compare the costs; one results tree and one mail",
    )
    add_series_arguments(review, builds=True)
    add_jobs_argument(review)
    review.add_argument(
        "--stages",
        default=",".join(REVIEW_STAGES),
        help=f"the stages to run, comma-separated, of: {', '.join(REVIEW_STAGES)}",
    )
    review.add_argument("--suite", action="append", default=[], help="guest suite (as test)")
    review.add_argument("--timeout", type=int, default=0, help="per boot, seconds (as test)")
    review.add_argument("--no-kvm", action="store_true", help="boot with TCG even where KVM works")
    review.add_argument("--matrix", metavar="CELLS", default="", help="check's build matrix")
    review.add_argument("--repeats", type=int, default=5, help="bisect: runs of the bad end")
    review.add_argument(
        "--min-confidence", type=float, default=0.9, help="bisect: the bound, to confirm"
    )
    review.add_argument(
        "--most-bisections", type=int, default=3, help="new runtime failures bisected, at most"
    )
    review.add_argument("--bench", action="append", default=[], help="compare's benchmark")
    review.add_argument("--reps", type=int, default=0, help="compare: inner repetitions")
    review.add_argument(
        "--serialization", action="store_true", help="compare: also how serialized (lock stats)"
    )
    review.add_argument(
        "--reporter",
        default="harness review <harness-review@localhost>",
        help="the Reported-by: a fix of a reported issue carries",
    )


def _add_ci_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """harness as a CI bot (harness/ci/): watch, publish, merge."""
    watch = sub.add_parser("watch", help="follow public-inbox archives; check/test each new series")
    watch.add_argument("config", type=Path, help="the watch YAML (lists, base, suites, kconfigs)")
    watch.add_argument("--once", action="store_true", help="one pass, then exit (cron, CI)")
    watch.add_argument("--interval", type=int, default=300, help="seconds between passes")
    watch.add_argument("--cache", type=Path, default=None, help="as for harness test")
    publish = sub.add_parser("publish", help="a run's results -> patchwork, KCIDB, review mail")
    publish.add_argument("run_dir", type=Path, help="the run directory of a check or test")
    from harness.ci import publish_args

    publish_args.add_arguments(publish)
    merge = sub.add_parser("merge", help="the shards' run directories -> one run")
    merge.add_argument("run_dirs", type=Path, nargs="+", help="run directories of the shards")
    merge.add_argument("--out", type=Path, default=Path("results"), help="where it goes")


class _SeriesOptions(TypedDict):
    """The fields TestOptions and CheckOptions share, from add_series_arguments."""

    argv: list[str]
    out: Path
    cache: Path
    base: str
    tree: Path | None


class _BuildOptions(TypedDict):
    kconfig: tuple[str, ...]
    jobs: int


def _series_options(args: argparse.Namespace, argv: list[str]) -> _SeriesOptions:
    return _SeriesOptions(
        argv=argv,
        out=args.out,
        cache=args.cache or default_cache(),
        base=args.base,
        tree=args.tree,
    )


def _build_options(args: argparse.Namespace) -> _BuildOptions:
    return _BuildOptions(kconfig=tuple(args.kconfig), jobs=args.jobs)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP unwind like Ctrl-C (an Interrupted, a KeyboardInterrupt), so the
    same cleanup kills and reaps every child group. Only the first signal raises: a second
    one must not cut short the cleanup the first started."""
    stopping: list[int] = []

    def handler(signum: int, frame: object) -> None:
        if stopping:
            print(f"harness: {signal.Signals(signum).name}: already stopping", file=sys.stderr)
            return
        stopping.append(signum)
        raise Interrupted(signum)

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


NO_SANDBOX_HELP = "run the tree's code (make, scripts, vng) unsandboxed: trusted trees only"


def _no_sandbox() -> None:
    from harness import sandbox

    os.environ[sandbox.ENABLE_VAR] = "0"  # proc.run reads the policy from here
    print(
        "harness: warning: --no-sandbox: the tree's code runs as you, with your files "
        "and the network; use it only for trees you trust",
        file=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        with _signals_interrupt():
            args = build_parser().parse_args(argv)
            if args.quiet:
                from harness import progress

                progress.quiet()
            if args.no_sandbox:
                _no_sandbox()
            return _dispatch(args, argv)
    except HarnessError as err:
        print(f"harness: {err}", file=sys.stderr)
        return err.exit_status
    except KeyboardInterrupt as err:
        print(f"harness: {interrupt_message(err)}; partial results were kept", file=sys.stderr)
        return interrupt_status(err)


BOOTING = ("test", "compare", "bisect", "review")


def _dispatch(args: argparse.Namespace, argv: list[str]) -> int:
    if args.command in BOOTING and getattr(args, "out", None) is not None:
        hidden = defaults.guest_hidden(args.out)
        if hidden:
            raise UserError(
                f"--out {args.out}: the guest mounts its own {hidden}, where it would find "
                "no run directory to run its suites from: put the results elsewhere"
            )
    if args.command in ("check", "report"):
        return _review(args, argv)
    if args.command == "review":
        return _reply(args, argv)
    if args.command == "compare":
        return _compare(args, argv)
    if args.command in ("watch", "publish", "merge"):
        return _ci(args, argv)
    if args.command == "bisect":
        return _bisect(args, argv)
    if args.command == "parse":
        from harness.results import parse_log

        return parse_log.parse_command(args.log, args.junit, args.json)
    from harness import loop
    from harness.intake import series

    if getattr(args, "loop", False):
        return loop.run_loop(args.series, _test_options(args, argv))
    all_series = series.load(args.series)  # validated before any tree is touched
    return loop.test_all(all_series, _test_options(args, argv))


def _test_options(args: argparse.Namespace, argv: list[str]) -> pipeline.TestOptions:
    """`harness apply` has no build options: it keeps TestOptions' defaults for them."""
    from harness import pipeline
    from harness.suites.shard import parse as parse_shard

    if args.command == "apply":
        return pipeline.TestOptions(**_series_options(args, argv), apply_only=True)
    return pipeline.TestOptions(
        **_series_options(args, argv),
        **_build_options(args),
        suites=tuple(args.suite),
        timeout=args.timeout,
        no_kvm=args.no_kvm,
        memory=args.memory,
        cpus=args.cpus,
        compare_base=args.compare_base,
        shard=parse_shard(args.shard),
        boots=args.jobs,
    )


def _ci(args: argparse.Namespace, argv: list[str]) -> int:
    """`harness watch`, `harness publish` and `harness merge` (harness/ci/)."""
    if args.command == "merge":
        from harness.ci import merge

        return merge.merge_command(args.run_dirs, args.out, argv)
    if args.command == "publish":
        from harness.ci import publish

        return publish.publish_command(args.run_dir, publish.targets_from_args(args))
    from harness.ci import config, watch

    watched = config.load(args.config)  # a bad config: exit 2 before any inbox is read
    cache = args.cache or watched.cache or default_cache()
    return watch.watch_command(watched, cache, args.once, args.interval)


def _compare(args: argparse.Namespace, argv: list[str]) -> int:
    """`harness compare` (harness/compare/): its exit status follows the verdicts."""
    from harness.compare import command, request

    run = command.compare(request.from_args(args, argv, args.cache or default_cache()))
    print(f"  results: {run.path}")
    return command.exit_status(run)


def _bisect(args: argparse.Namespace, argv: list[str]) -> int:
    """`harness bisect` (harness/bisection/); --resume RUN re-reads the command line RUN keeps."""
    from harness.bisection import command, request, state

    resume = args.resume
    if resume is not None:
        argv = state.load(resume)["argv"]
        args = build_parser().parse_args(argv)
    wanted = request.from_args(args, argv, args.cache or default_cache())
    return command.bisect(dataclasses.replace(wanted, resume=resume))


def _reply(args: argparse.Namespace, argv: list[str]) -> int:
    """`harness review`: the stages' requests are what their own command lines make, so
    the reply can show each as a command a user can run."""
    from harness.build import matrix
    from harness.reply import command as reply

    stages = tuple(s for s in args.stages.split(",") if s)
    unknown = sorted(set(stages) - set(REVIEW_STAGES))
    if unknown or not stages:
        raise UserError(f"--stages {args.stages}: expected some of {', '.join(REVIEW_STAGES)}")
    if args.most_bisections < 0:
        raise UserError("review: --most-bisections >= 0")
    settings = reply.StageSettings(
        cache=args.cache or default_cache(),
        tree=args.tree,
        base=args.base,
        kconfig=tuple(args.kconfig),
        jobs=args.jobs,
        suites=tuple(args.suite),
        timeout=args.timeout,
        no_kvm=args.no_kvm,
        repeats=args.repeats,
        min_confidence=args.min_confidence,
        benches=tuple(args.bench),
        reps=args.reps,
        serialization=args.serialization,
    )
    cells = matrix.parse(args.matrix) if args.matrix else ()
    opts = reply.options(
        argv, args.out, settings, cells, stages, args.most_bisections, args.reporter
    )
    return reply.review_command(args.series, opts)


def _review(args: argparse.Namespace, argv: list[str]) -> int:
    """`harness check` and `harness report` (see check.py and report.py)."""
    from harness.review import check, report

    if args.command == "report":
        return report.report_command(
            args.run_dir, args.email, args.markdown, args.tests, args.findings_md
        )
    from harness.build import matrix

    cells = matrix.parse(args.matrix) if args.matrix else ()
    opts = check.CheckOptions(**_series_options(args, argv), **_build_options(args), matrix=cells)
    return check.check_command(args.series, opts)


if __name__ == "__main__":
    sys.exit(main())
