"""proc.run's deadline against real tiny children (python -c), not fakes: the bug was in
how the pipe is read, which a fake runner would not exercise."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import proc, sandbox


def test_the_timeout_holds_when_the_child_prints_a_partial_line_and_hangs() -> None:
    # No newline, then a hang: a line-buffered reader would wait for the newline forever.
    child = "import sys,time; sys.stdout.write('half a line'); sys.stdout.flush(); time.sleep(30)"
    result = proc.run([sys.executable, "-c", child], timeout=1.5)
    assert result.timed_out
    assert result.seconds < 10
    assert result.output == "half a line"


def test_lines_reach_on_line_whole_and_the_tail_without_newline_is_kept() -> None:
    child = "import sys; sys.stdout.write('one\\ntwo\\nthr'); sys.stdout.flush(); print('ee')"
    seen: list[str] = []
    result = proc.run([sys.executable, "-c", child], timeout=30, on_line=seen.append)
    assert result.ok
    assert seen == ["one\n", "two\n", "three\n"]
    assert result.output == "one\ntwo\nthree\n"


def test_a_tool_installed_next_to_the_running_python_is_found_without_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = _tool_beside_a_fake_python(tmp_path, monkeypatch, "vng", "venv-vng")
    assert proc.program("vng") == str(tool)
    assert proc.program("make") == "make"
    proc.require(["vng"])
    assert proc.run(["vng"], timeout=30).output == "venv-vng\n"


def test_without_bwrap_a_sandboxed_run_is_an_environment_error_naming_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.errors import EnvError
    from harness.sandbox import Sandbox

    monkeypatch.setattr(sys, "executable", str(tmp_path / "python3"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap, no prlimit
    monkeypatch.setenv("HARNESS_SANDBOX", "1")
    with pytest.raises(EnvError, match="bwrap: apt-get install bubblewrap"):
        proc.require(proc.SANDBOX_TOOLS)
    with pytest.raises(EnvError, match="apt-get install bubblewrap"):
        proc.run(["true"], box=Sandbox())
    monkeypatch.setenv("HARNESS_SANDBOX", "0")  # --no-sandbox: not needed
    proc.require(proc.SANDBOX_TOOLS)


def test_no_sandbox_warns_and_turns_the_policy_off(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    from harness import cli

    monkeypatch.setenv("HARNESS_SANDBOX", "1")
    cli.main(["parse", "--no-sandbox", "/nonexistent/console.log"])
    assert os.environ["HARNESS_SANDBOX"] == "0"
    assert "warning: --no-sandbox" in capsys.readouterr().err


def test_a_tool_beside_the_running_python_is_found_by_its_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # vng runs virtme-run by bare name: in an unactivated venv it is only beside python.
    _tool_beside_a_fake_python(tmp_path, monkeypatch, "harness-test-tool", "found beside python")
    done = proc.run(["sh", "-c", "harness-test-tool"], timeout=30)
    assert done.returncode == 0, done.output
    assert "found beside python" in done.output


def _tool_beside_a_fake_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, says: str
) -> Path:
    """An unactivated venv: `name` lives beside sys.executable, not on PATH."""
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    tool = venv_bin / name
    tool.write_text(f"#!/bin/sh\necho {says}\n")
    tool.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(venv_bin / "python3"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    return tool


needs_root_and_bwrap = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("bwrap") is None, reason="the uid drop needs root and bwrap"
)


@needs_root_and_bwrap
def test_a_missing_writable_dir_is_made_and_handed_to_the_sandbox_uid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_SANDBOX", "1")
    out = tmp_path / "fresh" / "out"
    box = sandbox.for_step(sandbox.Step.SUITE_BUILD, writes={"out": (out,)})
    result = proc.run(["sh", "-c", f"id -u; echo made > {out}/x"], timeout=60, box=box)
    assert result.ok and result.output == "65534\n", result.output
    assert (out / "x").read_text() == "made\n" and (out / "x").stat().st_uid == 65534


@needs_root_and_bwrap
def test_a_root_only_file_outside_the_hidden_dirs_is_unreadable_inside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # /srv is no hidden dir: only the uid keeps the file from being read.
    monkeypatch.setenv("HARNESS_SANDBOX", "1")
    secret = Path("/srv") / f"harness-test-secret-{os.getpid()}"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    try:
        box = sandbox.for_step(sandbox.Step.TREE_SCRIPT, reads=(tmp_path,))
        result = proc.run(["cat", str(secret)], timeout=60, box=box)
    finally:
        secret.unlink()
    assert not result.ok and "s3cret" not in result.output
    assert result.denied and "Permission denied" in result.denied[0]


@needs_root_and_bwrap
def test_the_tree_is_read_only_to_its_own_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_SANDBOX", "1")
    tree, build = tmp_path / "tree", tmp_path / "build"
    tree.mkdir()
    (tree / ".git").write_text("gitdir: /somewhere\n")
    box = sandbox.for_step(sandbox.Step.KCONFIG, writes={"build": (build,)}, reads=(tree,))
    script = f"echo 'gitdir: {build}/evil' > {tree}/.git"
    result = proc.run(["sh", "-c", script], cwd=build, timeout=60, box=box)
    assert not result.ok and result.denied
    assert (tree / ".git").read_text() == "gitdir: /somewhere\n"


@needs_root_and_bwrap
def test_a_fork_bomb_meets_the_process_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_SANDBOX", "1")
    box = sandbox.for_step(sandbox.Step.TREE_SCRIPT)
    limit = sandbox.POLICY[sandbox.Step.TREE_SCRIPT].nproc
    assert limit is not None
    bomb = f"for i in $(seq {limit + 50}); do sleep 30 & done; wait"
    result = proc.run(["sh", "-c", bomb], timeout=60, box=box)
    assert "fork" in result.output.lower() or "resource" in result.output.lower(), result.output


def test_the_deadline_holds_after_the_child_closes_its_output() -> None:
    started = time.monotonic()
    result = proc.run(["sh", "-c", "exec >&- 2>&-; sleep 30"], timeout=1.5)
    assert result.timed_out and time.monotonic() - started < 10


def test_kill_group_does_not_wait_for_a_zombie_nobody_reaps_yet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """bwrap's pid-namespace init, orphaned when vng's bwrap is killed, stays a zombie until
    pid 1 reaps it: a container's slow init made every boot wait 1.5 s. Here the zombie's
    parent is this test, which reaps it only afterwards."""
    monkeypatch.setattr(proc, "GROUP_GONE_WAIT", 60.0)
    leader = subprocess.Popen(["sleep", "600"], process_group=0)
    member = subprocess.Popen(["sleep", "600"], process_group=leader.pid)
    started = time.monotonic()
    proc.kill_group(leader)
    waited = time.monotonic() - started
    assert member.poll() is None or member.returncode == -9  # reaped only now
    member.wait()
    assert waited < 30  # not the 60 s wait for a live member


def test_a_group_is_alive_while_a_member_runs_and_not_once_only_zombies_are_left() -> None:
    leader = subprocess.Popen(["sleep", "600"], process_group=0)
    member = subprocess.Popen(["sleep", "600"], process_group=leader.pid)
    leader.kill()
    leader.wait()
    assert proc._group_alive(leader.pid)  # the member still runs
    member.kill()
    deadline = time.monotonic() + 30
    while proc._group_alive(leader.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not proc._group_alive(leader.pid)
    assert member.poll() == -9  # it was a zombie until this reaped it


def test_a_failed_step_on_a_full_filesystem_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert proc.out_of_space(tmp_path) == ""  # this machine's /tmp has room

    class Full:
        f_bavail, f_frsize = 3, 4096

    monkeypatch.setattr(proc.os, "statvfs", lambda where: Full())
    assert proc.out_of_space(tmp_path) == f" (No space left on device: 12 kB free in {tmp_path})"
