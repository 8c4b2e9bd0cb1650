"""harness as a CI bot, for real: a public-inbox (public-inbox-init + public-inbox-mda)
receives the 3-patch fixture; `harness watch --once` runs check and test on it and a
second pass does nothing; `harness publish` posts per-patch checks to the patchwork
stand-in, writes KCIDB JSON that kcidb-io validates and mails the review to a real SMTP
server on 127.0.0.1, threaded under the cover letter. Builds reuse the warm virtme-min
build dir (the third patch only adds documentation).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT
from patchwork_standin import Patchwork, Server
from smtp_sink import SmtpSink

from harness.ci import kcidb
from harness.intake import series

pytestmark = pytest.mark.real

FIXTURE = PROJECT / "patches" / "fixtures" / "ci-three"
LIST = "ci-three@lists.harness.invalid"
TOKEN = "ci-bot-token"


def harness(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *argv],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=3600,
        env={**os.environ, **(env or {})},
    )


def make_inbox(tmp: Path) -> tuple[Path, dict[str, str]]:
    env = {**os.environ, "PI_CONFIG": str(tmp / "pi-config")}
    box = tmp / "inbox"
    init = ["public-inbox-init", "-V2", "ci-three", str(box), "http://127.0.0.1/ci-three", LIST]
    subprocess.run(init, env=env, check=True, capture_output=True)
    # No spamc here: public-inbox-mda would refuse every mail without it.
    spam = ["git", "config", "-f", env["PI_CONFIG"], "publicinboxmda.spamcheck", "none"]
    subprocess.run(spam, check=True)
    return box, env


def deliver(env: dict[str, str], patch: Path) -> None:
    mda = ["public-inbox-mda", "--no-precheck"]
    with patch.open("rb") as mail:
        done = subprocess.run(mda, stdin=mail, env={**env, "ORIGINAL_RECIPIENT": LIST})
    assert done.returncode == 0, patch


def test_watch_runs_a_delivered_series_once_and_publish_reports_it(tmp_path: Path) -> None:
    box, env = make_inbox(tmp_path)
    for patch in sorted(FIXTURE.glob("*.patch")):
        deliver(env, patch)
    config = tmp_path / "watch.yaml"
    config.write_text(
        f"out: results\nlists:\n  - name: ci-three\n    inbox: {box}\n"
        "    base: debian:6.12\n    run: [check, test]\n    suites: [smoke, demo]\n"
        "    matrix: [kernel]\n"
    )
    first = harness("watch", str(config), "--once")
    assert first.returncode == 0, first.stdout + first.stderr[-3000:]
    runs = [Path(line.split()[-1]) for line in first.stdout.splitlines() if " PASS " in line]
    assert len(runs) == 2, first.stdout
    second = harness("watch", str(config), "--once")
    assert second.returncode == 0 and second.stdout == "", second.stdout + second.stderr
    assert sorted((tmp_path / "results").glob("*-*-*")) == sorted(runs)

    fixture = series.load(FIXTURE)[0]
    ids = [p.message_id for p in fixture.patches]
    pw = Patchwork({100 + n: m for n, m in enumerate(ids)}, {TOKEN: "bot"}, {"bot"})
    cover = fixture.message_id
    with Server(pw) as server, SmtpSink() as smtp:
        for run in runs:
            out = harness(
                "publish",
                str(run),
                "--patchwork",
                server.api,
                "--patchwork-project",
                "ci-three",  # the stand-in's project
                "--kcidb",
                str(run / "kcidb.json"),
                "--smtp",
                smtp.address,
                "--from",
                "ci@harness.invalid",
                "--cc",
                LIST,
                env={"HARNESS_PATCHWORK_TOKEN": TOKEN},
            )
            assert out.returncode == 0, out.stdout + out.stderr
            assert TOKEN not in out.stdout + out.stderr
            kcidb.validate(json.loads((run / "kcidb.json").read_text()))
        ((_, rcpts, mail),) = smtp.mails  # the check run's review; a test run sends none
    contexts = {pid: sorted(c["context"] for c in got) for pid, got in pw.checks.items()}
    assert contexts == {100 + n: ["harness-check", "harness-test"] for n in range(3)}
    assert {c["state"] for got in pw.checks.values() for c in got} <= {"success", "warning"}
    assert mail["In-Reply-To"] == cover and cover in mail["References"]
    assert mail["Subject"] == f"Re: {fixture.subject}" and LIST in rcpts
