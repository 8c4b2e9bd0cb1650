"""The sandbox code from the tree under test runs in, and the one policy table that says
how each kind of step runs: bubblewrap, no network, the host read-only, secrets hidden,
an unprivileged host uid.

Input: a Step and the paths it is given (for_step), or a Sandbox, and the argv. Output:
the wrapped argv (`prlimit ... -- bwrap ... -- setpriv ... -- argv`), the environment the
child gets, and the output lines that show the sandbox stopped something. Pure but for
`resolve`, which reads the filesystem (which paths exist, a worktree's .git file), and
`own_writable`, which hands the writable dirs to the sandbox uid. proc.run applies it.

Inside: pid, net, ipc, uts and cgroup namespaces. Run by root, bwrap needs no user
namespace and the command drops to host uid/gid 65534 (setpriv, no capabilities, no
supplementary groups): a root-owned 0600 file is unreadable, the source tree (owned by
root) unwritable, and only the dirs handed to that uid are writable. Run by another
user, a user namespace maps that user to 65534 inside. / is bound read-only, and /root,
/home, $HOME, the caches, /tmp, /run and the parents of the writable dirs (the other
cache slots) are empty tmpfs with only the listed paths bound back.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

NOBODY = 65534
GIB = 1 << 30
# Per-process address space: a compiler needs < 2 GiB. It stops one allocator, not a fork
# bomb: that is what the process limit is for.
DEFAULT_MEMORY = 8 * GIB
# Processes of the sandbox uid (RLIMIT_NPROC counts them host-wide): make -j and its
# compilers need a few dozen, two concurrent runs a few hundred.
DEFAULT_NPROC = 2048
KVM_DEVICE = Path("/dev/kvm")
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
    nproc: int | None = DEFAULT_NPROC  # RLIMIT_NPROC of the sandbox uid
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


class Step(enum.Enum):
    """The kinds of step that run code from the tree under test."""

    KCONFIG = "kconfig"  # merge_config.sh and olddefconfig
    BUILD = "build"  # the kernel's make
    SELFTEST_BUILD = "kselftest build"  # headers_install and the selftests' Makefiles
    SUITE_BUILD = "guest suite build"  # guest-tests/ modules, built through the tree's Kbuild
    TREE_SCRIPT = "tree script"  # checkpatch.pl, get_maintainer.pl and other helpers
    BOOT = "boot"  # vng, QEMU and the guest


@dataclass(frozen=True)
class Rule:
    """How one kind of step runs: what it may write (by role), its limits, its devices."""

    writes: frozenset[str]  # roles: "build" (a build dir), "out" (an output dir), "ccache"
    memory: int | None = DEFAULT_MEMORY
    nproc: int | None = DEFAULT_NPROC
    kvm: bool = False


# The one table. The source tree is never a role that writes: a step that must write next
# to its sources builds out of tree (O=, OUTPUT=) or gets a copy. git is the one step that
# runs outside, on what the tree's code could not write: harness/git.py.
POLICY: dict[Step, Rule] = {
    Step.KCONFIG: Rule(frozenset({"build"})),
    Step.BUILD: Rule(frozenset({"build", "ccache"})),
    Step.SELFTEST_BUILD: Rule(frozenset({"build", "out"})),
    Step.SUITE_BUILD: Rule(frozenset({"out"})),
    Step.TREE_SCRIPT: Rule(frozenset(), nproc=256),
    # QEMU sizes its guest RAM and TCG buffers itself. vng links the kernel's modules
    # into <build>/.virtme_mods and runs depmod there.
    Step.BOOT: Rule(frozenset({"build"}), memory=None, kvm=True),
}


def for_step(
    step: Step,
    writes: Mapping[str, Sequence[Path]] | None = None,
    reads: Sequence[Path] = (),
    kvm: bool = False,
    replaced: tuple[tuple[Path, Path], ...] = (),
) -> Sandbox:
    """The Sandbox for one step: `writes` maps a role to its dirs (only the roles the
    step's rule allows), `reads` is what it reads besides the read-only host."""
    rule = POLICY[step]
    roles = dict(writes or {})
    if not set(roles) <= rule.writes:
        raise ValueError(f"{step.value} may not write {sorted(set(roles) - rule.writes)}")
    return Sandbox(
        writable=tuple(p for dirs in roles.values() for p in dirs),
        readable=tuple(reads),
        devices=(KVM_DEVICE,) if kvm and rule.kvm and KVM_DEVICE.exists() else (),
        memory=rule.memory,
        nproc=rule.nproc,
        replaced=replaced,
    )


DEFAULT_POLICY = "1"  # on; HARNESS_SANDBOX=0 or --no-sandbox for trusted trees


def enabled(environ: Mapping[str, str]) -> bool:
    """The policy: HARNESS_SANDBOX=0 (what --no-sandbox sets) turns it off."""
    return environ.get(ENABLE_VAR, DEFAULT_POLICY) != "0"


def _depth(path: str) -> int:
    return len(Path(path).parts)


def drop_uid(euid: int) -> int | None:
    """The host uid the command drops to: NOBODY when the harness runs as root; None when
    it does not (a user namespace then maps the caller to NOBODY, not root)."""
    return NOBODY if euid == 0 else None


def bwrap_argv(
    mounts: Mounts,
    argv: Sequence[str],
    cwd: str,
    memory: int | None,
    nproc: int | None = None,
    drop: int | None = None,
) -> list[str]:
    """The wrapped command line: the only place bwrap and setpriv flags are spelled."""
    limits = [f"--as={memory}"] if memory else []
    limits += [f"--nproc={nproc}"] if nproc else []
    out = ["prlimit", *limits, "--"] if limits else []
    out += ["bwrap", "--die-with-parent"]
    if drop is None:
        out += ["--unshare-all", "--uid", str(NOBODY), "--gid", str(NOBODY)]
    else:
        out += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
        out += ["--unshare-cgroup-try"]
    out += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for device in mounts.devices:
        out += ["--dev-bind", device, device]
    bound = [*mounts.readable, *mounts.writable]
    made: set[str] = set()
    for hidden in sorted(mounts.hidden_dirs, key=_depth):
        out += _dirs_on_the_way(hidden, mounts.hidden_dirs, bound, made)
        # /tmp is the command's private scratch space, writable by whatever uid it runs as.
        out += ["--perms", "1777", "--tmpfs", hidden] if hidden == "/tmp" else ["--tmpfs", hidden]
    for hidden in mounts.hidden_files:
        out += ["--ro-bind", "/dev/null", hidden]
    binds = [(p, "--ro-bind") for p in mounts.readable] + [(p, "--bind") for p in mounts.writable]
    for path, flag in sorted(binds, key=lambda b: _depth(b[0])):
        out += _dirs_on_the_way(path, mounts.hidden_dirs, bound, made)
        out += [flag, path, path]
    for target, source in mounts.replaced:
        out += ["--ro-bind", source, target]
    # The hidden dirs read-only too: a write there fails loudly, not into a tmpfs that vanishes.
    # /tmp stays the command's private scratch space.
    for hidden in sorted(mounts.hidden_dirs, key=_depth):
        if hidden != "/tmp":
            out += ["--remount-ro", hidden]
    return [*out, "--chdir", cwd, "--", *_setpriv(drop, mounts.devices), *argv]


def _dirs_on_the_way(
    path: str, hidden: Sequence[str], bound: Sequence[str], made: set[str]
) -> list[str]:
    """The dirs bwrap would make on the way to `path` inside a hidden tmpfs, made first
    with mode 0755: bwrap makes them 0700 and root's, which the sandbox uid cannot cross."""
    flags: list[str] = []
    for ancestor in [str(p) for p in reversed(Path(path).parents)]:
        inside = any(ancestor != h and _under(ancestor, [h]) for h in hidden)
        if (
            inside
            and ancestor not in hidden
            and not _under(ancestor, bound)
            and ancestor not in made
        ):
            made.add(ancestor)
            flags += ["--perms", "0755", "--dir", ancestor]
    return flags


def _setpriv(drop: int | None, devices: Sequence[str]) -> list[str]:
    """Root inside bwrap drops to `drop` before anything of the tree runs: no capabilities,
    no groups but those of the devices it was given (kvm)."""
    if drop is None:
        return []
    groups = sorted({str(os.stat(d).st_gid) for d in devices if os.path.exists(d)})
    group_flag = f"--groups={','.join(groups)}" if groups else "--clear-groups"
    return [
        "setpriv", f"--reuid={drop}", f"--regid={drop}", group_flag,
        "--inh-caps=-all", "--bounding-set=-all", "--",
    ]  # fmt: skip


def own_writable(paths: Sequence[Path], uid: int) -> None:
    """Hand each writable dir to the sandbox uid. A dir some earlier run made as root is
    handed over once, recursively."""
    for path in paths:
        if path.stat().st_uid == uid:
            continue
        for root, dirs, files in os.walk(path):
            for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                os.lchown(name, uid, uid)


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


def resolve(box: Sandbox, environ: Mapping[str, str]) -> Mounts:
    """The Sandbox against this host's filesystem: real paths that exist."""
    writable = list(box.writable)
    readable = [*box.readable, *(g for p in box.readable + box.writable for g in git_dirs(p))]

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
# the host read-only), a missing or unreadable file under a hidden dir, and a file the
# sandbox uid may not read or write anywhere outside what it was given.
ALWAYS_DENIED = re.compile(
    r"Read-only file system|Network is unreachable|Temporary failure in name resolution"
    r"|Name or service not known|Could not resolve host"
)
HIDDEN_ERRNO = re.compile(r"No such file or directory|Permission denied|Operation not permitted")
NOT_OURS = re.compile(r"Permission denied")


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
        elif NOT_OURS.search(line) and any(
            not _under(token, mounts.writable) for token in PATH_TOKEN.findall(line)
        ):
            found.append(line.strip())
    return tuple(dict.fromkeys(found))


def stopped(denied: Sequence[str]) -> str:
    """A case message: what the sandbox stopped (the first of them, and how many more)."""
    more = f" (and {len(denied) - 1} more, see the log)" if len(denied) > 1 else ""
    return f"the sandbox stopped it: {denied[0]}{more}"
