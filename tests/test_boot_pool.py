"""Boots side by side (`harness test --jobs N`, boot/pool.py): fake vng processes (sh scripts
at the vng seam) that only finish when both are running at once, results collected in boot
order though the later boot ends first, one console per workload; a SIGTERM while two run
kills both process groups; how many boots fit a host."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import PROJECT, make_series
from process_state import alive

from harness import pipeline
from harness.boot import kvm, pool, vm
from harness.build import make
from harness.cases import Status
from harness.intake.series import Series, SeriesConfig
from harness.results.rundir import RunDir
from harness.suites import guest, series_tests
from harness.suites.discover import Discovery

# vng's stand-in: $1 the console log, $2 the guest script. It waits (up to 10 s) until
# both boots have started, says whether they did, then runs the guest script with the
# kernel log (/dev/kmsg) on stderr, the console. The first boot ends last.
OVERLAPPING_VNG = r"""
dir=$(dirname "$1"); touch "$1.started"; i=0
while [ "$(ls "$dir" | grep -c '\.started$')" -lt 2 ] && [ $i -lt 200 ]; do
    sleep 0.05; i=$((i + 1))
done
[ "$(ls "$dir" | grep -c '\.started$')" -ge 2 ] && echo "both boots running" >&2
echo '[    0.9] Run /init as init process' >&2
case "$1" in */console.log) sleep 1 ;; *) sleep 0.5 ;; esac
sed 's#/dev/kmsg#/dev/stderr#g' "$2" | sh
"""

RUN_SH = "echo 'KTAP version 1'; echo '1..1'; echo \"ok 1 $1\"\n"


def _isolated(tmp_path: Path, workloads: tuple[str, ...]) -> tuple[Series, series_tests.Plan]:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "run.sh").write_text(RUN_SH)
    built = guest.BuiltSuite("work", suite, workloads)
    plan = series_tests.Plan(Discovery(), (), None, prebuilt=(built,))
    return Series("s", tmp_path, (), None, SeriesConfig(isolate=("work",)), ""), plan


def test_two_boots_overlap_and_are_collected_in_boot_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails one by one: the first fake waits for a second that has not started."""
    monkeypatch.setattr(kvm, "verdict", lambda cache: kvm.KvmVerdict(False, "test"))
    monkeypatch.setattr(
        vm,
        "vng_argv",
        lambda spec: (
            ["sh", "-c", OVERLAPPING_VNG, "fake-vng", str(spec.console_log)]
            + spec.command.split()[-1:]
        ),
    )
    series, plan = _isolated(tmp_path, ("first", "second"))
    run = RunDir.create(tmp_path / "out", "s", [])
    opts = pipeline.TestOptions(argv=[], out=tmp_path, cache=tmp_path, boots=2)
    build = make.BuildSpec(tmp_path, tmp_path, 1)
    started = time.monotonic()
    pipeline._guest_stage(series, opts, run, build, tmp_path / "bzImage", plan)
    assert time.monotonic() - started < 8  # one by one, the first alone waits 10 s
    assert [s.name for s in run.suites] == ["boot work:first", "work", "boot work:second"]
    assert [c.status for c in run.suites] == [Status.PASS] * 3
    assert [(c.name, c.status) for c in run.suites[1].children] == [
        ("first", Status.PASS),
        ("second", Status.PASS),
    ]
    consoles = [run.file(c.properties["console"]) for c in (run.suites[0], run.suites[2])]
    assert [p.name for p in consoles] == ["console.log", "console-1.log"]
    for console, workload in zip(consoles, ("first", "second"), strict=True):
        text = console.read_text()
        assert "both boots running" in text and "# harness: suite work begin" in text
        assert f"ok 1 {workload}" in console.with_suffix(".out").read_text()
    assert run.meta["boots_at_once"] == 2
    # Stage times are wall time: less than the two overlapping boots' own seconds added up.
    each = sum(c.seconds for c in (run.suites[0], run.suites[2]))
    assert run.clock.seconds["boot"] + run.clock.seconds["tests"] < each


def test_one_at_a_time_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TestOptions' default (bisect, watch): one boot after the other, in this thread."""
    threads: list[str] = []

    def fake_boot(spec: vm.VmSpec, phases: object = None, stop: object = None) -> vm.BootResult:
        threads.append(threading.current_thread().name)
        assert stop is None
        return vm.BootResult(Status.PASS, "guest command exited 0", 0, 1.0, "", "", False)

    monkeypatch.setattr(vm, "boot", fake_boot)
    monkeypatch.setattr(kvm, "verdict", lambda cache: kvm.KvmVerdict(False, "test"))
    series, plan = _isolated(tmp_path, ("a", "b", "c"))
    run = RunDir.create(tmp_path / "out", "s", [])
    opts = pipeline.TestOptions(argv=[], out=tmp_path, cache=tmp_path)
    pipeline._guest_stage(series, opts, run, make.BuildSpec(tmp_path, tmp_path, 1), tmp_path, plan)
    assert threads == ["MainThread"] * 3
    assert "boots_at_once" not in run.meta


