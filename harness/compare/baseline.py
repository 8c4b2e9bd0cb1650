"""The base side's boots, kept and taken again by every later comparison with their key.

Under icount a boot's figures count the guest's executed instructions: the bare base's
samples do not depend on when, beside what or against which series it was booted. So
the A side of a comparison against the bare base is booted once per key, its good boots
are kept, and every later comparison with that key takes them: only its B side boots.
The key is everything that decides the figures: the base commit, the kernel's .config
(the compiler's version is in it), the benchmarks as built, the plan (benchmarks,
repetitions, warmup, CPUs, memory, command line, knobs), QEMU's version, its firmware,
virtme-ng's version, the host's kernel, and the code that reads figures out of a boot.
A wall clock, KVM, an A side that is a series (--against) or --fresh-base keep nothing
and take nothing.

Files: CACHE/compare-base/KEY/boots.jsonl (the good A boots, one line each, appended as
they end), CACHE/compare-base/KEY/about.json (what the key was made of).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import platform
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from .. import proc
from ..boot import kvm
from ..errors import EnvError
from .boots import ICOUNT_OPTS, BootPlan, append_jsonl, sample_from_record
from .model import BootSample, Side
from .request import BENCH_CMDLINE, Timing
from .sides import BuiltSide

DIR = "compare-base"
FORMAT = 1  # of the kept records; a change here keys every kept boot anew
# What reads a boot's figures: a change to it may change what a kept boot would say.
READERS = ("boots.py", "metrics.py", "model.py")
FIRMWARE = (Path("/usr/share/qemu/bios-256k.bin"), Path("/usr/share/seabios/bios-256k.bin"))


@dataclass(frozen=True)
class Kept:
    """The kept A boots of one key: `samples` were booted by earlier comparisons; the boots
    of this one are added as they end."""

    where: Path
    samples: tuple[BootSample, ...]

    def add(self, sample: BootSample, run: Path) -> None:
        if sample.side is not Side.A or not sample.ok:
            return
        self.where.mkdir(parents=True, exist_ok=True)
        origin = replace(sample, console=str(run / "boots" / sample.console))
        with (self.where / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            append_jsonl(self.where / "boots.jsonl", origin)

    def describe(self, taken: int) -> str:
        """The table's line: where the A side's figures came from."""
        about = _about(self.where)
        since = about.get("first", "?")
        return (
            f"A side: {taken} boot(s) kept from earlier comparisons on this base (first "
            f"{since}, key {self.where.name}); fresh: the rest of A and all of B"
        )


def open_kept(cache: Path, plan: BootPlan, side: BuiltSide, fresh: bool) -> Kept | None:
    """The kept boots of the A side, or None where none may be kept: a wall clock, KVM,
    an A side that is not the bare base, --fresh-base, or figures we cannot key."""
    if fresh or plan.kvm or plan.timing is not Timing.ICOUNT or side.spec.series is not None:
        return None
    parts = key_parts(plan, side)
    if parts is None:
        return None
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]
    where = cache / DIR / digest
    if not (where / "about.json").is_file():
        where.mkdir(parents=True, exist_ok=True)
        about = {**parts, "first": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
        (where / "about.json").write_text(json.dumps(about, indent=1, sort_keys=True) + "\n")
    return Kept(where, tuple(_read(where / "boots.jsonl")))


def key_parts(plan: BootPlan, side: BuiltSide) -> dict[str, object] | None:
    """What decides the base's figures; None when a part cannot be read."""
    if side.config is None:
        return None
    try:
        config_digest = _digest_file(side.config)
        bench = _digest_tree(side.bench.out)
    except OSError:
        return None
    qemu, vng = kvm.qemu_version(), _vng_version()
    if not qemu or not vng:
        return None
    here = Path(__file__).parent
    return {
        "format": FORMAT,
        "base": side.commit,
        "config": config_digest,
        "bench": bench,
        "benches": list(plan.benches) or sorted(side.bench.workloads),
        "reps": plan.reps,
        "warmup": plan.warmup,
        "cpus": plan.cpus,
        "memory": plan.memory,
        "cmdline": [*plan.cmdline, *BENCH_CMDLINE],
        "knobs": list(plan.knobs),
        "qemu": qemu,
        "qemu_opts": list(ICOUNT_OPTS),
        "firmware": _firmware(),
        "host": platform.release(),
        "vng": vng,
        "readers": {name: _digest_file(here / name) for name in READERS},
    }


def _firmware() -> str:
    """SeaBIOS as QEMU finds it (Debian packages it apart from QEMU)."""
    for path in FIRMWARE:
        try:
            return _digest_file(path)
        except OSError:
            continue
    return ""


def _vng_version() -> str:
    try:
        result = proc.run(["vng", "--version"], timeout=30)
    except EnvError:
        return ""
    return result.output.strip().splitlines()[-1] if result.ok and result.output.strip() else ""


def _read(path: Path) -> Iterator[BootSample]:
    """Good A boots, in the order they were kept; a line cut short by a crash is skipped."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return
    for line in lines:
        try:
            sample = sample_from_record(json.loads(line))
        except (ValueError, KeyError, TypeError):
            continue
        if sample.side is Side.A and sample.ok:
            yield sample


def _about(where: Path) -> dict[str, object]:
    try:
        about = json.loads((where / "about.json").read_text())
    except (OSError, ValueError):
        return {}
    return about if isinstance(about, dict) else {}


def _digest_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _digest_tree(root: Path) -> str:
    """What the guest runs of the built benchmarks (programs, scripts, modules), by path
    and content; not the objects in between, which name the slot they were built in."""
    digest = hashlib.sha256()
    ran = (p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and _ran(p, root))
    for path in sorted(ran):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _ran(path: Path, root: Path) -> bool:
    return (
        path.suffix in (".ko", ".sh")
        or path.name == "workloads"
        or path.relative_to(root).parts[0] == "bin"
    )
