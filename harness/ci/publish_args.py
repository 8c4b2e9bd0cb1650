"""`harness publish` options: where results go and how to reach it. Addresses only;
secrets come from credentials.py (environment or a 0600 file), never from this command
line."""

from __future__ import annotations

import argparse
import os

# How the review mail reaches the SMTP server (mailout.py): tls is SMTPS, encrypted from
# the first byte. Spelled here because building the parser may import nothing heavier.
SMTP_TLS_MODES = ("starttls", "tls", "none")


def add_arguments(p: argparse.ArgumentParser) -> None:
    env = os.environ.get
    p.add_argument(
        "--patchwork",
        default=env("HARNESS_PATCHWORK_URL", ""),
        help="patchwork REST API, 1.2 or later, e.g. https://patchwork.kernel.org/api/1.3/ "
        "($HARNESS_PATCHWORK_URL; token: $HARNESS_PATCHWORK_TOKEN or the credentials file)",
    )
    p.add_argument(
        "--patchwork-project",
        default=env("HARNESS_PATCHWORK_PROJECT", ""),
        help="the patchwork project the bot posts in: its link name (e.g. linux-mm) or id "
        "($HARNESS_PATCHWORK_PROJECT); patches of other projects are never touched",
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
    p.add_argument(
        "--smtp-tls",
        choices=SMTP_TLS_MODES,
        default=env("HARNESS_SMTP_TLS", ""),
        help="starttls (default), tls (SMTPS, e.g. port 465) or none (default for a server "
        "on this host; elsewhere only with --insecure) ($HARNESS_SMTP_TLS)",
    )
    p.add_argument("--from", dest="sender", default=env("HARNESS_MAIL_FROM", ""), help="From:")
    p.add_argument("--to", action="append", default=[], help="also To: (repeatable)")
    p.add_argument("--cc", action="append", default=[], help="Cc:, e.g. the list (repeatable)")
    p.add_argument(
        "--ca-file",
        default=env("HARNESS_CA_FILE", ""),
        help="verify patchwork's and the SMTP server's certificates against this CA bundle "
        "instead of the system's ($HARNESS_CA_FILE)",
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="allow clear text to another host: patchwork over http (the token too), "
        "--smtp-tls none",
    )
