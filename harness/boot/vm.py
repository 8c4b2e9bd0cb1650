"""Boot a kernel with virtme-ng, run one guest command, capture the console.

Input: a VmSpec. Output: a BootResult; the console goes to spec.console_log and
the guest command's stdout to spec.guest_log. vng returns the guest command's
exit code, or 255 when the guest died; vng's own errors exit 1 or 255 too, so a
QEMU failure is told apart by what the console shows. The wall-clock timeout,
the panic watch and reaping QEMU are ours: vng has none of them.
Raises EnvError when vng is not installed.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pexpect
import pexpect.fdpexpect

from harness import proc
from harness.boot import guest_init
from harness.boot.defaults import DEFAULT_CPUS as DEFAULT_CPUS  # re-exported: the guest's
from harness.boot.defaults import DEFAULT_MEMORY as DEFAULT_MEMORY  # defaults when neither
from harness.boot.defaults import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT  # CLI nor yaml says
from harness.boot.guest_box import guest_box, kernel_build_dir
from harness.boot.phases import SUITE_BEGIN, Phases
from harness.cases import Status
from harness.sandbox import Sandbox

GUEST_DIED = 255
PANIC = re.compile(rb"Kernel panic - not syncing[^\n]*")
QEMU_ERROR = re.compile(r"^qemu-system-\S+: .*$", re.M)
BOOTED = re.compile(r"(Run /init as init process|Run \S+ as init process|virtme-ng-init)")
KERNEL_UP = re.compile(rb"Run \S+ as init process")
# Without ACPI (our minimal config) poweroff halts instead: the command has finished,
# but QEMU would sit there until the timeout, so a halt ends the boot.
HALTED = re.compile(rb"reboot: (?:Power off not available: )?System halted")
# A guest that reports one of these rarely recovers (a task died holding a lock, a
# CPU spins): give it a little longer, then end the boot instead of waiting out the
# whole timeout.
WEDGED = re.compile(
    rb"rcu: INFO: rcu_\w+ detected stalls[^\n]*|BUG: soft lockup[^\n]*"
    rb"|Fixing recursive fault but reboot is needed!"
)
# vng answers 255 both for a guest that died and for a QEMU killed from outside (the host's
# OOM killer, a stray kill -9): virtme-run drops QEMU's wait status. vng runs QEMU through
# our wrapper (qemu_wrapper_text), which prints this line when a signal ended QEMU.
QEMU_KILLED = re.compile(r"^harness: QEMU was killed by signal (\d+)", re.M)
# KVM that runs firmware (the probe) but not this kernel (nested KVM, e.g. an emulation
# failure at a lock cmpxchg16b): QEMU prints this, pauses the guest and waits forever.
KVM_FAILED = re.compile(rb"KVM internal error\. Suberror: \d+|kvm run failed[^\n]*")
KVM_FAILED_GRACE_SECONDS = 1.0  # QEMU's register dump follows the line
# Or KVM runs the firmware and the guest then prints nothing at all (no internal error):
# a kernel that has not printed its banner this long after vng started failed under KVM.
LINUX_BANNER = re.compile(rb"Linux version \d")
KVM_BANNER_SECONDS = 60.0
WEDGED_GRACE_SECONDS = 45.0
# A task that oopsed holding a spinlock dies with it held (make_task_dead prints this
# note and resets the count, not the lock). The next taker spins with interrupts off on
# a 1-vCPU guest, so no stall or lockup detector can print: the console just stops
# (gmem's as_lifecycle on a debug kernel does so). The guest may also go on (a lock nobody
# takes again), so the note alone ends nothing: a console silent this long after it does.
DIED_LOCKED = re.compile(rb"note: \S+\[\d+\] exited with (?:preempt_count \d+|irqs disabled)")
SILENT_AFTER_DEATH_SECONDS = 180.0
SILENCE_POLL_SECONDS = 5.0
PANIC_GRACE_SECONDS = 10.0
# After the halt the guest writes nothing more, but its stdout (virtio-serial, written
# to guest.log by QEMU) may still be on its way: the boot ends once guest.log has not
# grown for HALT_SETTLE_SECONDS, and at the latest HALT_GRACE_SECONDS after the halt.
# A fixed 2 s wait here was 2 s of every boot (17 boots in a GMEM run).
HALT_GRACE_SECONDS = 2.0
HALT_SETTLE_SECONDS = 0.3
STOP_POLL_SECONDS = 0.2  # how often a boot beside others looks whether the run is stopping


class Stopped(Exception):
    """The run is stopping (a signal reached the main thread while boots ran side by
    side): this boot ended early and its QEMU was killed. Never a result."""


@dataclass(frozen=True)
class VmSpec:
    kernel: Path
    command: str
    console_log: Path
    guest_log: Path
    cpus: int = DEFAULT_CPUS
    memory: str = DEFAULT_MEMORY
    append: tuple[str, ...] = ()
    kvm: bool = False
    timeout: float = DEFAULT_TIMEOUT
    qemu_opts: tuple[str, ...] = ()  # extra QEMU arguments, e.g. ("-icount", "shift=0")
    # Dirs the guest command reads outside the console's run dir (the sandbox hides the
    # rest): a base run boots the patched run's kselftest build, which lives in that run.
    shares: tuple[Path, ...] = ()
    # QEMU through a wrapper that says when a signal killed it (vng_argv's --qemu): the
    # pipeline's boots; vng --dry-run (compare) wants the real QEMU's command line.
    qemu_wrapper: bool = False


@dataclass(frozen=True)
class BootResult:
    status: Status  # PASS: the command ran to its end (its verdicts come from KTAP)
    reason: str
    returncode: int | None
    seconds: float
    guest_output: str
    console: str
    panicked: bool
    halted: bool = False
    kvm_failed: str = ""  # KVM failed this guest (the console line); the result is TCG's


def vng_argv(spec: VmSpec) -> list[str]:
    """The vng command line for `spec`: the only place vng flags are spelled."""
    argv = [
        "vng",
        "--run",
        str(spec.kernel),
        "--verbose",
        # Straight to 9p: vng first waits up to 3.1 s (0.1 s doubling, 5 tries) for a
        # virtiofsd that fails on hosts without usable FUSE, as here, on every boot.
        "--force-9p",
        "--cpus",
        str(spec.cpus),
        "--memory",
        spec.memory,
    ]
    if not spec.kvm:
        argv.append("--disable-kvm")
    for arg in spec.append:
        argv += ["--append", arg]
    if spec.qemu_opts:
        argv.append("--qemu-opts=" + " ".join(spec.qemu_opts))
    if spec.qemu_wrapper:
        argv += ["--qemu", str(qemu_wrapper_path(spec))]
    return [*argv, "--exec", spec.command]


def qemu_wrapper_path(spec: VmSpec) -> Path:
    return spec.console_log.with_suffix(".qemu.sh")


def qemu_wrapper_text(qemu: str) -> str:
    """sh that runs `qemu` with vng's arguments and says on the console (stderr) when a
    signal killed it; the exit status is QEMU's as sh reports it."""
    return (
        "#!/bin/sh\n"
        "# harness: QEMU for vng (vng answers 255 for a dead guest and a killed QEMU alike)\n"
        f'{shlex.quote(qemu)} "$@"\n'
        "rc=$?\n"
        'if [ "$rc" -gt 128 ] && [ "$rc" -lt 192 ]; then\n'
        '\techo "harness: QEMU was killed by signal $((rc - 128))" >&2\n'
        "fi\n"
        'exit "$rc"\n'
    )


