"""The sandbox code from the tree under test runs in: bubblewrap, no network, the host
read-only, secrets hidden.

Input: a Sandbox (what the command may write and read back) and the argv. Output: the
wrapped argv (`prlimit ... -- bwrap ... -- argv`), the environment the child gets, and
the output lines that show the sandbox stopped something. Pure but for `resolve`, which
reads the filesystem (which paths exist, a worktree's .git file). proc.run applies it.

Inside: user, pid, net, ipc, uts and cgroup namespaces (--unshare-all), uid/gid 65534.
The host's root user maps to that uid, so files the harness owns stay writable where
they are bound writable, and nothing else is: / is bound read-only, and /root, /home,
$HOME, the caches, /tmp, /run and the parents of the writable dirs (the other cache
slots) are empty read-only tmpfs with only the listed paths bound back.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

NOBODY = 65534
GIB = 1 << 30
# Per-process address space: a compiler needs < 2 GiB, a fork bomb of allocators is stopped.
DEFAULT_MEMORY = 8 * GIB
HIDDEN_DIRS = ("/root", "/home", "/tmp", "/var/tmp", "/run", "/mnt", "/media", "/etc/ssh")
HIDDEN_FILES = ("/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-")
# The harness's own environment may hold tokens: the child gets these and what the
# call site sets, nothing else.
KEPT_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ", "SOURCE_DATE_EPOCH")
KEPT_ENV_PREFIXES = ("CCACHE_", "KBUILD_")
ENABLE_VAR = "HARNESS_SANDBOX"
INSTALL_HINT = "apt-get install bubblewrap"


@dataclass(frozen=True)
class Sandbox:
    """What one command may touch besides the read-only host."""

    writable: tuple[Path, ...] = ()
    readable: tuple[Path, ...] = ()  # bound back read-only inside the hidden dirs
    devices: tuple[Path, ...] = ()  # e.g. /dev/kvm for vng
    memory: int | None = DEFAULT_MEMORY  # RLIMIT_AS per process; None: no limit (QEMU)
    ccache: bool = False  # bind ccache's dir (writable) and its config back
    # (host path, what is bound read-only over it): the guest's init finds harness's
    # files in place of the host's (boot/guest_init.py); skipped where either is missing.
    replaced: tuple[tuple[Path, Path], ...] = ()


@dataclass(frozen=True)
class Mounts:
    """A Sandbox resolved against this host: only paths that exist, real paths."""

    hidden_dirs: tuple[str, ...]
    hidden_files: tuple[str, ...]
    readable: tuple[str, ...]
    writable: tuple[str, ...]
    devices: tuple[str, ...] = ()
    replaced: tuple[tuple[str, str], ...] = ()  # (host path, the file bound over it)


DEFAULT_POLICY = "1"  # on; HARNESS_SANDBOX=0 or --no-sandbox for trusted trees


def enabled(environ: Mapping[str, str]) -> bool:
    """The policy: HARNESS_SANDBOX=0 (what --no-sandbox sets) turns it off."""
    return environ.get(ENABLE_VAR, DEFAULT_POLICY) != "0"


def _depth(path: str) -> int:
    return len(Path(path).parts)


def bwrap_argv(mounts: Mounts, argv: Sequence[str], cwd: str, memory: int | None) -> list[str]:
    """The wrapped command line: the only place bwrap flags are spelled."""
    limits = ["prlimit", f"--as={memory}", "--"] if memory else []
    out = [*limits, "bwrap", "--die-with-parent", "--unshare-all"]
    out += ["--uid", str(NOBODY), "--gid", str(NOBODY)]
    out += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for device in mounts.devices:
        out += ["--dev-bind", device, device]
    for hidden in sorted(mounts.hidden_dirs, key=_depth):
        out += ["--tmpfs", hidden]
    for hidden in mounts.hidden_files:
        out += ["--ro-bind", "/dev/null", hidden]
    binds = [(p, "--ro-bind") for p in mounts.readable] + [(p, "--bind") for p in mounts.writable]
    for path, flag in sorted(binds, key=lambda b: _depth(b[0])):
        out += [flag, path, path]
    for target, source in mounts.replaced:
        out += ["--ro-bind", source, target]
    # The hidden dirs read-only too: a write there fails loudly, not into a tmpfs that vanishes.
    # /tmp stays the command's private scratch space.
    for hidden in sorted(mounts.hidden_dirs, key=_depth):
        if hidden != "/tmp":
            out += ["--remount-ro", hidden]
    return [*out, "--chdir", cwd, "--", *argv]


def child_env(environ: Mapping[str, str], explicit: Mapping[str, str]) -> dict[str, str]:
    kept = {k: v for k, v in environ.items() if k in KEPT_ENV or k.startswith(KEPT_ENV_PREFIXES)}
    return {**kept, **explicit}


def hidden_dirs(environ: Mapping[str, str], writable: Sequence[Path]) -> list[Path]:
    """Where secrets and other runs' state live: fixed dirs, $HOME, the caches, and the
    parent of every writable dir (a slot's siblings are other slots)."""
    found = [Path(p) for p in HIDDEN_DIRS]
    for var in ("HOME", "XDG_CACHE_HOME", "HARNESS_CACHE"):
        if environ.get(var):
            found.append(Path(environ[var]))
    found += [w.parent for w in writable if len(w.parent.parts) > 2]
    return found


def git_dirs(tree: Path) -> list[Path]:
    """A git worktree's .git is a file naming its gitdir in the main repo: Kbuild's
    setlocalversion runs git there, and a failing git changes kernel.release (a rebuild)."""
    dotgit = tree / ".git"
    if not dotgit.is_file():
        return []
    text = dotgit.read_text(errors="replace")
    match = re.match(r"gitdir: (.+)", text)
    if not match:
        return []
    gitdir = (tree / match[1].strip()).resolve()
    common = gitdir / "commondir"
    if common.is_file():
        return [gitdir, (gitdir / common.read_text().strip()).resolve()]
    return [gitdir]


def resolve(box: Sandbox, environ: Mapping[str, str], ccache_dir: Path | None) -> Mounts:
    """The Sandbox against this host's filesystem: real paths that exist."""
    writable = list(box.writable)
    readable = [*box.readable, *(g for p in box.readable + box.writable for g in git_dirs(p))]
    if box.ccache and ccache_dir:
        writable.append(ccache_dir)
        readable.append(Path(environ.get("HOME", "/root")) / ".config" / "ccache")
        if environ.get("CCACHE_CONFIGPATH"):
            readable.append(Path(environ["CCACHE_CONFIGPATH"]))

    def real(paths: Sequence[Path]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(os.path.realpath(p) for p in paths if os.path.lexists(p)))

    hidden = [d for d in real(hidden_dirs(environ, writable)) if os.path.isdir(d) and d != "/"]
    files = [f for f in real([Path(f) for f in HIDDEN_FILES]) if os.path.isfile(f)]
    replaced = tuple(
        (os.path.realpath(target), os.path.realpath(source))
        for target, source in box.replaced
        if os.path.exists(target) and os.path.exists(source)
    )
    return Mounts(
        tuple(hidden), tuple(files), real(readable), real(writable), real(box.devices), replaced
    )


# What a blocked write, read or connection prints: EROFS anywhere (only the sandbox makes
# the host read-only), a missing or unreadable file only under a hidden dir.
ALWAYS_DENIED = re.compile(
    r"Read-only file system|Network is unreachable|Temporary failure in name resolution"
    r"|Name or service not known|Could not resolve host"
)
HIDDEN_ERRNO = re.compile(r"No such file or directory|Permission denied|Operation not permitted")


PATH_TOKEN = re.compile(r"/[^\s:'\"`,;()\[\]]*")


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def denials(output: str, mounts: Mounts) -> tuple[str, ...]:
    """The output lines that show the sandbox stopped a write, a read or the network."""
    bound = [*mounts.readable, *mounts.writable]
    hidden = [h for h in mounts.hidden_dirs if h != "/tmp"] + list(mounts.hidden_files)
    found = []
    for line in output.splitlines():
        if ALWAYS_DENIED.search(line):
            found.append(line.strip())
        elif HIDDEN_ERRNO.search(line) and any(
            _under(token, hidden) and not _under(token, bound) for token in PATH_TOKEN.findall(line)
        ):
            found.append(line.strip())
    return tuple(dict.fromkeys(found))


def stopped(denied: Sequence[str]) -> str:
    """A case message: what the sandbox stopped (the first of them, and how many more)."""
    more = f" (and {len(denied) - 1} more, see the log)" if len(denied) > 1 else ""
    return f"the sandbox stopped it: {denied[0]}{more}"
