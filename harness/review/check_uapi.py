"""Static check of the ABI numbers a patch adds: syscalls here, flag values in check_mm_flags.

Input: one patch mail (or bare diff) and the base kernel tree it applies to.
Output: Findings (check "uapi"). Reads only the tree's syscall tables and unistd headers
(check_mm_flags reads the mman headers and include/linux/mm.h). Never raises: unreadable
input gives fewer findings.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.intake.diffparse import FileDiff, parse_diff
from harness.readfiles import read_in_tree
from harness.review.check_mm_flags import check_flags
from harness.review.checker_findings import Finding, Severity
from harness.review.uapi_defines import CHECK as CHECK  # check.py names the Case after it

GENERIC_TBL = "scripts/syscall.tbl"
SYSCALL_GLOBS = (
    "include/uapi/asm-generic/unistd.h",
    "tools/include/uapi/asm-generic/unistd.h",
    GENERIC_TBL,
    "arch/*/entry/syscalls/*.tbl",
    "arch/*/kernel/syscalls/*.tbl",
    "arch/*/tools/*.tbl",
    "arch/arm64/include/asm/unistd32.h",
)
# Where the limit for a header's numbers is defined, and which table replaced the header's list.
LIMITS = {
    "include/uapi/asm-generic/unistd.h": ("include/uapi/asm-generic/unistd.h", "__NR_syscalls"),
    "tools/include/uapi/asm-generic/unistd.h": (
        "tools/include/uapi/asm-generic/unistd.h",
        "__NR_syscalls",
    ),
    "arch/arm64/include/asm/unistd32.h": (
        "arch/arm64/include/asm/unistd.h",
        "__NR_compat_syscalls",
    ),
}
GENERATED_FROM = {
    "include/uapi/asm-generic/unistd.h": GENERIC_TBL,
    "arch/arm64/include/asm/unistd32.h": "arch/arm64/tools/syscall_32.tbl",
}
NOT_SYSCALLS = {"syscalls", "compat_syscalls", "arch_specific_syscall"}
ALPHA_OFFSET = 110  # alpha numbers new syscalls 110 above everyone else

NR_RE = re.compile(r"^\s*#\s*define\s+__NR(?:3264)?_(\w+)\s+(\d+)\b")
LIMIT_RE = re.compile(r"^\s*#\s*define\s+(__NR_(?:compat_)?syscalls)\s+(\d+)\b")
TBL_RE = re.compile(r"^(\d+)\s+(\w+)\s+(\w+)")


@dataclass(frozen=True)
class Syscall:
    number: int
    abi: str
    name: str
    text: str = ""


def parse_syscalls(path: str, lines: Iterable[str]) -> list[Syscall]:
    """Syscall numbers in a .tbl file or a unistd header."""
    out: list[Syscall] = []
    for text in lines:
        if path.endswith(".tbl"):
            m = TBL_RE.match(text)
            if m:
                out.append(Syscall(int(m.group(1)), m.group(2), m.group(3), text.strip()))
        elif (m := NR_RE.match(text)) and m.group(1) not in NOT_SYSCALLS:
            out.append(Syscall(int(m.group(2)), "header", m.group(1), text.strip()))
    return out


def tree_syscalls(tree: Path | None, path: str) -> tuple[str, list[Syscall]]:
    """The tree's numbers for `path`, or for the table it is generated from on newer trees."""
    found = parse_syscalls(path, read_in_tree(tree, path).splitlines())
    if not found and path in GENERATED_FROM:
        source = GENERATED_FROM[path]
        return source, parse_syscalls(source, read_in_tree(tree, source).splitlines())
    return path, found


def abis_clash(a: str, b: str) -> bool:
    return a == b or "common" in (a, b) or "header" in (a, b)


def tree_limit(tree: Path | None, limit_file: str, macro: str) -> int | None:
    for text in read_in_tree(tree, limit_file).splitlines():
        m = LIMIT_RE.match(text)
        if m and m.group(1) == macro:
            return int(m.group(2))
    return None


def patch_limit(files: list[FileDiff], limit_file: str, macro: str, added: bool) -> int | None:
    for f in files:
        if f.path == limit_file:
            for line in f.added if added else f.removed:
                m = LIMIT_RE.match(line.text)
                if m and m.group(1) == macro:
                    return int(m.group(2))
    return None


def collisions(
    path: str, new: list[Syscall], removed: list[Syscall], tree: Path | None
) -> list[Finding]:
    source, existing = tree_syscalls(tree, path)
    gone = {(s.number, s.name) for s in removed}
    existing = [s for s in existing if (s.number, s.name) not in gone]
    out = []
    where = path if source == path else f"{source} (which generates {path} on this tree)"
    for s in new:
        taken = [
            e
            for e in existing
            if e.number == s.number and e.name != s.name and abis_clash(e.abi, s.abi)
        ]
        taken += [
            o for o in new if o is not s and o.number == s.number and abis_clash(o.abi, s.abi)
        ]
        if taken:
            names = ", ".join(sorted({t.name for t in taken}))
            first_free = max((e.number for e in existing), default=-1) + 1
            out.append(
                Finding(
                    CHECK,
                    Severity.ERROR,
                    f"syscall {s.name} gets number {s.number}, already used by {names} in {where};"
                    f" the first free number there is {first_free}",
                    path,
                    (s.text,),
                )
            )
    return out