def write_qemu_wrapper(spec: VmSpec) -> None:
    qemu = shutil.which("qemu-system-x86_64") or "qemu-system-x86_64"
    path = qemu_wrapper_path(spec)
    path.write_text(qemu_wrapper_text(qemu))
    path.chmod(0o755)


def guest_sandbox(spec: VmSpec) -> Sandbox:
    """The sandbox a boot of `spec` runs in: the guest sees its boot dir and shares, and
    its init finds guest_init's files in place of the host's (written into the boot dir)."""
    boot_dir = spec.console_log.parent
    replaced = guest_init.replacements(boot_dir)
    return guest_box(spec.kernel, (boot_dir, *spec.shares), spec.kvm, replaced)


def boot(
    spec: VmSpec, phases: Phases | None = None, stop: threading.Event | None = None
) -> BootResult:
    """`phases` follows the boot as it goes (kernel up, suite k/n) for progress and stage times.
    `stop`: set by the main thread when the run stops; the boot then raises Stopped
    (a signal cannot reach a boot that runs in a pool's thread)."""
    started = time.monotonic()
    spec.console_log.parent.mkdir(parents=True, exist_ok=True)
    if spec.qemu_wrapper:
        write_qemu_wrapper(spec)
    with open(spec.guest_log, "wb") as guest_out, open(spec.console_log, "wb") as console:
        with proc.watched(vng_argv(spec), stdout=guest_out, box=guest_sandbox(spec)) as popen:
            deadline = started + spec.timeout
            banner_by = started + KVM_BANNER_SECONDS if spec.kvm else None
            watch = _watch_console(popen, console, deadline, phases, stop, guest_out, banner_by)
    returncode = None if watch.timed_out or watch.halted else popen.returncode
    console_text = spec.console_log.read_text(errors="replace")
    guest_text = spec.guest_log.read_text(errors="replace")
    if watch.kvm_failed and spec.kvm:
        return _again_under_tcg(spec, phases, stop, _kvm_line(console_text))
    status, reason = classify(returncode, watch, console_text, guest_text, spec)
    return BootResult(
        status,
        reason,
        returncode,
        time.monotonic() - started,
        guest_text,
        console_text,
        watch.panicked,
        watch.halted,
    )


