"""harness publish against the patchwork stand-in, kcidb-io and a real SMTP server, and
harness merge of two shards."""

from __future__ import annotations

import json
import os
import ssl
from pathlib import Path

import pytest
import trustme
from patchwork_standin import Patchwork, Server, validate_check
from smtp_sink import SmtpSink

from harness import cli
from harness.cases import Case, Status
from harness.ci import kcidb, mailout, merge, patchwork
from harness.errors import UserError
from harness.results import rundir
from harness.results.rundir import RunDir

COVER = "<cover.1@example.org>"
PATCH_IDS = ["<p1.1@example.org>", "<p2.1@example.org>"]
TOKEN = "s3cret-token-value"
PROJECT = "ci-three"  # the stand-in's first project


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
    found = patchwork.verdicts(run.meta, run.suites, "harness-check", "").checks
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
    if "--patchwork" in extra:
        extra = (*extra, "--patchwork-project", PROJECT)
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
        client = patchwork.Client(pw.api, TOKEN, PROJECT)
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
    meta, suites = rundir.load(merged)
    assert [s.name for s in suites] == ["apply", "build", "kunit", "smoke", "demo"]
    assert [len(s.children) for s in suites] == [1, 0, 1, 1, 1]
    assert meta["shards"] == ["1/2", "2/2"] and (merged / "junit.xml").exists()


def test_merge_refuses_the_same_shard_twice_and_other_series(tmp_path: Path) -> None:
    one = shard_run(tmp_path, 1, "smoke")
    with pytest.raises(UserError, match="twice"):
        merge.merged_meta([one.meta, one.meta], [one.path, one.path])
    with pytest.raises(UserError, match="different series"):
        merge.merged_meta([one.meta, {**one.meta, "series": "x"}], [one.path, one.path])


# Publishing that cannot mislead: patchwork's API versions, projects, pages and refusals.


def test_api_versions_without_the_msgid_filter_are_refused_before_anything_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HARNESS_PATCHWORK_TOKEN", TOKEN)
    out = tmp_path / "k.json"
    with Server(standin()) as pw:
        for old in ("1.0/", "1.1/", ""):
            assert (
                publish(check_run(tmp_path), "--patchwork", pw.root + old, "--kcidb", str(out)) == 2
            )
        assert pw.pw.asked == [] and not out.exists()
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and "ignores the Message-ID filter" in err[0]


def test_the_standin_ignores_msgid_below_api_1_2_as_patchwork_does() -> None:
    with Server(standin()) as pw:
        client = patchwork.Client(pw.root + "1.1/", TOKEN, PROJECT)
        assert [p["id"] for p in client.patches({"msgid": PATCH_IDS[1].strip("<>")})] == [7, 8]
        with pytest.raises(UserError, match="ignores the Message-ID filter"):
            client.find_patch(PATCH_IDS[1])
        newer = patchwork.Client(pw.root + "1.2/", TOKEN, PROJECT)
        assert newer.find_patch(PATCH_IDS[1]) == 8


def test_a_cross_posted_patch_gets_its_check_in_our_project_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_PATCHWORK_TOKEN", TOKEN)
    # The same mail on two lists: patch 5 in another project (listed first), 9 in ours.
    pw_data = Patchwork(
        {5: PATCH_IDS[0], 8: PATCH_IDS[1], 9: PATCH_IDS[0]},
        {TOKEN: "bot"},
        {"bot"},
        projects={1: PROJECT, 2: "netdev"},
        patch_projects={5: 2},
    )
    with Server(pw_data) as pw:
        assert publish(check_run(tmp_path), "--patchwork", pw.api) == 0
        assert sorted(pw.pw.checks) == [8, 9] and pw.pw.refused == []
        assert any("project=ci-three" in asked for asked in pw.pw.asked)


def test_patches_are_read_page_by_page() -> None:
    many = Patchwork({n: f"<p{n}@x>" for n in range(1, 8)}, {TOKEN: "bot"}, {"bot"})
    with Server(many) as pw:
        client = patchwork.Client(pw.api, TOKEN, PROJECT)
        assert [p["id"] for p in client.patches({"per_page": "3"})] == list(range(1, 8))
        assert len(pw.pw.asked) == 3


def test_an_unknown_project_is_refused_with_400_and_nothing_is_posted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_PATCHWORK_TOKEN", TOKEN)
    with Server(standin()) as pw:
        argv = ["publish", str(check_run(tmp_path).path), "--patchwork", pw.api]
        assert cli.main([*argv, "--patchwork-project", "no-such"]) == 2
        assert cli.main(argv) == 2  # no project at all: refused before any request
        assert pw.pw.refused == [400] and pw.pw.checks == {}


@pytest.mark.parametrize(
    "body",
    [
        {"state": "success", "context": "harness.check"},
        {"state": "success", "context": "x" * 256},
        {"state": "success", "target_url": "http://jenkins/job/1"},
        {"state": "success", "target_url": "https://ci.example.org/" + "r" * 200},
        {"state": "success", "target_url": "file:///etc/passwd"},
    ],
)
def test_the_standin_refuses_what_patchwork_refuses(body: dict[str, str]) -> None:
    assert validate_check(body)


def test_the_standin_takes_what_patchwork_takes() -> None:
    for url in ("https://ci.example.org/run/1", "http://localhost:8080/x", "http://10.0.0.1/"):
        assert (
            validate_check({"state": "fail", "context": "harness-check", "target_url": url}) == {}
        )


