"""Does KVM really run guests here? Probe once per machine, cache the answer.

Input: a cache dir. Output: KvmVerdict. /dev/kvm answering ioctls is not enough:
on some hosts QEMU with `-cpu host` (what vng uses) aborts on an MSR, or hangs.
So we start QEMU's firmware under KVM and wait for SeaBIOS to print on the debug
port: that only happens when guest code actually executed.
Writes the answer to <cache>/kvm-probe.json, keyed by host kernel (uname -r), CPU and
QEMU (binary and --version): an upgrade of either probes again; a real boot that KVM
fails (vm.boot falls back to TCG) records "unusable" there too (record);
raises nothing (a missing QEMU is a "no").
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import proc
from harness.errors import EnvError

QEMU = "qemu-system-x86_64"
PROBE_SECONDS = 8.0


@dataclass(frozen=True)
class KvmVerdict:
    usable: bool
    reason: str


def probe_argv(debug_file: Path) -> list[str]:
    return [
        QEMU,
        "-accel",
        "kvm",
        "-cpu",
        "host",
        "-m",
        "64",
        "-display",
        "none",
        "-nodefaults",
        "-no-reboot",
        "-debugcon",
        f"file:{debug_file}",
        "-global",
        "isa-debugcon.iobase=0x402",
    ]


def machine_key() -> str:
    """Changes when the answer could change: host kernel, CPU, QEMU binary."""
    cpu = ""
    try:
        cpu = next(
            (
                ln
                for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")
            ),
            "",
        )
    except OSError:
        pass
    qemu_path = next(
        (
            Path(d) / QEMU
            for d in os.environ.get("PATH", "").split(":")
            if (Path(d) / QEMU).exists()
        ),
        None,
    )
    qemu_id = f"{qemu_path}:{qemu_path.stat().st_mtime}" if qemu_path else "none"
    # `uname -r` and `qemu --version`: a kernel or QEMU upgrade can fix (or break) KVM.
    key = f"{platform.release()}|{cpu}|{qemu_id}|{qemu_version()}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def qemu_version() -> str:
    """The first line of `qemu-system-x86_64 --version`; '' when there is none."""
    try:
        result = proc.run([QEMU, "--version"], timeout=10)
    except EnvError:
        return ""
    return result.output.strip().splitlines()[0] if result.ok and result.output.strip() else ""


def verdict(cache: Path) -> KvmVerdict:
    cache_file = cache / "kvm-probe.json"
    key = machine_key()
    try:
        saved = json.loads(cache_file.read_text())
        if saved.get("key") == key:
            return KvmVerdict(saved["usable"], saved["reason"])
    except (OSError, ValueError, KeyError):
        pass
    result = probe()
    record(cache, result)
    return result


def record(cache: Path, found: KvmVerdict) -> None:
    """What a real boot found overrides the probe's answer for this host: the firmware
    can run under a KVM that a Linux guest then fails in (nested KVM, emulation failure)."""
    cache.mkdir(parents=True, exist_ok=True)
    seen = {"kernel": platform.release(), "qemu": qemu_version()}
    (cache / "kvm-probe.json").write_text(
        json.dumps({"key": machine_key(), **seen, **asdict(found)})
    )


def probe() -> KvmVerdict:
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return KvmVerdict(False, "/dev/kvm missing or not accessible")
    with tempfile.TemporaryDirectory() as tmp:
        debug_file = Path(tmp) / "debugcon"
        try:
            with proc.watched(probe_argv(debug_file)) as popen:
                return _watch(popen, debug_file)
        except EnvError:
            return KvmVerdict(False, f"{QEMU} not installed")


def _watch(popen: proc.Child, debug_file: Path) -> KvmVerdict:
    deadline = time.monotonic() + PROBE_SECONDS
    while time.monotonic() < deadline:
        if debug_file.exists() and b"SeaBIOS" in debug_file.read_bytes():
            return KvmVerdict(True, "firmware ran under KVM")
        if popen.poll() is not None:
            err = popen.stderr.read().decode(errors="replace") if popen.stderr else ""
            first = next((ln for ln in err.splitlines() if "error" in ln.lower()), err[:200])
            return KvmVerdict(False, f"QEMU exited {popen.returncode} under KVM: {first.strip()}")
        time.sleep(0.05)
    return KvmVerdict(False, f"no guest output within {PROBE_SECONDS:.0f}s under KVM (hang)")
