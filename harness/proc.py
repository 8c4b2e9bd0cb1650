"""The one place the harness starts processes: no other module imports subprocess.

Input: argv, cwd, an optional log file and timeout. Output: a Completed (run), or a
running child whose stderr the caller watches (watched: vng's console, the KVM probe).
Echoes `$ argv` to the log, tees output there, kills the whole process group on
timeout or when a watch ends, never uses a shell. Raises EnvError when the program
does not exist.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from harness import progress, sandbox
from harness.errors import EnvError
from harness.sandbox import Sandbox

INSTALL_HINTS = {
    "git": "apt-get install git",
    "make": "apt-get install build-essential",
    "gcc": "apt-get install build-essential",
    "ccache": "apt-get install ccache",
    "vng": "pip install virtme-ng",
    "qemu-system-x86_64": "apt-get install qemu-system-x86",
    "flex": "apt-get install flex bison",
    "perl": "apt-get install perl",
    "b4": "pip install -e . (b4 is a pinned dependency)",
    "patch": "apt-get install patch",
    "rsync": "apt-get install rsync",  # make headers_install (kselftest builds)
    "bison": "apt-get install flex bison",
    "bc": "apt-get install bc",
    "bwrap": sandbox.INSTALL_HINT,
    "prlimit": "apt-get install util-linux",
    "setpriv": "apt-get install util-linux",
}

# What each command runs on the host, checked by require() before any work starts.
APPLY_TOOLS = ("git", "patch")
# The sandbox the tree's code runs in (not needed under --no-sandbox).
SANDBOX_TOOLS = ("bwrap", "prlimit", "setpriv")
BUILD_TOOLS = (*APPLY_TOOLS, "make", "gcc", "flex", "bison", "bc", "perl", "rsync", *SANDBOX_TOOLS)
BOOT_TOOLS = (*BUILD_TOOLS, "vng", "qemu-system-x86_64")

# A child started by watched(): its stderr is a pipe the caller reads.
Child = subprocess.Popen[bytes]


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int | None  # None: killed on timeout
    output: str
    seconds: float
    denied: tuple[str, ...] = ()  # output lines showing the sandbox stopped something

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


def note(message: str) -> None:
    """A progress line for the user; stderr, so stdout stays the run's summary (-q: none)."""
    progress.note(message)


def missing_tool(name: str) -> EnvError:
    hint = INSTALL_HINTS.get(name, f"install {name}")
    return EnvError(f"{name} not found: {hint}")


FULL = 1 << 20  # bytes free under which a failed step is said to have run out of space


def out_of_space(where: Path) -> str:
    """' (No space left on device: ...)' when the filesystem of `where` is full, else '':
    a full disk shows as whatever the step that hit it printed (fixdep's 'not all data was
    written'), which names no cause."""
    try:
        fs = os.statvfs(where)
    except OSError:
        return ""
    free = fs.f_bavail * fs.f_frsize
    return f" (No space left on device: {free // 1024} kB free in {where})" if free < FULL else ""


GROUP_GONE_WAIT = 5.0  # seconds for SIGKILLed grandchildren (QEMU under vng) to go


def program(name: str) -> str:
    """A bare program name, or the same program installed next to the running Python: vng
    and b4 are pip dependencies, found in the harness's venv without activating it."""
    beside = Path(sys.executable).parent / name
    if "/" not in name and os.access(beside, os.X_OK):
        return str(beside)
    return name


def own_environ() -> dict[str, str]:
    """The environment children get: the harness's, with the running Python's bin dir first
    on PATH. vng runs virtme-run and b4 runs git-filter tools by bare name; in a venv that
    nobody activated (ci/install.sh's .venv) they are found only there."""
    environ = dict(os.environ)
    own_bin = str(Path(sys.executable).parent)
    path = environ.get("PATH", os.defpath)
    if own_bin not in path.split(os.pathsep):
        environ["PATH"] = own_bin + os.pathsep + path
    return environ


