"""`harness publish RUN`: a finished run's results where kernel developers look for them.

Input: a run directory and Targets. Output: a patchwork check per patch, a KCIDB JSON
file (validated by kcidb-io first), and for a check run the review mail, sent in reply to
the cover letter. A run that ended in an infrastructure error (interrupted, a watcher
that could not run it) says nothing about the patches: nothing is posted, and publish
says why. Raises UserError for a bad run dir or targets, EnvError for an unreachable
server.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.cases import Case
from harness.ci import credentials, kcidb, mailout, patchwork
from harness.errors import UserError
from harness.proc import note
from harness.review import report


@dataclass(frozen=True)
class Targets:
    patchwork: str = ""
    context: str = ""
    target_url: str = ""
    kcidb: Path | None = None
    kcidb_origin: str = "harness"
    smtp: mailout.SmtpTarget | None = None


def targets_from_args(args: argparse.Namespace) -> Targets:
    smtp = None
    if args.smtp:
        host, port = mailout.parse_server(args.smtp)
        if not args.sender:
            raise UserError("--smtp needs --from (or $HARNESS_MAIL_FROM)")
        user, password = credentials.secret("smtp_user"), credentials.secret("smtp_password")
        to, cc = tuple(args.to), tuple(args.cc)
        smtp = mailout.SmtpTarget(host, port, args.sender, to, cc, user, password)
    targets = Targets(
        patchwork=args.patchwork,
        context=args.context,
        target_url=args.target_url,
        kcidb=Path(args.kcidb) if args.kcidb else None,
        kcidb_origin=args.kcidb_origin,
        smtp=smtp,
    )
    if not (targets.patchwork or targets.kcidb or targets.smtp):
        raise UserError("nothing to publish to: give --patchwork, --kcidb and/or --smtp")
    return targets


def infrastructure_error(meta: dict[str, Any], suites: list[Case]) -> str:
    """Why this run says nothing about the patches, or '' when its results stand."""
    if meta.get("infra_error"):
        return str(meta["infra_error"])
    stopped = [s for s in suites if s.name == "interrupted"]
    if stopped:
        return f"the run was interrupted ({stopped[0].message})"
    if not suites:
        return "the run recorded no results"
    return ""


def publish_command(run_dir: Path, targets: Targets) -> int:
    meta, suites = report.load(run_dir)
    why = infrastructure_error(meta, suites)
    if why:
        print(f"harness: {run_dir.name}: nothing published: infrastructure error: {why}")
        return 0
    if targets.patchwork:
        _post_checks(meta, suites, targets)
    if targets.kcidb:
        data = kcidb.report(meta, suites, targets.kcidb_origin)
        kcidb.validate(data)  # nothing invalid is written
        targets.kcidb.write_text(json.dumps(data, indent=1) + "\n")
        print(f"kcidb: {targets.kcidb} ({len(data.get('tests', []))} tests, validated)")
    if targets.smtp:
        _send_review(run_dir, meta, targets.smtp)
    return 0


def _post_checks(meta: dict[str, Any], suites: list[Case], targets: Targets) -> None:
    token = credentials.secret("patchwork_token")
    if not token:
        raise UserError("no patchwork token: set HARNESS_PATCHWORK_TOKEN or the credentials file")
    context = targets.context or f"harness-{meta.get('kind', 'test')}"
    found = patchwork.checks(meta, suites, context, targets.target_url)
    if not found:
        raise UserError("the run does not list its patches' Message-IDs (patch_message_ids)")
    client = patchwork.Client(targets.patchwork, token)
    for check in found:
        patch_id = client.find_patch(check.message_id)
        if patch_id is None:
            note(f"patchwork: no patch with Message-ID {check.message_id}; not posted")
            continue
        client.post(patch_id, check)
        print(f"patchwork: patch {patch_id}: {check.context} {check.state}: {check.description}")


def _send_review(run_dir: Path, meta: dict[str, Any], smtp: mailout.SmtpTarget) -> None:
    if meta.get("kind") != "check":
        print("mail: not sent: the review mail is of a `harness check` run")
        return
    review = run_dir / "review.eml"
    if not review.exists():
        report.write(run_dir, email=True, markdown=False)
    sent = mailout.send(review, smtp)
    print(f"mail: sent {sent} to {smtp.host}:{smtp.port}, in reply to {meta.get('message_id')}")
