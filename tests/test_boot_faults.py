"""Boot faults with fake vng processes (sh scripts at the vng seam): a vng killed by a signal
after printing KTAP, a QEMU that dies under vng, a guest that hangs, a guest OOM. None is a
passed boot, and no process of the fake is left behind. Also `harness parse` of a log with
no test output: a failed run, not bad input."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PROJECT

from harness.boot import console_cases, vm
from harness.cases import Status

KTAP = "echo 'KTAP version 1'; echo '1..1'; echo 'ok 1 smoke'"
BOOTED = "echo '[    0.9] Run /init as init process' >&2"


def _spec(tmp_path: Path, timeout: float = 20) -> vm.VmSpec:
    return vm.VmSpec(
        kernel=tmp_path / "bzImage",
        command="true",
        console_log=tmp_path / "console.log",
        guest_log=tmp_path / "console.out",
        cpus=1,
        memory="256M",
        kvm=False,
        timeout=timeout,
    )


def _boot_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str, timeout: float = 20):  # type: ignore[no-untyped-def]
    """vm.boot with vng replaced by `script` (sh, $0 = a token unique to this test, so its
    processes can be found even inside a sandbox's pid namespace)."""
    monkeypatch.setattr(vm, "vng_argv", lambda spec: ["sh", "-c", script, _token(tmp_path)])
    return vm.boot(_spec(tmp_path, timeout))


def _token(tmp_path: Path) -> str:
    return f"fake-vng-{tmp_path.name}"


def _left_running(tmp_path: Path) -> list[str]:
    token = _token(tmp_path).encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmd = (entry / "cmdline").read_bytes() if entry.name.isdigit() else b""
            state = (entry / "stat").read_text().split(")")[-1].split()[0] if cmd else "Z"
        except OSError:
            continue
        if token in cmd and state != "Z":
            found.append(entry.name)
    return found


def test_a_kill_seen_through_a_wrapper_is_not_a_passed_boot() -> None:
    """The sandbox (bwrap) or a shell reports a child killed by SIGKILL as exit 137."""
    booted, ktap = "Run /init as init process\n", "KTAP version 1\n"
    status, reason = vm.classify(137, vm.Watch(), booted, ktap, _spec(Path("/t")))
    assert status is Status.ERROR and "SIGKILL" in reason


def test_vng_killed_by_a_signal_after_ktap_is_not_a_passed_boot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _boot_with(tmp_path, monkeypatch, f"{BOOTED}; {KTAP}; kill -9 $$")
    assert result.status is Status.ERROR
    assert result.reason == "vng was killed by SIGKILL before the guest finished"


def test_qemu_killed_under_vng_is_a_failed_boot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """vng answers 255 when QEMU dies without the guest's exit code (virtme run.py)."""
    qemu = tmp_path / "qemu.sh"
    qemu.write_text(f"{BOOTED}; kill -9 $$\n")
    result = _boot_with(tmp_path, monkeypatch, f"{KTAP}; sh {qemu} {_token(tmp_path)}; exit 255")
    assert result.status is Status.FAIL and "vng exit 255" in result.reason
    assert _left_running(tmp_path) == []


def test_qemu_killed_from_outside_is_an_error_not_a_kernel_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by tests/test_real_boot_faults.py: a real QEMU SIGKILLed mid-boot read as
    FAIL "guest died (vng exit 255)", blaming the kernel (and a bisect step) for the host.
    Here vng is faked, but QEMU runs through the wrapper boot() writes, as vng runs it."""
    qemu = tmp_path / "qemu-system-x86_64"
    qemu.write_text(f"#!/bin/sh\n{BOOTED}\nkill -9 $$\n")
    qemu.chmod(0o755)
    monkeypatch.setattr(vm.shutil, "which", lambda name: str(qemu))
    spec = dataclasses.replace(_spec(tmp_path), qemu_wrapper=True)
    wrapper = vm.qemu_wrapper_path(spec)
    assert ["--qemu", str(wrapper)] == vm.vng_argv(spec)[-4:-2]
    fake_vng = f"{KTAP}; sh {wrapper} -name guest; exit 255"
    monkeypatch.setattr(vm, "vng_argv", lambda spec: ["sh", "-c", fake_vng, _token(tmp_path)])
    result = vm.boot(spec)
    assert result.status is Status.ERROR, result.reason
    assert result.reason.startswith("QEMU was killed by SIGKILL from outside the guest")
    assert _left_running(tmp_path) == []


def test_a_guest_kvm_fails_is_booted_again_under_tcg_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nested KVM can do this (seen on a 6.18.44-fc host): the probe's
    firmware ran under KVM, a Linux guest then stopped with 'KVM internal error', QEMU
    paused it forever, and every boot waited out its whole timeout (600 s)."""
    kvm_dies = (
        f"{BOOTED}; echo 'KVM internal error. Suberror: 1' >&2; "
        "echo 'emulation failure' >&2; sleep 300"
    )
    tcg = f"{BOOTED}; {KTAP}"
    token = _token(tmp_path)
    monkeypatch.setattr(
        vm, "vng_argv", lambda spec: ["sh", "-c", kvm_dies if spec.kvm else tcg, token]
    )
    started = time.monotonic()
    result = vm.boot(dataclasses.replace(_spec(tmp_path, timeout=120), kvm=True))
    assert time.monotonic() - started < 30
    assert result.status is Status.PASS and "KTAP version 1" in result.guest_output
    assert result.kvm_failed == "KVM internal error. Suberror: 1"
    assert "emulation failure" in (tmp_path / "console.kvm-failed.log").read_text()
    assert _left_running(tmp_path) == []


def test_a_guest_that_prints_nothing_under_kvm_is_booted_again_under_tcg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This machine's KVM: the probe's firmware runs, a Linux guest then prints not a
    line and no internal error either; every boot of a run waited out its timeout."""
    banner = "echo '[    0.000000] Linux version 6.12.118' >&2"
    token = _token(tmp_path)
    monkeypatch.setattr(vm, "KVM_BANNER_SECONDS", 2.0)
    tcg = f"{banner}; {BOOTED}; {KTAP}"
    monkeypatch.setattr(
        vm, "vng_argv", lambda spec: ["sh", "-c", "sleep 300" if spec.kvm else tcg, token]
    )
    started = time.monotonic()
    result = vm.boot(dataclasses.replace(_spec(tmp_path, timeout=120), kvm=True))
    assert time.monotonic() - started < 30
    assert result.status is Status.PASS and "KTAP version 1" in result.guest_output
    assert result.kvm_failed == "the kernel printed nothing in 2 s under KVM"
    assert _left_running(tmp_path) == []


def test_a_slow_kvm_guest_that_printed_its_banner_is_not_a_kvm_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    banner = "echo '[    0.000000] Linux version 6.12.118' >&2"
    monkeypatch.setattr(vm, "KVM_BANNER_SECONDS", 1.0)
    script = f"{banner}; sleep 3; {BOOTED}; {KTAP}"
    monkeypatch.setattr(vm, "vng_argv", lambda spec: ["sh", "-c", script, _token(tmp_path)])
    result = vm.boot(dataclasses.replace(_spec(tmp_path, timeout=60), kvm=True))
    assert result.status is Status.PASS and not result.kvm_failed, result.reason


def test_a_kvm_failure_seen_in_a_boot_overrides_the_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.boot import kvm

    monkeypatch.setattr(kvm, "probe", lambda: kvm.KvmVerdict(True, "firmware ran under KVM"))
    assert kvm.verdict(tmp_path).usable
    kvm.record(tmp_path, kvm.KvmVerdict(False, "a boot failed: KVM internal error"))
    assert kvm.verdict(tmp_path) == kvm.KvmVerdict(False, "a boot failed: KVM internal error")


def test_the_qemu_wrapper_passes_a_clean_exit_through_silently(tmp_path: Path) -> None:
    qemu = tmp_path / "qemu"
    qemu.write_text('#!/bin/sh\necho "args: $*"; exit 3\n')
    qemu.chmod(0o755)
    wrapper = tmp_path / "w.sh"
    wrapper.write_text(vm.qemu_wrapper_text(str(qemu)))
    done = subprocess.run(["sh", str(wrapper), "-a", "b c"], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (3, "args: -a b c\n", "")


def test_the_killed_line_counts_only_at_the_end_of_the_console() -> None:
    """The wrapper prints it after QEMU is gone; a guest printing it mid-boot is no excuse."""
    booted = "Run /init as init process\n"
    killed = "harness: QEMU was killed by signal 9\n"
    spec = _spec(Path("/t"))
    assert vm.classify(255, vm.Watch(), booted + killed, "", spec)[0] is Status.ERROR
    later = booted + killed + "".join(f"[ 2.{i}] more\n" for i in range(6))
    assert vm.classify(255, vm.Watch(), later, "", spec)[0] is Status.FAIL


def test_a_guest_that_hangs_times_out_and_leaves_nothing_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hang = f"{BOOTED}; sh -c 'sleep 300; :' {_token(tmp_path)} & wait"
    started = time.monotonic()
    result = _boot_with(tmp_path, monkeypatch, hang, timeout=2)
    assert time.monotonic() - started < 15
    assert result.status is Status.ERROR and result.reason == "timed out after 2s (after boot)"
    assert _left_running(tmp_path) == []


def test_a_guest_oom_is_a_failing_incident() -> None:
    console = (
        "[    0.9] Run /init as init process\n"
        "[    5.1] # harness: start hog\n"
        "[    5.2] Out of memory: Killed process 212 (hog) total-vm:1048576kB, anon-rss:1kB\n"
    )
    suite = console_cases.incident_cases(console, "smoke")
    (case,) = suite.children
    assert suite.status is Status.FAIL and case.name == "OOM during hog"
    assert case.message.startswith("Out of memory: Killed process 212 (hog)")


def test_parse_of_a_log_with_no_test_output_is_a_failed_run(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_text("[    0.0] Linux version 6.12\n[    0.9] Run /init as init process\n")
    junit = tmp_path / "j.xml"
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "parse", str(log), "--junit", str(junit)],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )
    assert done.returncode == 1, done.stderr
    assert "no test output" in done.stdout and 'errors="1"' in junit.read_text()


def test_disk_full_mid_run_is_an_environment_error_with_an_error_case(
    tiny_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by test_real_faults' tmpfs: ENOSPC while saving the build's mtimes manifest
    was a traceback, exit 1, and a JUnit with errors=0 (only apply and kconfig in it)."""
    import errno

    from conftest import make_series

    from harness import cli, pipeline

    def full(*args: object, **kw: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "build/.mtimes"))

    monkeypatch.setattr(pipeline, "_after_apply", full)
    out = make_series(tiny_repo, tmp_path / "s", [("mm/mmap.c", "int line3;", "int line3x;")])
    runs = tmp_path / "runs"
    argv = ["test", str(out), "--tree", str(tiny_repo), "--out", str(runs)]
    assert cli.main([*argv, "--cache", str(tmp_path / "cache")]) == 3
    (junit,) = runs.glob("*/junit.xml")
    text = junit.read_text()
    assert 'errors="1"' in text and "No space left on device" in text


