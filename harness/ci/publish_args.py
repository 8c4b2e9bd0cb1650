"""`harness publish` options: where results go. Addresses only; secrets come from
credentials.py (environment or a 0600 file), never from this command line."""

from __future__ import annotations

import argparse
import os


def add_arguments(p: argparse.ArgumentParser) -> None:
    env = os.environ.get
    p.add_argument(
        "--patchwork",
        default=env("HARNESS_PATCHWORK_URL", ""),
        help="patchwork REST API, e.g. https://patchwork.kernel.org/api/1.3/ "
        "($HARNESS_PATCHWORK_URL; token: $HARNESS_PATCHWORK_TOKEN or the credentials file)",
    )
    p.add_argument("--context", default="", help="the check's context (default: harness-KIND)")
    p.add_argument("--target-url", default="", help="where the run's results can be read")
    p.add_argument("--kcidb", default="", help="write the run as KCIDB JSON to this file")
    p.add_argument("--kcidb-origin", default="harness", help="KCIDB origin (default: harness)")
    p.add_argument(
        "--smtp",
        default=env("HARNESS_SMTP", ""),
        help="HOST:PORT to send a check run's review mail to ($HARNESS_SMTP)",
    )
    p.add_argument("--from", dest="sender", default=env("HARNESS_MAIL_FROM", ""), help="From:")
    p.add_argument("--to", action="append", default=[], help="also To: (repeatable)")
    p.add_argument("--cc", action="append", default=[], help="Cc:, e.g. the list (repeatable)")
