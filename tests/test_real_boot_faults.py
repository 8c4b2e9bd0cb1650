"""Real guest-side faults on the warm demo build: SIGTERM and SIGHUP while the guest runs,
QEMU killed under vng, a guest OOM and a guest hang (patches/fixtures/guest-faults: the
demo patches, so the demo's worktree and build dir are reused as they are, and the
guest-tests/faults suite, one boot per workload).

Each asserts the exit status, valid JUnit that is not green and says what happened, no
process of the run left (every process the run started, sampled while it ran, is gone, and
so is every member of their sessions and process groups), the slot's lock free at once,
and a correct next run (`harness apply` takes the same slot without waiting and passes).

They use the shared harness cache (a cold build would cost minutes): the faults come only
after the build, so no build dir is left half-written.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import PROJECT

pytestmark = pytest.mark.real

FIXTURE = PROJECT / "patches/fixtures/guest-faults"


@dataclass(frozen=True)
class Proc:
    pid: int
    start: str  # starttime in clock ticks: tells a pid reused by another process apart
    ppid: int
    pgid: int
    sid: int
    comm: str
    state: str


def processes() -> dict[int, Proc]:
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        found[pid] = Proc(
            pid, fields[19], int(fields[1]), int(fields[2]), int(fields[3]), comm, fields[0]
        )
    return found


def descendants(root: int) -> list[Proc]:
    table = processes()
    children: dict[int, list[Proc]] = {}
    for proc in table.values():
        children.setdefault(proc.ppid, []).append(proc)
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child.pid)
    return out


class Run:
    """One `harness` run in the background; every process under it is sampled while it runs."""

    def __init__(self, out: Path, *argv: str) -> None:
        out.mkdir(parents=True)
        self.out = out
        self.stderr_path = out.parent / f"{out.name}.stderr"
        with open(self.stderr_path, "w") as err:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "harness.cli", *argv, "--out", str(out)],
                cwd=PROJECT,
                env={**os.environ, "PYTHONPATH": str(PROJECT)},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        self.seen: dict[tuple[int, str], Proc] = {}
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while self.popen.poll() is None:
            for proc in descendants(self.popen.pid):
                self.seen[(proc.pid, proc.start)] = proc
            time.sleep(0.2)

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def run_dir(self) -> Path:
        (found,) = [p for p in self.out.iterdir() if p.is_dir()]
        return found

    def wait_console(self, name: str, text: str, seconds: float) -> None:
        """Until the console log `name` shows `text` (the guest's own markers)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.popen.poll() is None, f"harness ended first:\n{self.stderr[-3000:]}"
            logs = list(self.out.glob(f"*/{name}"))
            if logs and text in logs[0].read_text(errors="replace"):
                return
            time.sleep(0.3)
        raise AssertionError(f"'{text}' never came in {name}:\n{self.stderr[-3000:]}")

    def running(self, comm_prefix: str) -> list[Proc]:
        return [p for p in descendants(self.popen.pid) if p.comm.startswith(comm_prefix)]

    def finish(self, seconds: float) -> int:
        status = self.popen.wait(seconds)
        self._sampler.join()
        return status

    def leftovers(self) -> list[str]:
        """Live processes the run started, or in their sessions or process groups, or with
        the run's out dir in their command line or cwd (the sandbox and vng carry it)."""
        me = processes()[os.getpid()]
        groups = {p.pgid for p in self.seen.values()} - {me.pgid}
        sessions = {p.sid for p in self.seen.values()} - {me.sid}
        found = []
        for proc in processes().values():
            if proc.state == "Z" or proc.pid == os.getpid():
                continue
            ours = (proc.pid, proc.start) in self.seen
            ours = ours or proc.pgid in groups or proc.sid in sessions or self._names_out(proc)
            if ours:
                found.append(f"{proc.pid} {proc.comm} (pgid {proc.pgid}, sid {proc.sid})")
        return found

    def _names_out(self, proc: Proc) -> bool:
        try:
            cmd = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode(errors="replace")
            cwd = os.readlink(f"/proc/{proc.pid}/cwd")
        except OSError:
            return False
        return str(self.out) in cmd or cwd.startswith(str(self.out))

    def slots_held_free(self) -> bool:
        """The slot locks this run's pid wrote are free now: a second run takes them at once."""
        from harness.cli import default_cache

        held = [
            lock
            for lock in (default_cache() / "slots").glob("*.lock")
            if lock.read_text().strip() == str(self.popen.pid)
        ]
        assert held, "the run recorded no slot lock"
        for lock in held:
            with open(lock, "a") as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    return False
        return True


def results(run_dir: Path) -> tuple[str, dict[str, dict]]:  # type: ignore[type-arg]
    junit = ET.tostring(ET.parse(run_dir / "junit.xml").getroot(), "unicode")  # valid XML
    data = json.loads((run_dir / "results.json").read_text())
    return junit, {suite["name"]: suite for suite in data["suites"]}


def bad_count(junit: str) -> int:
    root = ET.fromstring(junit)
    return sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in root.iter("testsuite"))