@pytest.mark.parametrize(
    "option", [("--context", "harness.check"), ("--target-url", "http://jenkins/job/1")]
)
def test_a_context_or_url_patchwork_would_refuse_stops_publish_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: tuple[str, str]
) -> None:
    monkeypatch.setenv("HARNESS_PATCHWORK_TOKEN", TOKEN)
    with Server(standin()) as pw:
        assert publish(check_run(tmp_path), "--patchwork", pw.api, *option) == 2
        assert pw.pw.asked == []


def test_a_clean_test_run_is_success_whatever_its_tests_printed() -> None:
    ktap = Case("smoke", children=[Case("boots", details="# took 1.2 s\n# all fine")])
    build = Case("build", details="  CC mm/gmem.o")
    assert patchwork.state_of([build, ktap]) == "success"
    warned = Case("checkpatch", message="0 errors, 1 warnings, 0 checks", details="WARNING: x")
    warned.properties.update(errors="0", warnings="1", checks="0")
    assert patchwork.state_of([ktap, warned]) == "warning"
    hygiene = Case("hygiene", message="1 warning(s)", properties={"worst": "warning"})
    assert patchwork.state_of([hygiene]) == "warning"
    noted = Case("maintainers", message="1 note(s)", details="info", properties={"worst": "info"})
    assert patchwork.state_of([noted]) == "success"


def test_a_patch_without_its_own_results_gets_no_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = check_run(tmp_path, second=Status.PASS)
    third = "<p3.1@example.org>"
    run.meta.update(patch_message_ids=[*PATCH_IDS, third], patches=3)
    run.flush()
    found = patchwork.verdicts(run.meta, run.suites, "harness-check", "")
    assert [c.message_id for c in found.checks] == PATCH_IDS and found.unjudged == (third,)
    monkeypatch.setenv("HARNESS_PATCHWORK_TOKEN", TOKEN)
    with Server(
        Patchwork({7: PATCH_IDS[0], 8: PATCH_IDS[1], 9: third}, {TOKEN: "bot"}, {"bot"})
    ) as pw:
        assert publish(run, "--patchwork", pw.api) == 0
        assert sorted(pw.pw.checks) == [7, 8]
    assert f"{third}: the run has no results of its own" in capsys.readouterr().err


# TLS: verified certificates, clear text only on this host.


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000/api/1.3/", "http://[::1]/api/1.2/", "http://localhost/api/1.3/"],
)
def test_plain_http_patchwork_is_taken_on_this_host(url: str) -> None:
    assert patchwork.api_url(url, insecure=False) == url


def test_plain_http_patchwork_elsewhere_needs_insecure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "http://patchwork.example.org/api/1.3/"
    with pytest.raises(UserError, match="clear text"):
        patchwork.api_url(url, insecure=False)
    assert patchwork.api_url(url, insecure=True) == url
    assert patchwork.api_url(url.replace("http:", "https:"), insecure=False)
    monkeypatch.setenv("HARNESS_PATCHWORK_TOKEN", TOKEN)
    assert publish(check_run(tmp_path), "--patchwork", url) == 2
    assert "clear text" in capsys.readouterr().err


def test_clear_text_smtp_only_to_this_host_or_with_insecure() -> None:
    assert mailout.tls_mode("127.0.0.1", "", insecure=False) == "none"
    assert mailout.tls_mode("smtp.example.org", "", insecure=False) == "starttls"
    with pytest.raises(UserError, match="clear text"):
        mailout.tls_mode("smtp.example.org", "none", insecure=False)
    assert mailout.tls_mode("smtp.example.org", "none", insecure=True) == "none"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


def mail_review(run: RunDir, smtp: SmtpSink, *extra: str) -> int:
    argv = ["--smtp", smtp.address, "--from", "bot@ci.example.org", *extra]
    return cli.main(["publish", str(run.path), *argv])


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_an_smtp_certificate_is_verified_and_a_private_ca_can_be_named(
    tmp_path: Path, ca: trustme.CA, mode: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    run = check_run(tmp_path)
    with SmtpSink(tls=server_context(ca), implicit=mode == "tls") as smtp:
        assert mail_review(run, smtp, "--smtp-tls", mode) == 3
        assert smtp.mails == []
        assert "certificate not trusted" in capsys.readouterr().err
        assert mail_review(run, smtp, "--smtp-tls", mode, "--ca-file", str(ca_file)) == 0
        assert len(smtp.mails) == 1 and smtp.keep.over_tls == [True]


def test_starttls_is_required_where_asked(tmp_path: Path) -> None:
    with SmtpSink() as smtp:  # offers no STARTTLS
        assert mail_review(check_run(tmp_path), smtp, "--smtp-tls", "starttls") == 3
        assert smtp.mails == []


def test_kcidb_reports_a_parent_failing_on_its_own_as_a_test() -> None:
    workload = Case(
        "exit_teardown", Status.FAIL, "killed by signal 9", children=[Case("a"), Case("b")]
    )
    suites = [Case("build", Status.PASS), Case("gmem", children=[workload])]
    tests = kcidb.report({"run": "r"}, suites, "harness")["tests"]
    assert [(t["path"], t["status"]) for t in tests] == [
        ("gmem.exit_teardown.a", "PASS"),
        ("gmem.exit_teardown.b", "PASS"),
        ("gmem.exit_teardown", "FAIL"),
    ]
    assert tests[2]["comment"] == "not ok after 2 passing subtests (killed by signal 9)"