DIED = "echo '[  321.1] note: as_lifecycle[182] exited with preempt_count 3' >&2"


def test_a_console_silent_after_a_task_died_holding_a_lock_ends_the_boot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The debug kernel's as_lifecycle: the oopsed task's spinlock stays held, the next
    taker spins with interrupts off, nothing prints again until the boot's timeout."""
    monkeypatch.setattr(vm, "SILENT_AFTER_DEATH_SECONDS", 1.0)
    monkeypatch.setattr(vm, "SILENCE_POLL_SECONDS", 0.2)
    wedge = f"{BOOTED}; {DIED}; sh -c 'sleep 300; :' {_token(tmp_path)} & wait"
    started = time.monotonic()
    result = _boot_with(tmp_path, monkeypatch, wedge, timeout=60)
    assert time.monotonic() - started < 15  # not the 60 s timeout
    assert result.status is Status.FAIL
    assert result.reason == (
        "guest wedged, boot ended: console silent after "
        "'note: as_lifecycle[182] exited with preempt_count 3'"
    )
    assert _left_running(tmp_path) == []


def test_a_guest_that_goes_on_printing_after_the_note_is_not_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vm, "SILENT_AFTER_DEATH_SECONDS", 1.0)
    monkeypatch.setattr(vm, "SILENCE_POLL_SECONDS", 0.2)
    # 3 s of output after the note, a line every 0.3 s: longer than the silence allowed
    ticks = 'for i in 1 2 3 4 5 6 7 8 9 10; do echo "[  330.$i] tick" >&2; sleep 0.3; done'
    goes_on = f"{BOOTED}; {DIED}; {ticks}; {KTAP}"
    result = _boot_with(tmp_path, monkeypatch, goes_on, timeout=60)
    assert result.status is Status.PASS, result.reason
    assert "tick" in result.console.splitlines()[-1]


HALTED = "echo '[    4.7] reboot: Power off not available: System halted instead' >&2"


def test_after_a_halt_the_guest_output_still_arriving_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The boot ends once guest.log stops growing after the halt: output that QEMU is
    still writing then (here 4 lines 0.2 s apart, each inside the 0.3 s settle) is kept."""
    late = "; ".join(f"sleep 0.2; echo 'ok {n} late'" for n in range(2, 6))
    script = f"{BOOTED}; {KTAP}; {HALTED}; {late}; sleep 60"
    result = _boot_with(tmp_path, monkeypatch, script)
    assert result.status is Status.PASS and result.halted
    assert result.guest_output.rstrip().endswith("ok 5 late")
    assert _left_running(tmp_path) == []


def test_a_halted_guest_whose_output_never_stops_ends_at_the_halt_grace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = f"{BOOTED}; {KTAP}; {HALTED}; while :; do echo more; sleep 0.1; done"
    result = _boot_with(tmp_path, monkeypatch, script, timeout=60)
    assert result.status is Status.PASS and result.halted
    assert result.seconds < 30  # the grace (2 s), not the 60 s timeout
    assert _left_running(tmp_path) == []
