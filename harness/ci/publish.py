"""`harness publish RUN`: a finished run's results where kernel developers look for them.

Input: a run directory and Targets. Output: a patchwork check per patch, a KCIDB JSON
file (validated by kcidb-io first), and for a check run the review mail, sent in reply to
the cover letter. A run that ended in an infrastructure error (interrupted, a watcher
that could not run it) says nothing about the patches: nothing is posted, and publish
says why. Every target is checked before anything is sent (a patchwork API that cannot
filter by Message-ID, a token or mail that would travel in clear text, a context or URL
patchwork refuses), and every patch is looked up before the first check is posted.
Raises UserError for a bad run dir or targets, EnvError for an unreachable server.
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
from harness.results import rundir
from harness.review import report


@dataclass(frozen=True)
class Targets:
    patchwork: str = ""  # the API base, checked by patchwork.api_url
    project: str = ""
    context: str = ""
    target_url: str = ""
    kcidb: Path | None = None
    kcidb_origin: str = "harness"
    smtp: mailout.SmtpTarget | None = None
    ca_file: str = ""


def targets_from_args(args: argparse.Namespace) -> Targets:
    """Every target checked, before publish touches a server."""
    ca_file = _ca_file(args.ca_file)
    api = patchwork.api_url(args.patchwork, args.insecure) if args.patchwork else ""
    if api and not args.patchwork_project:
        raise UserError(
            "--patchwork needs --patchwork-project (or $HARNESS_PATCHWORK_PROJECT): "
            "the project whose patches the bot checks"
        )
    targets = Targets(
        patchwork=api,
        project=args.patchwork_project,
        context=patchwork.check_context(args.context) if args.context else "",
        target_url=patchwork.check_target_url(args.target_url),
        kcidb=Path(args.kcidb) if args.kcidb else None,
        kcidb_origin=args.kcidb_origin,
        smtp=_smtp_target(args, ca_file) if args.smtp else None,
        ca_file=ca_file,
    )
    if not (targets.patchwork or targets.kcidb or targets.smtp):
        raise UserError("nothing to publish to: give --patchwork, --kcidb and/or --smtp")
    return targets


def _ca_file(given: str) -> str:
    if given and not Path(given).is_file():
        raise UserError(f"--ca-file {given}: no such file")
    return given


def _smtp_target(args: argparse.Namespace, ca_file: str) -> mailout.SmtpTarget:
    host, port = mailout.parse_server(args.smtp)
    if not args.sender:
        raise UserError("--smtp needs --from (or $HARNESS_MAIL_FROM)")
    mode = mailout.tls_mode(host, args.smtp_tls, args.insecure)
    user, password = credentials.secret("smtp_user"), credentials.secret("smtp_password")
    to, cc = tuple(args.to), tuple(args.cc)
    return mailout.SmtpTarget(host, port, args.sender, to, cc, user, password, mode, ca_file)


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
    meta, suites = rundir.load(run_dir)
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
    if not meta.get("patch_message_ids"):
        raise UserError("the run does not list its patches' Message-IDs (patch_message_ids)")
    context = patchwork.check_context(targets.context or f"harness-{meta.get('kind', 'test')}")
    found = patchwork.verdicts(meta, suites, context, targets.target_url)
    for message_id in found.unjudged:
        note(f"patchwork: {message_id}: the run has no results of its own for it; no check")
    client = patchwork.Client(targets.patchwork, token, targets.project, targets.ca_file)
    # Every lookup before the first post: a server that answers wrongly gets nothing.
    located = [(client.find_patch(check.message_id), check) for check in found.checks]
    for patch_id, check in located:
        if patch_id is None:
            where = f"in project {targets.project}"
            note(f"patchwork: no patch with Message-ID {check.message_id} {where}; not posted")
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
