"""harness watch: config, threading into series, the state file, and whole passes over a
v2 inbox made with git (the real public-inbox-mda delivery is in test_real_ci.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.cases import Case, Status
from harness.ci import assemble, config, inbox, state, watch
from harness.errors import UserError
from harness.intake.series import Series
from harness.results.rundir import RunDir

PATCH = """\
From: Dev <dev@example.org>
Subject: {subject}
Message-ID: <{mid}@example.org>
{headers}
body of {mid}

diff --git a/f b/f
--- a/f
+++ b/f
@@ -1 +1 @@
-a
+b
"""


def mail(subject: str, mid: str, parent: str = "", diff: bool = True) -> bytes:
    headers = f"In-Reply-To: <{parent}@example.org>\nReferences: <{parent}@example.org>\n"
    text = PATCH.format(subject=subject, mid=mid, headers=headers if parent else "")
    return (text if diff else text.split("diff --git")[0]).encode()


def make_inbox(path: Path) -> Path:
    epoch = path / "git" / "0.git"
    subprocess.run(["git", "init", "-q", "--bare", str(epoch)], check=True)
    return path


def deliver(box: Path, raw: bytes) -> None:
    """What public-inbox-mda does to a v2 epoch: one commit replacing the blob m."""
    git = ["git", f"--git-dir={box / 'git' / '0.git'}"]
    blob = (
        subprocess.run(
            [*git, "hash-object", "-w", "--stdin"], input=raw, check=True, capture_output=True
        )
        .stdout.decode()
        .strip()
    )
    tree = (
        subprocess.run(
            [*git, "mktree"],
            input=f"100644 blob {blob}\tm\n".encode(),
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .strip()
    )
    head = subprocess.run([*git, "rev-parse", "-q", "--verify", "HEAD"], capture_output=True)
    parent = ["-p", head.stdout.decode().strip()] if head.returncode == 0 else []
    env = {
        "GIT_AUTHOR_NAME": "a",
        "GIT_AUTHOR_EMAIL": "a@b",
        "GIT_COMMITTER_NAME": "a",
        "GIT_COMMITTER_EMAIL": "a@b",
        "PATH": "/usr/bin:/bin",
    }
    commit = (
        subprocess.run(
            [*git, "commit-tree", tree, *parent, "-m", "m"],
            check=True,
            capture_output=True,
            env=env,
        )
        .stdout.decode()
        .strip()
    )
    subprocess.run([*git, "update-ref", "HEAD", commit], check=True)


SERIES = [
    mail("[PATCH 0/3] the cover", "c0", diff=False),
    mail("[PATCH 1/3] one", "p1", "c0"),
    mail("[PATCH 2/3] two", "p2", "c0"),
    mail("[PATCH 3/3] three", "p3", "c0"),
]


def write_config(tmp: Path, box: Path, extra: str = "") -> config.WatchConfig:
    path = tmp / "watch.yaml"
    path.write_text(
        f"lists:\n  - name: mm\n    inbox: {box}\n    base: debian:6.12\n"
        f"    suites: [smoke]\n{extra}"
    )
    return config.load(path)


class FakeRunner:
    def __init__(self, out: Path) -> None:
        self.out, self.calls = out, []  # type: list[tuple[str, str]]

    def __call__(self, kind: str, one: Series, lst: config.ListConfig, argv: list[str]) -> RunDir:
        self.calls.append((kind, one.subject))
        run = RunDir.create(self.out, one.name, argv)
        run.add(Case("apply", Status.PASS))
        return run


def one_pass(cfg: config.WatchConfig, runner: FakeRunner, now: float) -> list[watch.Outcome]:
    with state.held(cfg.state) as st:
        return watch.one_pass(watch.Pass(cfg, cfg.path.parent, now, runner), st)


def test_config_refuses_unknown_keys_and_bad_runs(tmp_path: Path) -> None:
    bad = tmp_path / "w.yaml"
    for text, why in [
        ("lists: []\n", "non-empty"),
        ("lists:\n  - {name: a, inbox: x, run: [boot]}\n", "'run' takes"),
        ("lists:\n  - {name: a, inbox: x, colour: red}\n", "unknown key 'colour'"),
        ("lists:\n  - {name: a}\n", "required"),
        ("incomplete_after: soon\nlists:\n  - {name: a, inbox: x}\n", "seconds"),
        ("lists:\n  - {name: a, inbox: x, matrix: [kernel, mips]}\n", "--matrix"),
    ]:
        bad.write_text(text)
        with pytest.raises(UserError, match=why):
            config.load(bad)


def test_config_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, Path("inbox"))
    assert cfg.lists[0].inbox == tmp_path / "inbox"
    assert cfg.state == tmp_path / "watch-state.json" and cfg.lists[0].run == ("check", "test")
    assert cfg.lists[0].matrix == ()  # check's whole matrix
    (tmp_path / "m.yaml").write_text("lists:\n  - {name: a, inbox: x, matrix: [i386, kernel]}\n")
    assert config.load(tmp_path / "m.yaml").lists[0].matrix == ("kernel", "i386")


def refs(mails: list[bytes]) -> list[assemble.MailRef]:
    return [assemble.mail_ref(m, "0.git", str(i)) for i, m in enumerate(mails)]


def test_a_thread_becomes_one_complete_series_with_its_replies() -> None:
    reply = mail("Re: [PATCH 2/3] two", "r1", "p2", diff=False)
    (cand,) = assemble.candidates(refs([*SERIES, reply]))
    assert cand.complete and cand.total == 3 and cand.root == "<c0@example.org>"
    assert [m.message_id for m in cand.mails][-1] == "<r1@example.org>"
    assert cand.subject == "[PATCH 0/3] the cover"


def test_a_missing_patch_and_a_second_revision_are_told_apart() -> None:
    v2 = [mail("[PATCH v2 1/2] one", "v2p1", "c0"), mail("[PATCH v2 2/2] two", "v2p2", "c0")]
    found = {c.key: c for c in assemble.candidates(refs([SERIES[0], SERIES[1], *v2]))}
    assert found["<c0@example.org>#v1"].missing == (2, 3)
    assert found["<c0@example.org>#v2"].complete


def test_a_lone_patch_is_a_series_of_one() -> None:
    (cand,) = assemble.candidates(refs([mail("[PATCH net] fix", "x")]))
    assert cand.complete and cand.total == 1


def test_inbox_reader_sees_added_mails_and_skips_removed_ones() -> None:
    log = "C c1\n\n:000000 100644 0000 aaa A\tm\nC c2\n\n:100644 000000 aaa 0000 D\tm\n"
    assert inbox.added_blobs(log, "0.git") == [inbox.Stored("0.git", "c1", "aaa")]


def test_watch_runs_a_complete_series_once(tmp_path: Path) -> None:
    box = make_inbox(tmp_path / "inbox")
    for raw in SERIES:
        deliver(box, raw)
    cfg = write_config(tmp_path, box)
    runner = FakeRunner(tmp_path / "results")
    (outcome,) = one_pass(cfg, runner, now=1000.0)
    assert outcome.status == "done" and runner.calls == [
        ("check", "[PATCH 0/3] the cover"),
        ("test", "[PATCH 0/3] the cover"),
    ]
    run = outcome.runs[0]
    assert run.meta["list"] == "mm" and run.meta["watch_key"] == "<c0@example.org>#v1"
    mbox = Path(run.meta["argv"][1])
    assert (
        mbox.parent == tmp_path / "results" / "mbox" and b"[PATCH 3/3] three" in mbox.read_bytes()
    )
    assert one_pass(cfg, runner, now=2000.0) == [] and len(runner.calls) == 2


def test_an_incomplete_series_waits_then_is_reported(tmp_path: Path) -> None:
    box = make_inbox(tmp_path / "inbox")
    for raw in SERIES[:3]:
        deliver(box, raw)
    cfg = write_config(tmp_path, box, "incomplete_after: 600\n")
    runner = FakeRunner(tmp_path / "results")
    assert one_pass(cfg, runner, now=1000.0) == []
    (late,) = one_pass(cfg, runner, now=1700.0)
    assert late.status == "incomplete" and "missing 3/3" in late.message and runner.calls == []
    assert late.runs[0].suites[0].status is Status.FAIL
    assert one_pass(cfg, runner, now=9000.0) == []


def test_a_series_completed_by_a_later_mail_runs_then(tmp_path: Path) -> None:
    box = make_inbox(tmp_path / "inbox")
    for raw in SERIES[:3]:
        deliver(box, raw)
    cfg = write_config(tmp_path, box)
    runner = FakeRunner(tmp_path / "results")
    assert one_pass(cfg, runner, now=1000.0) == []
    deliver(box, SERIES[3])
    (outcome,) = one_pass(cfg, runner, now=1001.0)
    assert outcome.status == "done" and len(runner.calls) == 2


def test_a_run_cut_short_is_run_again_after_a_restart(tmp_path: Path) -> None:
    box = make_inbox(tmp_path / "inbox")
    for raw in SERIES:
        deliver(box, raw)
    cfg = write_config(tmp_path, box)

    def dies(*args: object) -> RunDir:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), state.held(cfg.state) as st:
        watch.one_pass(watch.Pass(cfg, tmp_path, 1.0, dies), st)  # type: ignore[arg-type]
    assert state.read(cfg.state).series["<c0@example.org>#v1"].status == "started"
    runner = FakeRunner(tmp_path / "results")
    (outcome,) = one_pass(cfg, runner, now=2.0)
    assert outcome.status == "done" and len(runner.calls) == 2


def test_a_second_watcher_on_the_same_state_is_refused(tmp_path: Path) -> None:
    with state.held(tmp_path / "s.json"), pytest.raises(UserError, match="another"):
        with state.held(tmp_path / "s.json"):
            pass


def test_not_an_inbox_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="v2 inbox"):
        inbox.epochs(tmp_path)