def assert_a_correct_next_run(out: Path) -> None:
    """The same series applies at once in the slot the faulted run left."""
    run = Run(out, "apply", str(FIXTURE))
    assert run.finish(600) == 0, run.stderr
    assert "busy" not in run.stderr and "waiting" not in run.stderr, run.stderr
    junit, suites = results(run.run_dir())
    assert bad_count(junit) == 0 and suites["apply"]["status"] == "pass"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_while_the_guest_runs(signum: signal.Signals, tmp_path: Path) -> None:
    run = Run(tmp_path / "run", "test", str(FIXTURE), "--timeout", "300")
    run.wait_console("console.log", "harness: start sleep", 900)  # the guest runs our workload
    assert run.running("qemu-system"), "no QEMU under the run while the guest runs"
    run.popen.send_signal(signum)
    status = run.finish(120)
    assert status == 128 + signum, run.stderr[-3000:]
    junit, suites = results(run.run_dir())
    assert bad_count(junit) >= 1 and f"interrupted by {signum.name}" in junit
    assert suites["interrupted"]["status"] == "error"
    assert run.leftovers() == []
    assert run.slots_held_free()
    assert_a_correct_next_run(tmp_path / "next")


def test_qemu_killed_then_a_guest_oom_then_a_hang(tmp_path: Path) -> None:
    # --jobs 1: the kill is aimed at the sleep boot; side by side it would race the others.
    run = Run(tmp_path / "run", "test", str(FIXTURE), "--timeout", "60", "--jobs", "1")
    run.wait_console("console.log", "harness: start sleep", 900)
    (qemu,) = run.running("qemu-system")
    os.kill(qemu.pid, signal.SIGKILL)
    status = run.finish(900)
    assert status == 1, run.stderr[-3000:]  # README: 1, something failed
    junit, suites = results(run.run_dir())
    boots = {name.removeprefix("boot faults:"): s for name, s in suites.items() if "boot" in name}
    # a killed QEMU is the host's fault, not the kernel's (vng says 255 for both)
    assert boots["sleep"]["status"] == "error", boots["sleep"]
    assert boots["sleep"]["message"].startswith("QEMU was killed by SIGKILL"), boots["sleep"]
    # the allocator was OOM-killed and the workload still said ok: the console decides
    oom = [c for s in suites.values() for c in s.get("children", []) if "OOM" in c["name"]]
    assert oom and oom[0]["status"] == "fail" and "oom" in oom[0]["name"], suites.keys()
    assert boots["hang"]["status"] == "error", boots["hang"]
    assert boots["hang"]["message"] == "timed out after 60s (after boot)"
    workloads = {c["name"]: c["status"] for c in suites["faults"]["children"]}
    assert workloads["sleep"] == "error" and workloads["hang"] == "error", workloads
    assert bad_count(junit) >= 4, junit[-3000:]
    assert run.leftovers() == []
    assert run.slots_held_free()
    assert_a_correct_next_run(tmp_path / "next")
