from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import FIXTURES

from harness.boot import kvm, vm
from harness.cases import Status

SPEC = vm.VmSpec(
    kernel=Path("/k/bzImage"),
    command="sh run.sh",
    console_log=Path("/c"),
    guest_log=Path("/g"),
    cpus=2,
    memory="1G",
    append=("gmem=on",),
    kvm=False,
    timeout=120,
)
BOOTED = "[    0.9] Run /init as init process\n"


def test_vng_argv_spells_every_option() -> None:
    assert vm.vng_argv(SPEC) == [
        "vng",
        "--run",
        "/k/bzImage",
        "--verbose",
        "--force-9p",
        "--cpus",
        "2",
        "--memory",
        "1G",
        "--disable-kvm",
        "--append",
        "gmem=on",
        "--exec",
        "sh run.sh",
    ]


def test_qemu_abort_is_not_a_kernel_panic() -> None:
    console = (
        "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69\n"
        "qemu-system-x86_64: ../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion\n"
    )
    status, reason = vm.classify(255, vm.Watch(), console, "", SPEC)
    assert status is Status.ERROR
    assert "QEMU/vng failed before the kernel ran" in reason and "MSR 0x10a" in reason


def test_panic_is_a_kernel_failure() -> None:
    console = BOOTED + "[    1.0] Kernel panic - not syncing: harness fixture: boom\n"
    status, reason = vm.classify(255, vm.Watch(panicked=True), console, "", SPEC)
    assert status is Status.FAIL
    assert reason == "Kernel panic - not syncing: harness fixture: boom"


def test_timeout_says_where_it_hung() -> None:
    assert vm.classify(None, vm.Watch(timed_out=True), "", "", SPEC)[1].endswith(
        "before reaching userspace)"
    )
    assert vm.classify(None, vm.Watch(timed_out=True), BOOTED, "", SPEC)[1].endswith("(after boot)")


def test_rc1_counts_as_ran_only_with_ktap() -> None:
    assert vm.classify(1, vm.Watch(), BOOTED, "KTAP version 1\n", SPEC)[0] is Status.PASS
    assert vm.classify(1, vm.Watch(), BOOTED, "vng: error\n", SPEC)[0] is Status.ERROR


def test_kvm_probe_argv_uses_host_cpu_like_vng() -> None:
    argv = kvm.probe_argv(Path("/tmp/d"))
    assert argv[:5] == ["qemu-system-x86_64", "-accel", "kvm", "-cpu", "host"]


def test_kvm_verdict_is_cached(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls = []
    monkeypatch.setattr(kvm, "probe", lambda: calls.append(1) or kvm.KvmVerdict(False, "hang"))
    assert kvm.verdict(tmp_path) == kvm.KvmVerdict(False, "hang")
    assert kvm.verdict(tmp_path) == kvm.KvmVerdict(False, "hang")
    assert calls == [1]


def test_recorded_panic_console_is_a_kernel_failure_named_by_its_panic_line() -> None:
    console = (FIXTURES / "runs/panic-console.log").read_text()
    status, reason = vm.classify(255, vm.Watch(panicked=True), console, "", SPEC)
    assert status is Status.FAIL
    assert reason == "Kernel panic - not syncing: harness fixture: deliberate panic at boot"


def test_halt_without_acpi_ends_the_boot_as_finished() -> None:
    console = BOOTED + "[    7.8] reboot: Power off not available: System halted instead\n"
    status, reason = vm.classify(None, vm.Watch(halted=True), console, "", SPEC)
    assert status is Status.PASS and "halted" in reason


def test_wedged_guest_is_a_kernel_failure_with_the_stall_line() -> None:
    console = BOOTED + "[   80.1] rcu: INFO: rcu_sched detected stalls on CPUs/tasks:\n"
    status, reason = vm.classify(None, vm.Watch(wedged=True), console, "", SPEC)
    assert status is Status.FAIL
    assert reason == "guest wedged, boot ended: rcu: INFO: rcu_sched detected stalls on CPUs/tasks:"


def test_kvm_verdict_is_probed_again_after_a_qemu_or_kernel_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    qemu = bin_dir / kvm.QEMU
    stamp = os.stat(__file__).st_mtime_ns  # one mtime: only the version output differs

    def install(version: str) -> None:
        qemu.write_text(f"#!/bin/sh\necho 'QEMU emulator version {version}'\n")
        qemu.chmod(0o755)
        os.utime(qemu, ns=(stamp, stamp))

    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    calls = []
    monkeypatch.setattr(kvm, "probe", lambda: calls.append(1) or kvm.KvmVerdict(False, "hang"))
    install("9.2.0")
    kvm.verdict(tmp_path)
    kvm.verdict(tmp_path)
    assert calls == [1]
    install("9.2.1")
    kvm.verdict(tmp_path)
    assert calls == [1, 1]
    assert json.loads((tmp_path / "kvm-probe.json").read_text())["qemu"].endswith("9.2.1")
    monkeypatch.setattr(kvm.platform, "release", lambda: "6.12.999-amd64")
    kvm.verdict(tmp_path)
    assert calls == [1, 1, 1]


@pytest.mark.parametrize(
    ("cpus", "config", "noted"),
    [(2, "CONFIG_SMP=y\n", True), (2, "CONFIG_ACPI=y\n", False), (1, "CONFIG_SMP=y\n", False)],
)
def test_more_cpus_than_the_guest_can_see_is_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cpus: int, config: str, noted: bool
) -> None:
    from harness import pipeline, progress

    progress.quiet(False)
    (tmp_path / ".config").write_text(config)
    pipeline._note_one_cpu(cpus, tmp_path)
    assert ("without CONFIG_ACPI the guest sees 1" in capsys.readouterr().err) is noted
