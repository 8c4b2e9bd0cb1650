"""SIGTERM and SIGHUP stop a run like Ctrl-C: children killed and reaped, an ERROR case
naming the signal, the slot released after the children are gone, exit 128 + signum."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import PROJECT, make_series
from process_state import alive

# The harness with the build stage replaced by a long child that has a grandchild
# (like vng and QEMU); the slot's release records whether they were still alive.
DRIVER = """
import os, sys
from pathlib import Path
from harness import cli, pipeline, proc
from harness.tree import slots

pids = Path(sys.argv[1])

def alive(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False

def long_build(series, opts, prepared, plan=None):
    proc.run(["sh", "-c", f"sleep 60 & echo $$ $! > {pids}.tmp; mv {pids}.tmp {pids}; wait"])

release = slots.Slot.release
def checked_release(self):
    left = [p for p in pids.read_text().split() if alive(int(p))]
    Path(str(pids) + ".at-release").write_text(" ".join(left) or "none")
    release(self)

pipeline._after_apply = long_build
slots.Slot.release = checked_release
sys.exit(cli.main(sys.argv[2:]))
"""


@pytest.mark.parametrize(
    ("signum", "status", "message"),
    [
        (signal.SIGTERM, 143, "interrupted by SIGTERM"),
        (signal.SIGHUP, 129, "interrupted by SIGHUP"),
        (signal.SIGINT, 130, "interrupted by the user (Ctrl-C)"),
    ],
)
def test_a_signal_kills_the_children_and_leaves_an_error_case(
    tiny_repo: Path, tmp_path: Path, signum: int, status: int, message: str
) -> None:
    series = make_series(tiny_repo, tmp_path / "series", [("mm/mmap.c", "line3;", "line3x;")])
    pids = tmp_path / "pids"
    out = tmp_path / "out"
    argv = ["test", str(series), "--tree", str(tiny_repo), "--out", str(out)]
    harness = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(pids), *argv, "--cache", str(tmp_path / "cache")],
        cwd=PROJECT,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not pids.exists() and time.monotonic() < deadline and harness.poll() is None:
        time.sleep(0.05)
    assert pids.exists(), harness.communicate()[1]
    children = [int(p) for p in pids.read_text().split()]
    assert all(alive(p) for p in children)
    harness.send_signal(signum)
    _, stderr = harness.communicate(timeout=30)
    assert harness.returncode == status, stderr
    assert message in stderr and "Traceback" not in stderr
    assert not [p for p in children if alive(p)]
    assert (tmp_path / "pids.at-release").read_text() == "none"
    (run_dir,) = out.iterdir()
    root = ET.parse(run_dir / "junit.xml").getroot()
    errors = [e.get("message") for e in root.iter("error")]
    assert message in errors
    assert sum(int(s.get("errors", 0)) for s in root.iter("testsuite")) >= 1
