"""The options the commands share: the series, where its runs and the cache go, --kconfig
and --jobs. For the command line (cli.py), and for a command that makes another command's
request from the command line a user would type for it (reply/).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

# `harness review`'s stages, in the order they run (reply/command.py)
REVIEW_STAGES = ("check", "test", "bisect", "compare")


def add_series_arguments(p: argparse.ArgumentParser, *, builds: bool) -> None:
    """The series and where it goes (test, apply, check); --kconfig for the commands that build."""
    p.add_argument(
        "series",
        type=Path,
        help="a directory of git format-patch files (with series.yaml), an mbox, or a "
        "directory of series",
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument("--tree", type=Path, help="existing git tree (never modified)")
    group.add_argument(
        "--base", default="", help="base spec (default: series.yaml's, else debian:6.12)"
    )
    p.add_argument(
        "--out", type=Path, default=Path("results"), help="where run directories go (./results)"
    )
    p.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="trees and build dirs (default: $HARNESS_CACHE, else ~/.cache/harness)",
    )
    if builds:
        p.add_argument(
            "--kconfig",
            action="append",
            default=[],
            help="extra Kconfig fragment: a path or a name in kconfigs/ (repeatable)",
        )


def add_jobs_argument(p: argparse.ArgumentParser) -> None:
    # Not in add_series_arguments: `harness test --help` lists its own options before --jobs.
    p.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="make -j; test, and compare under icount: also boots side by side, as memory "
        "allows (default: all CPUs)",
    )