def _kvm_line(console: str) -> str:
    match = KVM_FAILED.search(console.encode(errors="replace"))
    if match:
        return match.group(0).decode(errors="replace").strip()
    return f"the kernel printed nothing in {KVM_BANNER_SECONDS:.0f} s under KVM"


def _again_under_tcg(
    spec: VmSpec, phases: Phases | None, stop: threading.Event | None, why: str
) -> BootResult:
    """The same boot under TCG; the KVM attempt's console is kept beside it."""
    spec.console_log.replace(spec.console_log.with_suffix(".kvm-failed.log"))
    proc.note(f"KVM failed this guest ({why}); booting it again under TCG")
    result = boot(dataclasses.replace(spec, kvm=False), phases, stop)
    return dataclasses.replace(result, kvm_failed=why)


def modules_ready(kernel: Path) -> bool:
    """Will vng boot `kernel` without first (re)linking its modules into
    <build>/.virtme_mods? It does that when modules.order is newer than that dir's
    modules.dep (virtme's run.py), deleting modules.dep first: two boots doing it at
    once would read each other's half-made dir, so that boot goes alone."""
    build = kernel_build_dir(kernel)
    order = build / "modules.order"
    dep = build / ".virtme_mods/lib/modules/0.0.0/modules.dep"
    config = build / ".config"
    if not order.exists() or (config.exists() and "CONFIG_MODULES=y" not in config.read_text()):
        return True  # vng boots without modules: nothing to prepare
    return dep.exists() and dep.stat().st_mtime >= order.stat().st_mtime


@dataclass(frozen=True)
class Watch:
    """How the console watch ended."""

    timed_out: bool = False
    panicked: bool = False
    halted: bool = False
    wedged: bool = False
    kvm_failed: bool = False


def _watch_console(
    popen: proc.Child,
    console: IO[bytes],
    deadline: float,
    phases: Phases | None,
    stop: threading.Event | None = None,
    guest_out: IO[bytes] | None = None,
    banner_by: float | None = None,
) -> Watch:
    """Tee the console until vng exits; stop a little after a panic or a halt, or at once
    (Stopped) when `stop` is set. `guest_out`: the file QEMU writes the guest's stdout
    to, watched after a halt until it stops growing. `banner_by` (under KVM): a kernel
    that has not printed its banner by then failed under KVM."""
    assert popen.stderr is not None
    watcher = pexpect.fdpexpect.fdspawn(popen.stderr.fileno(), logfile=console)
    panicked = halted = wedged = kvm_failed = False
    patterns = [PANIC, HALTED, WEDGED, pexpect.EOF, KERNEL_UP, SUITE_BEGIN, KVM_FAILED, DIED_LOCKED]
    patterns.append(LINUX_BANNER)
    silence = _Silence(console)
    halt_cap, settled = 0.0, -1
    while True:
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise pexpect.TIMEOUT("deadline")
            # Short polls while a dead task's silence is timed, or while others may stop us.
            wait = (
                min(silence.poll(remaining), STOP_POLL_SECONDS) if stop else silence.poll(remaining)
            )
            if banner_by is not None:
                wait = min(wait, max(0.1, banner_by - time.monotonic()))
            index = watcher.expect(patterns, timeout=wait)
        except pexpect.TIMEOUT:
            if stop is not None and stop.is_set():
                raise Stopped from None
            if silence.wedged():
                return Watch(panicked=panicked, halted=halted, wedged=True, kvm_failed=kvm_failed)
            if banner_by is not None and time.monotonic() >= banner_by:
                return Watch(kvm_failed=True)
            if time.monotonic() < deadline:
                continue  # a poll of `stop` or of the console's silence, not the deadline
            if halted and not panicked and time.monotonic() < halt_cap:
                grown = _size(guest_out)
                if grown != settled:  # the guest's last output is still arriving
                    settled = grown
                    deadline = min(halt_cap, time.monotonic() + HALT_SETTLE_SECONDS)
                    continue
            # After a halt or panic the deadline is only the grace period: not a hang.
            ended = halted or panicked or wedged or kvm_failed
            return Watch(not ended, panicked, halted, wedged, kvm_failed)
        if index == 3:
            popen.wait()
            return Watch(panicked=panicked, halted=halted, wedged=wedged, kvm_failed=kvm_failed)
        if index == 6 and not kvm_failed:
            kvm_failed = True
            deadline = min(deadline, time.monotonic() + KVM_FAILED_GRACE_SECONDS)
        if index == 4 and phases:
            phases.kernel_running()
        elif index == 5 and phases:
            phases.suite_began(watcher.match.group(1))
        elif index == 0 and not panicked:
            panicked = True
            deadline = min(deadline, time.monotonic() + PANIC_GRACE_SECONDS)
        elif index == 1 and not halted:
            halted = True
            halt_cap = time.monotonic() + HALT_GRACE_SECONDS
            settled = _size(guest_out)
            deadline = min(deadline, time.monotonic() + HALT_SETTLE_SECONDS)
        elif index == 2 and not wedged:
            wedged = True
            deadline = min(deadline, time.monotonic() + WEDGED_GRACE_SECONDS)
        elif index == 7:
            silence.start()
        elif index == 8:
            banner_by = None


