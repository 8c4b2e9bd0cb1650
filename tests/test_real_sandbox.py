"""The sandbox for real: hostile fixture series whose checkpatch.pl, mm/Makefile and
merge_config.sh try to print a file the host keeps in /root, create a file outside the
tree and connect out; and a guest asked to print that file. (harness check never runs a
patched checkpatch.pl: it checks every patch with the base tree's copy.)

Each asserts the host file was not created, the secret is nowhere in the run dir, and
the case says the sandbox stopped it. Warm: the virtme-min build dir, an incremental build.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PROJECT

pytestmark = pytest.mark.real

SECRET = Path("/root/harness-sandbox-secret")
# Outside every hidden dir, root's own and mode 0600: only the sandbox's uid guards it.
ROOT_ONLY = Path("/srv/harness-sandbox-root-only")
PWNED = Path("/usr/local/harness-sandbox-pwned")
GIT_PWNED = Path("/usr/local/harness-git-pwned")
STOPPED = "the sandbox stopped it"


@pytest.fixture(scope="module")
def secret() -> Iterator[str]:
    token = f"harness-secret-{secrets.token_hex(8)}"
    for path in (SECRET, ROOT_ONLY):
        path.write_text(token + "\n")
        path.chmod(0o600)
    PWNED.unlink(missing_ok=True)
    yield token
    SECRET.unlink(missing_ok=True)
    ROOT_ONLY.unlink(missing_ok=True)


def run(command: str, series: str, out: Path) -> tuple[dict[str, dict], Path]:  # type: ignore[type-arg]
    env = {**os.environ, "HARNESS_SANDBOX": "1"}
    argv = [sys.executable, "-m", "harness.cli", command, str(PROJECT / series), "--out", str(out)]
    subprocess.run(argv, cwd=PROJECT, env=env, timeout=3600)
    (run_dir,) = out.iterdir()
    data = json.loads((run_dir / "results.json").read_text())
    return {s["name"]: s for s in data["suites"]}, run_dir


def leaked(token: str, run_dir: Path) -> list[str]:
    return [str(p) for p in run_dir.rglob("*") if p.is_file() and token in p.read_text("latin-1")]


def assert_stopped(case: dict, token: str, run_dir: Path) -> None:  # type: ignore[type-arg]
    assert case["status"] == "fail", case
    assert STOPPED in case["message"], case["message"]
    logged = "\n".join(p.read_text("latin-1") for p in run_dir.rglob("*.log"))
    stopped = [line for line in logged.splitlines() if line.startswith("harness: the sandbox")]
    for what in ("Read-only file system", "harness-sandbox-secret", "Network is unreachable"):
        assert any(what in line for line in stopped), (what, stopped)
    assert not PWNED.exists()
    assert leaked(token, run_dir) == []


def test_check_stops_a_hostile_makefile_and_never_runs_a_patched_checkpatch(
    secret: str, tmp_path: Path
) -> None:
    # Patch 1 edits checkpatch.pl, patch 2 mm/Makefile. harness check builds each patch, so
    # the Makefile runs (in the sandbox); checkpatch checks both patches with the base
    # tree's checkpatch.pl, so the patched one never runs, and patch 1 is told so.
    suites, run_dir = run("check", "patches/fixtures/sandbox-escape", tmp_path)
    first, second = (s for name, s in suites.items() if name[:4].isdigit())
    cases = {c["name"]: c for c in second["children"]}
    assert_stopped(cases["build"], secret, run_dir)
    assert cases["checkpatch"]["status"] != "error", cases["checkpatch"]
    checkpatch_log = (run_dir / "checkpatch.log").read_text()
    # what the hostile lines print when they run (checkpatch may quote the lines themselves)
    ran = ("cat: /root/harness-sandbox-secret", "touch: cannot touch", "connect: ")
    ran += ("harness: the sandbox",)
    assert not [line for line in checkpatch_log.splitlines() if line.startswith(ran)]
    hygiene = {c["name"]: c for c in first["children"]}["hygiene"]
    assert "edits scripts/checkpatch.pl, which harness runs" in hygiene["details"], hygiene


def test_test_stops_a_hostile_makefile(secret: str, tmp_path: Path) -> None:
    suites, run_dir = run("test", "patches/fixtures/sandbox-escape", tmp_path)
    assert_stopped(suites["build"], secret, run_dir)


def test_test_stops_a_hostile_kconfig_helper(secret: str, tmp_path: Path) -> None:
    suites, run_dir = run("test", "patches/fixtures/sandbox-escape-kconfig", tmp_path)
    assert_stopped(suites["kconfig"], secret, run_dir)


def test_a_series_that_aims_git_elsewhere_runs_nothing_outside(secret: str, tmp_path: Path) -> None:
    # merge_config.sh rewrites the worktree's .git, sets core.fsmonitor in its config and
    # plants a hook: the tree is read-only to it, so all three are stopped; harness's own
    # git, now and in a later run on the same cache, runs no program of theirs.
    from harness import git
    from harness.cli import default_cache

    GIT_PWNED.unlink(missing_ok=True)
    suites, run_dir = run("test", "patches/fixtures/sandbox-escape-git", tmp_path)
    kconfig = suites["kconfig"]
    assert kconfig["status"] == "fail" and STOPPED in kconfig["message"], kconfig
    logged = (run_dir / "build.log").read_text("latin-1")
    stopped = [line for line in logged.splitlines() if line.startswith("harness: the sandbox")]
    assert any(".git" in line or "config" in line or "hooks" in line for line in stopped), stopped
    worktrees = sorted((default_cache() / "slots").glob("debian-6.12-*[0-9]/tree"))
    assert worktrees
    for tree in worktrees:
        git.check_worktree(tree)  # the .git harness wrote, in every slot
        assert git.run(tree, "update-index", "-q", "--refresh").returncode is not None
        assert git.run(tree, "ls-files", "-s").ok
    assert not GIT_PWNED.exists()


def warm_kernel(into: Path) -> Path:
    """A copy of a warm virtme-min bzImage, taken under its slot's lock (the earlier real
    tests built it)."""
    from harness.build import ccache
    from harness.cli import default_cache
    from harness.intake.series import load_one
    from harness.tree import slots

    demo = ccache.owner_of(load_one(PROJECT / "patches" / "fixtures" / "demo"))
    key = ccache.build_key([PROJECT / "kconfigs" / "virtme-min.config"], demo)
    slot = slots.take(default_cache(), "debian-6.12", key)
    try:
        image = slot.build_dir(key) / "arch/x86/boot/bzImage"
        assert image.is_file(), f"no warm virtme-min kernel in {slot.build_dir(key)}"
        (into / "bzImage").write_bytes(image.read_bytes())
    finally:
        slot.release()
    return into / "bzImage"


def test_a_guest_cannot_read_a_file_the_host_keeps_in_root(
    secret: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.boot import vm

    monkeypatch.setenv("HARNESS_SANDBOX", "1")
    # The slot's build dir holds whatever fixture was built last (boot-panic's kernel never
    # reaches the command): build the demo series there first, a warm rebuild.
    run("test", "patches/fixtures/demo", tmp_path / "demo")
    command = (
        f"cat {SECRET} {ROOT_ONLY}; ls -a /root /home; head -c 300 /etc/shadow; echo GUEST-END"
    )
    spec = vm.VmSpec(
        kernel=warm_kernel(tmp_path),
        command=command,
        console_log=tmp_path / "console.log",
        guest_log=tmp_path / "guest.log",
        timeout=300,
    )
    result = vm.boot(spec)
    seen = result.guest_output + result.console
    assert "GUEST-END" in result.guest_output, seen[-2000:]  # the command did run
    assert f"{SECRET}: No such file or directory" in seen
    # QEMU's 9p export reads as the sandbox uid: the guest's root sees the file listed but
    # gets no content ("Permission denied"), or no file where virtme's overlay covers /srv.
    refused = ("Permission denied", "No such file or directory")
    assert any(f"{ROOT_ONLY}: {why}" in seen for why in refused), seen[-2000:]
    assert secret not in seen
    assert Path("/etc/shadow").read_text().splitlines()[0] not in seen