def limit_findings(
    path: str, new: list[Syscall], files: list[FileDiff], tree: Path | None
) -> list[Finding]:
    """Is __NR_syscalls / __NR_compat_syscalls past the highest number after this patch?"""
    if path not in LIMITS or not new:
        return []
    limit_file, macro = LIMITS[path]
    _, existing = tree_syscalls(tree, path)
    top = max([*existing, *new], key=lambda s: s.number)
    value = patch_limit(files, limit_file, macro, added=True)
    if value is None:
        value = tree_limit(tree, limit_file, macro)
        if value is None or value > top.number:
            return []
        return [
            Finding(
                CHECK,
                Severity.ERROR,
                f"{macro} is {value} and not bumped, but {top.name} is {top.number}",
                limit_file,
            )
        ]
    if value <= top.number:
        return [
            Finding(
                CHECK,
                Severity.ERROR,
                f"{macro} set to {value}, but the highest number is {top.number} ({top.name});"
                f" it must be {top.number + 1}",
                limit_file,
                (f"#define {macro} {value}",),
            )
        ]
    return []


def stale_findings(files: list[FileDiff], tree: Path | None) -> list[Finding]:
    """Removed syscall lines the tree no longer has: the patch took numbers free on its base."""
    out = []
    for limit_file, macro in dict.fromkeys(LIMITS.values()):
        old = patch_limit(files, limit_file, macro, added=False)
        if old is None or not read_in_tree(tree, limit_file):
            continue  # nothing to compare with: no tree, or the file is gone
        now = tree_limit(tree, limit_file, macro)
        if now == old:
            continue
        table = next(p for p, lim in LIMITS.items() if lim == (limit_file, macro))
        source, existing = tree_syscalls(tree, table)
        taken = sorted((s for s in existing if s.number >= old), key=lambda s: s.number)
        since = ", ".join(f"{s.number} {s.name}" for s in taken)
        have = f"has {macro} {now}" if now is not None else f"has no {macro} in {limit_file}"
        out.append(
            Finding(
                CHECK,
                Severity.WARNING,
                f"patch base had {macro} {old}; the tree {have}"
                + (f"; numbers taken since, per {source}: {since}" if since else ""),
                limit_file,
                (f"-#define {macro} {old}",),
            )
        )
    return out


def table_arches(tree: Path | None) -> dict[str, str]:
    """Every syscall table in the tree, with a label saying which arches read it."""
    if tree is None or not (tree / GENERIC_TBL).is_file():
        return {}
    tables = {}
    for pattern in SYSCALL_GLOBS[3:6]:
        for p in sorted(tree.glob(pattern)):
            rel = p.relative_to(tree).as_posix()
            tables[rel] = f"{rel.split('/')[1]} ({p.stem})"
    users = sorted(
        p.parent.parent.name
        for p in tree.glob("arch/*/kernel/Makefile.syscalls")
        if "syscalltbl" not in p.read_text(errors="replace")
    )
    tables[GENERIC_TBL] = f"generic ({', '.join(users)})"
    return tables


def cross_table_findings(added: dict[str, list[Syscall]], tree: Path | None) -> list[Finding]:
    out: list[Finding] = []
    tables = table_arches(tree)
    names = sorted({s.name for entries in added.values() for s in entries})
    for name in names:
        where = {
            path: s.number for path, entries in added.items() for s in entries if s.name == name
        }
        normal = {n - ALPHA_OFFSET if p.startswith("arch/alpha/") else n for p, n in where.items()}
        if len(normal) > 1:
            spread = "; ".join(f"{n} in {p}" for p, n in sorted(where.items()))
            out.append(
                Finding(
                    CHECK,
                    Severity.WARNING,
                    f"syscall {name} gets different numbers: {spread}",
                    sorted(where)[0],
                )
            )
        if not tables:
            continue
        in_tree = {
            p
            for p in tables
            if any(s.name == name for s in parse_syscalls(p, read_in_tree(tree, p).splitlines()))
        }
        missing = [label for p, label in tables.items() if p not in where and p not in in_tree]
        if not any(p in tables for p in where) and not in_tree:
            out.append(
                Finding(
                    CHECK,
                    Severity.ERROR,
                    f"syscall {name} is added to {', '.join(sorted(where))}"
                    " but to no syscall table;"
                    f" this tree generates its syscall numbers from {GENERIC_TBL} and arch/*/*.tbl,"
                    " so it is wired up on no architecture",
                    sorted(where)[0],
                )
            )
        elif missing:
            out.append(
                Finding(
                    CHECK,
                    Severity.WARNING,
                    f"syscall {name} is missing from: {'; '.join(missing)}",
                    sorted(where)[0],
                )
            )
    return out


def check_syscalls(files: list[FileDiff], tree: Path | None) -> list[Finding]:
    added: dict[str, list[Syscall]] = {}
    removed: dict[str, list[Syscall]] = {}
    for f in files:
        if any(fnmatch.fnmatchcase(f.path, g) for g in SYSCALL_GLOBS):
            added[f.path] = parse_syscalls(f.path, (line.text for line in f.added))
            removed[f.path] = parse_syscalls(f.path, (line.text for line in f.removed))
    out: list[Finding] = []
    for path, new in added.items():
        out += collisions(path, new, removed[path], tree)
        out += limit_findings(path, new, files, tree)
    out += stale_findings(files, tree)
    out += cross_table_findings({p: s for p, s in added.items() if s}, tree)
    return out


def check_patch(patch_text: str, tree: Path | None) -> list[Finding]:
    """All uapi findings for one patch against the tree it will be applied to."""
    try:
        files = parse_diff(patch_text)
        return check_syscalls(files, tree) + check_flags(files, tree)
    except (ValueError, RecursionError, OSError) as err:  # harness bug guard: report, don't crash
        return [Finding(CHECK, Severity.CRASH, f"uapi check could not finish: {err}")]