def _size(out: IO[bytes] | None) -> int:
    """The file's size as the other writer (QEMU) left it; -1 without a file."""
    return os.fstat(out.fileno()).st_size if out is not None else -1


class _Silence:
    """After a DIED_LOCKED note: how long the console has not grown."""

    def __init__(self, console: IO[bytes]) -> None:
        self.console = console
        self.watching = False
        self.size = 0
        self.since = 0.0

    def start(self) -> None:
        self.watching = True
        self.size, self.since = self.console.tell(), time.monotonic()

    def poll(self, remaining: float) -> float:
        """The expect timeout: short polls while watching, else the whole deadline."""
        return min(remaining, SILENCE_POLL_SECONDS) if self.watching else remaining

    def wedged(self) -> bool:
        if not self.watching:
            return False
        if self.console.tell() != self.size:  # pexpect logs what it read: it printed
            self.size, self.since = self.console.tell(), time.monotonic()
        return time.monotonic() - self.since >= SILENT_AFTER_DEATH_SECONDS


def classify(
    returncode: int | None, watch: Watch, console: str, guest_output: str, spec: VmSpec
) -> tuple[Status, str]:
    """Did the guest run our command to the end? Test verdicts come from KTAP, not here."""
    if watch.panicked:
        match = PANIC.search(console.encode(errors="replace"))
        headline = match.group(0).decode(errors="replace") if match else "Kernel panic"
        return Status.FAIL, headline.strip()
    if watch.kvm_failed:  # with KVM off there is no such line; boot() retried under TCG
        return Status.ERROR, f"KVM failed in the guest: {_kvm_line(console)}"
    if watch.wedged and not watch.halted:
        raw = console.encode(errors="replace")
        match = WEDGED.search(raw)
        if match is None and (died := DIED_LOCKED.search(raw)):
            note = died.group(0).decode(errors="replace")
            return Status.FAIL, f"guest wedged, boot ended: console silent after '{note}'"
        headline = match.group(0).decode(errors="replace").strip() if match else "stall"
        return Status.FAIL, f"guest wedged, boot ended: {headline}"
    if watch.timed_out:
        where = "after boot" if BOOTED.search(console) else "before reaching userspace"
        return Status.ERROR, f"timed out after {spec.timeout:.0f}s ({where})"
    # Not the guest's doing, so not a kernel failure. Only at the end, where the wrapper
    # prints it once QEMU is gone: a guest that prints the line mid-boot changes nothing.
    if killed := QEMU_KILLED.search("\n".join(console.splitlines()[-5:])):
        name = _signal_name(int(killed[1]))
        return (
            Status.ERROR,
            f"QEMU was killed by {name} from outside the guest, which did not finish",
        )
    # Killed by a signal: vng itself (-N), or seen through a wrapper such as the sandbox or a
    # shell (128+N; the guest script ends with an echo, so it never exits so on its own).
    signum = -returncode if returncode and returncode < 0 else 0
    signum = signum or (returncode - 128 if returncode and 128 < returncode < 192 else 0)
    if signum:  # KTAP already printed proves nothing: the guest did not finish
        return Status.ERROR, f"vng was killed by {_signal_name(signum)} before the guest finished"
    qemu_errors = QEMU_ERROR.findall(console)
    if returncode == GUEST_DIED and not BOOTED.search(console):
        detail = qemu_errors[0] if qemu_errors else "no kernel output"
        return Status.ERROR, f"QEMU/vng failed before the kernel ran: {detail}"
    if returncode == GUEST_DIED:
        return Status.FAIL, "guest died (vng exit 255) without a panic message"
    if watch.halted:
        return Status.PASS, "guest command finished (guest halted)"
    saw_ktap = "KTAP version" in guest_output or "TAP version" in guest_output
    if returncode == 0 or saw_ktap:
        return Status.PASS, f"guest command exited {returncode}"
    last_lines = console.strip().splitlines()[-1:] or [""]
    detail = qemu_errors[0] if qemu_errors else last_lines[0]
    return Status.ERROR, f"vng exited {returncode}: {detail[:200]}"


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