def test_a_failing_boot_stops_the_others_before_the_error_propagates() -> None:
    started: list[int] = []
    stopped: list[int] = []

    def failing(stop: threading.Event | None) -> int:
        raise RuntimeError("vng broke")

    def waiting(stop: threading.Event | None) -> int:
        assert stop is not None
        started.append(1)
        if stop.wait(10):
            time.sleep(0.2)  # killing a QEMU group takes a while: the raise must wait for it
            stopped.append(1)
            raise vm.Stopped
        return 1

    done: list[tuple[int, int]] = []
    with pytest.raises(RuntimeError, match="vng broke"):
        pool.run_in_order([failing, waiting, waiting], 2, lambda i, r: done.append((i, r)))
    # The third may start in the failed one's thread before the stop: then it stops too.
    assert done == [] and 1 <= len(started) == len(stopped)


def test_how_many_boots_fit() -> None:
    gib = 1 << 30
    assert pool.at_once(2, 14, "2G", available=22 * gib) == 2
    assert pool.at_once(4, 3, "2G", available=22 * gib) == 3  # no more than there are boots
    assert pool.at_once(4, 14, "2G", available=5 * gib) == 2  # what memory holds
    assert pool.at_once(4, 14, "2G", available=gib) == 1  # never less than one
    assert pool.at_once(2, 14, "lots", available=0) == 2  # unknown: --jobs decides
    assert pool.memory_bytes("512M") == 512 << 20 and pool.memory_bytes("1024") == gib


# The harness with the build replaced by two isolated boots of a fake vng that starts a
# grandchild (like QEMU) and hangs; each writes "its pid and the grandchild's" to a file.
DRIVER = """
import sys
from pathlib import Path
from harness import cli, pipeline
from harness.boot import kvm, vm
from harness.build import make
from harness.intake.series import Series, SeriesConfig
from harness.suites import guest, series_tests
from harness.suites.discover import Discovery

pids = Path(sys.argv[1])
HANG = 'sleep 120 & echo $$ $! > "$1.tmp"; mv "$1.tmp" "$1"; echo booted >&2; wait'

def two_boots(series, opts, prepared, plan=None):
    built = guest.BuiltSuite("work", pids, ("a", "b", "c"))
    plan = series_tests.Plan(Discovery(), (), None, prebuilt=(built,))
    series = Series("s", pids, (), None, SeriesConfig(isolate=("work",)), "")
    build = make.BuildSpec(pids, pids, 1)
    pipeline._guest_stage(series, opts, prepared.run, build, pids / "bzImage", plan)

kvm.verdict = lambda cache: kvm.KvmVerdict(False, "test")
vm.vng_argv = lambda spec: ["sh", "-c", HANG, "fake-vng", str(pids / spec.console_log.stem)]
pipeline._after_apply = two_boots
sys.exit(cli.main(sys.argv[2:]))
"""


def test_sigterm_while_two_boots_run_kills_both(tiny_repo: Path, tmp_path: Path) -> None:
    """Fails if only the main thread's boot were killed, or if boots ran one by one (the
    second pid file would never appear: the first fake hangs)."""
    series = make_series(tiny_repo, tmp_path / "series", [("mm/mmap.c", "line3;", "line3x;")])
    pids, out = tmp_path / "pids", tmp_path / "out"
    pids.mkdir()
    argv = ["test", str(series), "--tree", str(tiny_repo), "--out", str(out), "--jobs", "2"]
    harness = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(pids), *argv, "--cache", str(tmp_path / "cache")],
        cwd=PROJECT,
        stderr=subprocess.PIPE,
        text=True,
    )
    files = [pids / "console", pids / "console-1"]
    deadline = time.monotonic() + 30
    while not all(f.exists() for f in files) and time.monotonic() < deadline:
        if harness.poll() is not None:
            break
        time.sleep(0.05)
    if not all(f.exists() for f in files):
        harness.kill()
        for group in [f.read_text().split()[0] for f in files if f.exists()]:
            os.killpg(int(group), signal.SIGKILL)  # the fake vng that did start
        pytest.fail(f"the two boots never ran at once: {harness.communicate()[1]}")
    assert not (pids / "console-2").exists()  # at most two at once
    children = [int(p) for f in files for p in f.read_text().split()]
    assert len(children) == 4 and all(alive(p) for p in children)
    harness.send_signal(signal.SIGTERM)
    _, stderr = harness.communicate(timeout=30)
    assert harness.returncode == 143, stderr
    assert "interrupted by SIGTERM" in stderr and "Traceback" not in stderr
    assert not [p for p in children if alive(p)]
    assert not (pids / "console-2").exists()  # the queued third boot never started
    (run_dir,) = out.iterdir()
    errors = [e.get("message") for e in ET.parse(run_dir / "junit.xml").getroot().iter("error")]
    assert "interrupted by SIGTERM" in errors
