"""Real faults on the demo fixture, in a cache of the test's own (the shared Debian tree is
linked in; the worktree slots and build dirs are new, so no other run's warm build is
touched and an interrupted build poisons nothing of theirs): a stale index.lock, SIGTERM
during the build, disk full in the build dir (a small tmpfs), two runs at once on one cache.

Each asserts the exit status, valid JUnit that is not green (or the right result), no
process of the run left behind, the slot locks free, and a correct next run. The guest-side
faults (SIGTERM and SIGHUP mid-boot, QEMU killed, a hang, an OOM) are in
tests/test_real_boot_faults.py, on the shared warm build (they need a kernel; this cache
has none).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PROJECT

# One worker runs them all, one after another: each worker would make a cache of its own,
# and the worktrees of both are added to and removed from the one shared repository.
pytestmark = [pytest.mark.real, pytest.mark.xdist_group("faults")]

DEMO = PROJECT / "patches/fixtures/demo"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from harness.cli import default_cache
    from harness.tree import worktree

    shared_tree = worktree.debian_repo("debian:6.12", default_cache())
    root = tmp_path_factory.mktemp("fault-cache")
    (root / "trees").mkdir()
    (root / "trees/debian-6.12").symlink_to(shared_tree)
    yield root
    # The shared tree's repository must not keep our worktrees (1.3 GB each) registered.
    # Deleted, then pruned: 4 s on an idle machine, against 8 s for `git worktree remove
    # --force`, which first compares every file with the index.
    for tree in (root / "slots").glob("debian-6.12-*/tree"):
        shutil.rmtree(tree, ignore_errors=True)
    git = ["git", "-C", str(shared_tree), "worktree", "prune"]
    subprocess.run(git, check=False, capture_output=True)


def harness(cache: Path, out: Path, *argv: str) -> subprocess.Popen[str]:
    env = {**os.environ, "HARNESS_CACHE": str(cache), "PYTHONPATH": str(PROJECT)}
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *argv, "--out", str(out)],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(run: subprocess.Popen[str], timeout: float = 900) -> tuple[int, str]:
    _, err = run.communicate(timeout=timeout)
    return run.returncode, err


def junit_of(out: Path) -> ET.Element:
    (junit,) = out.glob("*/junit.xml")
    return ET.parse(junit).getroot()  # parses: valid XML


def bad_count(root: ET.Element) -> int:
    return sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in root.iter("testsuite"))


def leftovers(cache: Path) -> list[str]:
    """Live processes whose command line or cwd is inside the test's cache."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = str((entry / "cwd").resolve())
        except OSError:
            continue
        if str(cache) in cmd or cwd.startswith(str(cache)):
            found.append(f"{entry.name}: {cmd[:120]}")
    return found


def locks_free(cache: Path) -> bool:
    for lock in (cache / "slots").glob("*.lock"):
        with open(lock, "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return False
    return True


def wait_for(run: subprocess.Popen[str], text: str, seconds: float) -> str:
    """stderr until `text` appears (the harness's progress notes)."""
    assert run.stderr is not None
    seen = ""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = run.stderr.readline()
        if not line:
            break
        seen += line
        if text in line:
            return seen
    raise AssertionError(f"'{text}' never came:\n{seen[-2000:]}")


def test_first_apply_then_a_stale_index_lock_is_recovered(cache: Path, tmp_path: Path) -> None:
    status, err = finish(harness(cache, tmp_path / "a", "apply", str(DEMO)))
    assert status == 0, err
    gitdir = Path(
        subprocess.run(
            [
                "git",
                "-C",
                str(cache / "slots/debian-6.12-0/tree"),
                "rev-parse",
                "--absolute-git-dir",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (gitdir / "index.lock").write_text("")  # what a git killed mid-checkout leaves
    status, err = finish(harness(cache, tmp_path / "b", "apply", str(DEMO)))
    assert status == 0, err
    assert "removing stale" in err and not (gitdir / "index.lock").exists()
    assert bad_count(junit_of(tmp_path / "b")) == 0
    assert leftovers(cache) == [] and locks_free(cache)


def test_sigterm_during_the_build(cache: Path, tmp_path: Path) -> None:
    run = harness(cache, tmp_path / "t", "test", str(DEMO), "--jobs", "2")
    # the first build in a fresh cache: priming the shared ccache with the bare base
    wait_for(run, "harness: priming the shared ccache", 600)
    time.sleep(5)  # make and its compilers are running
    run.send_signal(signal.SIGTERM)
    status, err = finish(run, 120)
    assert status == 143, err
    root = junit_of(tmp_path / "t")
    assert bad_count(root) >= 1 and "interrupted by SIGTERM" in ET.tostring(root, "unicode")
    assert leftovers(cache) == [] and locks_free(cache)
    # the next run on the same slot starts from a correct tree
    status, err = finish(harness(cache, tmp_path / "next", "apply", str(DEMO)))
    assert status == 0 and bad_count(junit_of(tmp_path / "next")) == 0, err


def test_disk_full_in_the_build_dir(cache: Path, tmp_path: Path) -> None:
    builds = cache / "slots/debian-6.12-0/builds"  # the first free slot's
    builds.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(builds)], check=True)
    try:
        status, err = finish(harness(cache, tmp_path / "full", "test", str(DEMO), "--jobs", "2"))
        root = junit_of(tmp_path / "full")
    finally:
        subprocess.run(["umount", "-l", str(builds)], check=False)
    assert status in (1, 3), err  # the build fails (1), or writing to the build dir does (3)
    text = ET.tostring(root, "unicode")
    assert bad_count(root) >= 1 and "No space left on device" in text, text[-3000:]
    assert leftovers(cache) == [] and locks_free(cache)


def test_two_runs_at_once_on_one_cache(cache: Path, tmp_path: Path) -> None:
    runs = [harness(cache, tmp_path / f"r{n}", "apply", str(DEMO)) for n in (1, 2)]
    results = [finish(r) for r in runs]
    assert [s for s, _ in results] == [0, 0], results
    dirs = [next((tmp_path / f"r{n}").iterdir()) for n in (1, 2)]
    assert bad_count(junit_of(tmp_path / "r1")) == bad_count(junit_of(tmp_path / "r2")) == 0
    assert dirs[0] != dirs[1]
    assert leftovers(cache) == [] and locks_free(cache)