def python_dirs() -> tuple[Path, ...]:
    """The running Python and its venv: what a sandboxed vng needs bound back."""
    dirs = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent}
    return tuple(sorted(dirs))


def require(tools: Sequence[str]) -> None:
    """EnvError (exit 3) naming every missing tool and its package: a missing tool is
    never a test result (a kselftest build without rsync is not a failing kselftest)."""
    if not sandbox.enabled(os.environ):
        tools = [tool for tool in tools if tool not in SANDBOX_TOOLS]
    missing = [tool for tool in tools if shutil.which(program(tool)) is None]
    if missing:
        hints = "; ".join(
            f"{tool}: {INSTALL_HINTS.get(tool, 'install ' + tool)}" for tool in missing
        )
        raise EnvError(f"missing host tools: {hints}")


def kill_group(popen: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """Kill a child started with start_new_session=True and everything it spawned, and
    return once they are gone: the leader reaped, no live member left in its group.
    Safe after the leader exited: its pid stays reserved while its group has members."""
    try:
        os.killpg(popen.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    popen.wait()
    deadline = time.monotonic() + GROUP_GONE_WAIT
    while time.monotonic() < deadline and _group_alive(popen.pid):
        time.sleep(0.02)


def _group_alive(pgid: int) -> bool:
    """A member of the group that is not a zombie. A zombie has freed all it held; whose
    parent died (bwrap's pid-namespace init, when its parent is killed) waits for pid 1
    to reap it, and a slow pid 1 (a container's init) would add its delay to every boot."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


@contextmanager
def watched(
    argv: Sequence[str], stdout: IO[bytes] | None = None, box: Sandbox | None = None
) -> Iterator[Child]:
    """Start a long-running child whose stderr the caller watches (with pexpect or polling).

    stdin is /dev/null, stdout goes to `stdout` (default: discarded). The child leads its
    own process group, and the whole group is killed when the block ends, whatever
    happened in it: QEMU is always reaped. The caller owns the deadline.
    With `box`, in that sandbox (the guest sees what QEMU sees) unless it is turned off.
    """
    jail = _jail(argv, None, box, {})
    drop = sandbox.drop_uid(os.geteuid()) if jail else None
    read_end, write_end = os.pipe()
    if drop is not None:
        # vng reopens its stdout and stderr through /proc/self/fd, which checks the file's
        # owner: handed to the sandbox uid, or vng drops the console it writes there.
        os.fchown(write_end, drop, drop)
        if stdout is not None:
            os.fchown(stdout.fileno(), drop, drop)
    try:
        popen = subprocess.Popen(
            jail.argv if jail else [program(argv[0]), *argv[1:]],
            env=jail.env if jail else own_environ(),
            stdin=subprocess.DEVNULL,
            stdout=stdout if stdout is not None else subprocess.DEVNULL,
            stderr=write_end,
            start_new_session=True,
        )
    except FileNotFoundError as err:
        os.close(read_end)
        raise missing_tool(argv[0]) from err
    finally:
        os.close(write_end)
    popen.stderr = open(read_end, "rb")  # noqa: SIM115 (closed with the child, below)
    try:
        yield popen
    finally:
        kill_group(popen)  # also when vng exited first: QEMU may still be in its group
        popen.stderr.close()


def run(
    argv: Sequence[str],
    cwd: Path | None = None,
    log: Path | None = None,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
    box: Sandbox | None = None,
) -> Completed:
    """Run argv to completion; stdout+stderr are returned and appended to `log`.
    With `box` (code from the tree under test), in that sandbox unless it is turned off."""
    started = time.monotonic()
    jail = _jail(argv, cwd, box, env or {})
    logf = open(log, "a", encoding="utf-8", errors="replace") if log else None
    if logf:
        if jail:
            logf.write(f"# in the sandbox: {shlex.join(jail.argv)}\n")
        logf.write(f"$ {shlex.join(argv)}\n")
        logf.flush()
    try:
        popen = subprocess.Popen(
            jail.argv if jail else [program(argv[0]), *argv[1:]],
            cwd=cwd,
            env=jail.env if jail else {**own_environ(), **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except FileNotFoundError as err:
        if logf:
            logf.close()
        raise missing_tool(argv[0]) from err
    chunks: list[str] = []
    timed_out = False
    try:
        timed_out = _pump(popen, chunks, logf, on_line, started, timeout)
    except BaseException:  # KeyboardInterrupt, Interrupted: no child outlives the harness
        kill_group(popen)
        raise
    finally:
        if popen.poll() is None:
            kill_group(popen)
        if logf:
            logf.close()
    returncode = None if timed_out else popen.returncode
    output = "".join(chunks)
    denied = sandbox.denials(output, jail.mounts) if jail else ()
    if denied and log:
        with open(log, "a", encoding="utf-8") as logf:
            logf.writelines(f"harness: the sandbox stopped: {line}\n" for line in denied)
    return Completed(tuple(argv), returncode, output, time.monotonic() - started, denied)


@dataclass(frozen=True)
class _Jail:
    argv: list[str]
    env: dict[str, str]
    mounts: sandbox.Mounts


def _jail(
    argv: Sequence[str], cwd: Path | None, box: Sandbox | None, env: Mapping[str, str]
) -> _Jail | None:
    """argv wrapped in its sandbox, or None when there is none or it is turned off."""
    if box is None or not sandbox.enabled(os.environ):
        return None
    drop = sandbox.drop_uid(os.geteuid())
    require(SANDBOX_TOOLS if drop is not None else ("bwrap", "prlimit"))
    found = shutil.which(program(argv[0]))
    if found is None:  # inside, bwrap's own error would hide the cause
        raise missing_tool(argv[0])
    # Bound only if it exists: else writes land in a tmpfs and are lost.
    for path in box.writable:
        path.mkdir(parents=True, exist_ok=True)
    if drop is not None:
        sandbox.own_writable(box.writable, drop)
    mounts = sandbox.resolve(box, os.environ)
    wrapped = sandbox.bwrap_argv(
        mounts, [found, *argv[1:]], str(cwd or "/"), box.memory, box.nproc, drop
    )
    return _Jail(wrapped, sandbox.child_env(own_environ(), env), mounts)


def _pump(popen, chunks, logf, on_line, started, timeout) -> bool:  # type: ignore[no-untyped-def]
    """Copy the child's output as it comes, whole lines to on_line; True when the deadline
    passed. Reads what the pipe holds (os.read), never waits for a newline: a child that
    prints half a line and hangs must not outlive its timeout."""
    import codecs
    import io
    import selectors

    assert popen.stdout is not None
    fd = popen.stdout.fileno()
    # What text=True did: UTF-8 with replacement, universal newlines.
    decoder = io.IncrementalNewlineDecoder(codecs.getincrementaldecoder("utf-8")("replace"), True)
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    pending = ""
    while True:
        remaining = None if timeout is None else timeout - (time.monotonic() - started)
        if remaining is not None and remaining <= 0:
            kill_group(popen)
            _emit([pending], chunks, logf, None)
            return True
        if not sel.select(timeout=min(remaining, 1.0) if remaining else 1.0):
            continue
        data = os.read(fd, 65536)
        text = decoder.decode(data, final=not data)
        *lines, pending = (pending + text).split("\n")
        _emit([line + "\n" for line in lines], chunks, logf, on_line)
        if not data:
            _emit([pending], chunks, logf, on_line)
            return _wait_until(popen, started, timeout)


def _wait_until(popen: subprocess.Popen[bytes], started: float, timeout: float | None) -> bool:
    """The child closed its output: wait for it to exit, but not past the deadline (a
    child that closes stdout and sleeps is still running). True when the deadline passed."""
    try:
        popen.wait(None if timeout is None else max(0.0, timeout - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        kill_group(popen)
        return True
    return False


def _emit(lines, chunks, logf, on_line) -> None:  # type: ignore[no-untyped-def]
    for line in filter(None, lines):
        chunks.append(line)
        if logf:
            logf.write(line)
            logf.flush()
        if on_line:
            on_line(line)
