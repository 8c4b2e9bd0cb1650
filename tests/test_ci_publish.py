"""harness publish against the patchwork stand-in, kcidb-io and a real SMTP server, and
harness merge of two shards."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from patchwork_standin import Patchwork, Server
from smtp_sink import SmtpSink

from harness import cli
from harness.cases import Case, Status
from harness.ci import kcidb, merge, patchwork
from harness.errors import UserError
from harness.results.rundir import RunDir
from harness.review import report

COVER = "<cover.1@example.org>"
PATCH_IDS = ["<p1.1@example.org>", "<p2.1@example.org>"]
TOKEN = "s3cret-token-value"


def check_run(out: Path, second: Status = Status.FAIL) -> RunDir:
    run = RunDir.create(out, "series", ["check", "series.mbox"])
    run.meta.update(kind="check", series="series", subject="[PATCH 0/2] the thing")
    run.meta.update(message_id=COVER, author="Dev One <dev@example.org>", patches=2)
    run.meta.update(patch_message_ids=PATCH_IDS, base_commit="a" * 40, config=["virtme-min"])
    run.add(Case("base", children=[Case("build", Status.PASS, seconds=3.0)]))
    run.add(Case("0001 one", children=[Case("apply"), Case("build", seconds=1.0)]))
    run.add(Case("0002 two", children=[Case("apply"), Case("checkpatch", second, "ERROR: x")]))
    return run


def standin() -> Patchwork:
    return Patchwork({7: PATCH_IDS[0], 8: PATCH_IDS[1]}, {TOKEN: "bot", "t2": "alice"}, {"bot"})


def test_each_patch_gets_its_own_state_and_the_series_results() -> None:
    run = check_run_in_memory()
    found = patchwork.checks(run.meta, run.suites, "harness-check", "")
    assert [(c.message_id, c.state) for c in found] == [
        (PATCH_IDS[0], "success"),
        (PATCH_IDS[1], "fail"),
    ]
    assert "checkpatch: ERROR: x" in found[1].description


def check_run_in_memory() -> RunDir:
    run = RunDir(Path("/nonexistent"), "series", {"patch_message_ids": PATCH_IDS})
    run.suites = [
        Case("base", children=[Case("build")]),
        Case("0001 one", children=[Case("build")]),
        Case("0002 two", children=[Case("checkpatch", Status.FAIL, "ERROR: x")]),
    ]
    return run


def publish(run: RunDir, *extra: str) -> int:
    return cli.main(["publish", str(run.path), *extra])


def test_publish_posts_checks_writes_kcidb_and_mails_in_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HARNESS_PATCHWORK_TOKEN", TOKEN)
    run = check_run(tmp_path)
    out = tmp_path / "kcidb.json"
    with Server(standin()) as pw, SmtpSink() as smtp:
        rc = publish(
            run,
            "--patchwork",
            pw.api,
            "--kcidb",
            str(out),
            "--smtp",
            smtp.address,
            "--from",
            "bot@ci.example.org",
            "--cc",
            "list@example.org",
            "--target-url",
            "https://ci.example.org/run/1",
        )
        assert rc == 0
        assert [c["state"] for c in pw.pw.checks[7]] == ["success"]
        assert pw.pw.checks[8][0]["state"] == "fail"
        assert pw.pw.checks[8][0]["context"] == "harness-check"
        ((sender, rcpts, msg),) = smtp.mails
    assert msg["In-Reply-To"] == COVER and COVER in msg["References"]
    assert msg["Subject"] == "Re: [PATCH 0/2] the thing"
    assert sender == "bot@ci.example.org" and set(rcpts) == {"dev@example.org", "list@example.org"}
    data = json.loads(out.read_text())
    kcidb.validate(data)
    assert data["checkouts"][0]["message_id"] == COVER.strip("<>")
    assert {t["status"] for t in data["tests"]} == {"PASS", "FAIL"}
    assert TOKEN not in capsys.readouterr().out + capsys.readouterr().err


def test_a_token_patchwork_does_not_accept_is_refused_with_403(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_PATCHWORK_TOKEN", "t2")  # a user, not a maintainer
    with Server(standin()) as pw:
        assert publish(check_run(tmp_path), "--patchwork", pw.api) == 2
        assert pw.pw.refused == [403] and pw.pw.checks == {}


def test_the_standin_refuses_a_check_without_a_valid_state() -> None:
    with Server(standin()) as pw:
        client = patchwork.Client(pw.api, TOKEN)
        with pytest.raises(UserError, match="400.*state"):
            client.post(7, patchwork.Check(PATCH_IDS[0], "passed", "harness", "x"))


def test_nothing_is_published_for_an_infrastructure_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HARNESS_PATCHWORK_TOKEN", TOKEN)
    run = check_run(tmp_path)
    run.add(Case("interrupted", Status.ERROR, "terminated (SIGTERM)"))
    with Server(standin()) as pw:
        assert publish(run, "--patchwork", pw.api, "--kcidb", str(tmp_path / "k.json")) == 0
        assert pw.pw.checks == {}
    assert "nothing published: infrastructure error" in capsys.readouterr().out
    assert not (tmp_path / "k.json").exists()


def test_credentials_come_from_a_file_only_its_owner_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = tmp_path / "credentials"
    creds.write_text(f"# harness\npatchwork_token = {TOKEN}\n")
    monkeypatch.delenv("HARNESS_PATCHWORK_TOKEN", raising=False)
    monkeypatch.setenv("HARNESS_CREDENTIALS", str(creds))
    os.chmod(creds, 0o644)
    with Server(standin()) as pw:
        assert publish(check_run(tmp_path), "--patchwork", pw.api) == 2
        os.chmod(creds, 0o600)
        assert publish(check_run(tmp_path), "--patchwork", pw.api) == 0
        assert len(pw.pw.checks[7]) == 1


def test_kcidb_refuses_what_its_schema_refuses() -> None:
    with pytest.raises(UserError, match="KCIDB"):
        kcidb.validate({"version": {"major": 5}, "checkouts": [{"id": "no-colon", "origin": "x"}]})
    with pytest.raises(UserError, match="origin"):
        kcidb.report({}, [], "Not Valid")


def shard_run(out: Path, k: int, booted: str) -> RunDir:
    run = RunDir.create(out, "demo", ["test", "x", "--shard", f"{k}/2"])
    run.meta.update(series="demo", shard=f"{k}/2", subject="s")
    run.add(Case("apply", children=[Case("0001 a")]))
    run.add(Case("build", Status.PASS, seconds=2.0))
    run.add(Case("kunit", children=[Case("t1")]))
    run.add(Case(booted, children=[Case("case", Status.FAIL if booted == "demo" else Status.PASS)]))
    return run


def test_merge_keeps_shared_stages_once_and_every_shards_tests(tmp_path: Path) -> None:
    one, two = shard_run(tmp_path, 1, "smoke"), shard_run(tmp_path, 2, "demo")
    rc = cli.main(["merge", str(one.path), str(two.path), "--out", str(tmp_path / "m")])
    assert rc == 1
    (merged,) = (tmp_path / "m").iterdir()
    meta, suites = report.load(merged)
    assert [s.name for s in suites] == ["apply", "build", "kunit", "smoke", "demo"]
    assert [len(s.children) for s in suites] == [1, 0, 1, 1, 1]
    assert meta["shards"] == ["1/2", "2/2"] and (merged / "junit.xml").exists()


def test_merge_refuses_the_same_shard_twice_and_other_series(tmp_path: Path) -> None:
    one = shard_run(tmp_path, 1, "smoke")
    with pytest.raises(UserError, match="twice"):
        merge.merged_meta([one.meta, one.meta], [one.path, one.path])
    with pytest.raises(UserError, match="different series"):
        merge.merged_meta([one.meta, {**one.meta, "series": "x"}], [one.path, one.path])
