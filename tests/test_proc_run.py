"""proc.run's deadline against real tiny children (python -c), not fakes: the bug was in
how the pipe is read, which a fake runner would not exercise."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import proc


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


def test_a_fresh_machine_s_missing_ccache_dir_is_made_and_bound_writable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first fresh-clone .ci/run: ~/.cache/ccache did not exist yet, so it was not bound,
    # and every sandboxed build failed "ccache: Failed to create directory ...: Read-only
    # file system" (the hidden $HOME is read-only inside).
    from harness.sandbox import Sandbox

    home = tmp_path / "home"
    home.mkdir()
    ccache = home / ".cache/ccache"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("HARNESS_SANDBOX", "1")
    monkeypatch.setattr(proc, "_ccache_dir", lambda: ccache)
    script = f"mkdir -p {ccache}/tmp && echo made > {ccache}/tmp/x && cat {ccache}/tmp/x"
    result = proc.run(["sh", "-c", script], timeout=60, box=Sandbox(ccache=True))
    assert result.ok and result.output == "made\n", result.output
    assert (ccache / "tmp/x").read_text() == "made\n"


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
