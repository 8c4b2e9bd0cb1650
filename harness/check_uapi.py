"""Static check of the ABI numbers a patch adds: syscalls, mmap/madvise flags, VMA flag bits.

Input: one patch mail (or bare diff) and the base kernel tree it applies to.
Output: Findings (check "uapi"). Reads only the tree's syscall tables, mman headers and
include/linux/mm.h. Never raises: unreadable input gives fewer findings.
"""

from __future__ import annotations

import ast
import fnmatch
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.diffparse import FileDiff, Line, parse_diff
from harness.findings import Finding, Severity

CHECK = "uapi"
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
DEFINE_RE = re.compile(r"^\s*#\s*define\s+(\w+)\s+(.*?)\s*(?:/\*.*|//.*)?$")


@dataclass(frozen=True)
class Syscall:
    number: int
    abi: str
    name: str
    text: str = ""


def read_tree(tree: Path | None, rel: str) -> str:
    if tree is None:
        return ""
    try:
        return (tree / rel).read_text(errors="replace")
    except OSError:
        return ""


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
    found = parse_syscalls(path, read_tree(tree, path).splitlines())
    if not found and path in GENERATED_FROM:
        source = GENERATED_FROM[path]
        return source, parse_syscalls(source, read_tree(tree, source).splitlines())
    return path, found


def abis_clash(a: str, b: str) -> bool:
    return a == b or "common" in (a, b) or "header" in (a, b)


def tree_limit(tree: Path | None, limit_file: str, macro: str) -> int | None:
    for text in read_tree(tree, limit_file).splitlines():
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
        if old is None or not read_tree(tree, limit_file):
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
            if any(s.name == name for s in parse_syscalls(p, read_tree(tree, p).splitlines()))
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
        return [Finding(CHECK, Severity.INFO, f"uapi check could not finish: {err}")]


def added_defines(lines: Iterable[Line]) -> list[tuple[str, str, str]]:
    """(name, value expression, line text) for each `#define NAME VALUE` among `lines`."""
    out = []
    for line in lines:
        m = DEFINE_RE.match(line.text)
        if m and m.group(2):
            out.append((m.group(1), m.group(2), line.text.strip()))
    return out


def c_value(expr: str, env: dict[str, str], depth: int = 0) -> int | None:
    """Evaluate a C constant of literals, macros, << | & + - ~, BIT() and _BITUL()."""
    if depth > 12:
        return None
    text = re.sub(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]+\b", r"\1", expr)
    text = re.sub(r"\b0([0-7]+)\b", r"0o\1", text)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError):
        return None
    return _eval(tree.body, env, depth)


BINOPS: dict[type[ast.operator], Callable[[int, int], int]] = {
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.BitOr: operator.or_,
    ast.BitAnd: operator.and_,
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
}


def _eval(node: ast.expr, env: dict[str, str], depth: int) -> int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.Name):
        return c_value(env[node.id], env, depth + 1) if node.id in env else None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Invert, ast.USub)):
        v = _eval(node.operand, env, depth)
        return None if v is None else (~v if isinstance(node.op, ast.Invert) else -v)
    if isinstance(node, ast.BinOp) and type(node.op) in BINOPS:
        a, b = _eval(node.left, env, depth), _eval(node.right, env, depth)
        if a is None or b is None or (isinstance(node.op, ast.LShift) and not 0 <= b < 128):
            return None
        return int(BINOPS[type(node.op)](a, b))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("BIT", "_BITUL", "BIT_ULL")
    ):
        v = _eval(node.args[0], env, depth) if len(node.args) == 1 else None
        return 1 << v if v is not None and 0 <= v < 128 else None
    return None


# --- mmap/madvise/mprotect/mremap flags ------------------------------------------------------

MMAN_PREFIXES = ("MAP_", "MADV_", "PROT_", "MREMAP_")
BITMASK_PREFIXES = ("MAP_", "PROT_", "MREMAP_")  # flags OR-ed together; MADV_ values are an enum
GENERIC_MMAN = (
    "include/uapi/asm-generic/mman-common.h",
    "include/uapi/asm-generic/mman.h",
    "include/uapi/linux/mman.h",
)
ENCODE_HEADER = "include/uapi/asm-generic/hugetlb_encode.h"


@dataclass(frozen=True)
class Define:
    name: str
    value: int
    file: str
    text: str


def tree_defines(tree: Path | None, rel: str) -> dict[str, str]:
    """Every `#define NAME VALUE` in one tree file (first definition wins)."""
    out: dict[str, str] = {}
    for text in read_tree(tree, rel).splitlines():
        m = DEFINE_RE.match(text)
        if m and m.group(2):
            out.setdefault(m.group(1), m.group(2))
    return out


def mman_files(tree: Path | None) -> list[str]:
    arch = (
        sorted(p.relative_to(tree).as_posix() for p in tree.glob("arch/*/include/uapi/asm/mman.h"))
        if tree
        else []
    )
    return [*GENERIC_MMAN, *arch]


def sees_generic(path: str, tree: Path | None) -> bool:
    """Does code built with `path` also see the asm-generic mman values?"""
    return not path.startswith("arch/") or "asm-generic/mman" in read_tree(tree, path)


def existing_mman(tree: Path | None) -> list[Define]:
    env = tree_defines(tree, ENCODE_HEADER)
    out = []
    for rel in mman_files(tree):
        local = tree_defines(tree, rel)
        scope = {**env, **tree_defines(tree, GENERIC_MMAN[0]), **local}
        for name, expr in local.items():
            value = c_value(expr, scope)
            if name.startswith(MMAN_PREFIXES) and value is not None:
                out.append(Define(name, value, rel, f"{rel}: #define {name} {expr}"))
    return out


def is_field(d: Define) -> bool:
    return bin(d.value).count("1") > 1 and not d.name.endswith(("_SHIFT", "_MASK"))


def mman_clashes(new: Define, existing: list[Define], tree: Path | None) -> list[Finding]:
    prefix = next(p for p in MMAN_PREFIXES if new.name.startswith(p))
    same = [d for d in existing if d.name.startswith(prefix) and d.name != new.name]
    equal = [d for d in same if d.value == new.value]
    out = []
    if equal:
        visible = sees_generic(new.file, tree)
        hard = [
            d
            for d in equal
            if d.file == new.file
            or (visible and sees_generic(d.file, tree))
            or (not new.file.startswith("arch/") and sees_generic(d.file, tree))
        ]
        sev = Severity.ERROR if hard else Severity.WARNING
        out.append(
            Finding(
                CHECK,
                sev,
                f"{new.name} = {new.value:#x} collides with "
                + ", ".join(sorted({f"{d.name} ({d.file})" for d in equal})),
                new.file,
                (new.text, *sorted(d.text for d in equal)),
            )
        )
    if prefix in BITMASK_PREFIXES and bin(new.value).count("1") == 1:
        overlap = sorted(
            {d.name for d in same if is_field(d) and d.value & new.value and d.value != new.value}
        )
        if overlap:
            huge = " (the MAP_HUGE_SHIFT field: hugetlb page size with MAP_HUGETLB)"
            why = huge if all(n.startswith("MAP_HUGE_") for n in overlap) else ""
            out.append(
                Finding(
                    CHECK,
                    Severity.WARNING,
                    f"{new.name} = {new.value:#x} (bit {new.value.bit_length() - 1}) overlaps"
                    f" multi-bit values{why}: {', '.join(overlap)}",
                    new.file,
                    (new.text,),
                )
            )
    return out


def mman_missing(
    new: Define, existing: list[Define], added_names: set[str], tree: Path | None
) -> list[Finding]:
    """A generic value that the arches with their own full mman.h do not get."""
    if new.file.startswith("arch/"):
        return []
    prefix = next(p for p in MMAN_PREFIXES if new.name.startswith(p))
    own = sorted(
        {
            d.file
            for d in existing
            if d.file.startswith("arch/")
            and d.name.startswith(prefix)
            and not sees_generic(d.file, tree)
        }
    )
    lacking = [
        f
        for f in own
        if not any(d.file == f and d.name == new.name for d in existing)
        and f"{f}:{new.name}" not in added_names
    ]
    if not lacking:
        return []
    return [
        Finding(
            CHECK,
            Severity.WARNING,
            f"{new.name} is added to {new.file} only; these arches define their own {prefix}*"
            f" values and lack it: {', '.join(lacking)}",
            new.file,
            (new.text,),
        )
    ]


def check_mman(files: list[FileDiff], tree: Path | None) -> list[Finding]:
    existing = existing_mman(tree)
    env = {**tree_defines(tree, ENCODE_HEADER), **tree_defines(tree, GENERIC_MMAN[0])}
    new: list[Define] = []
    for f in files:
        if not fnmatch.fnmatchcase(f.path, "include/uapi/*") and not fnmatch.fnmatchcase(
            f.path, "arch/*/include/uapi/*"
        ):
            continue
        for name, expr, text in added_defines(f.added):
            value = c_value(expr, {**env, **tree_defines(tree, f.path)})
            if name.startswith(MMAN_PREFIXES) and value is not None:
                new.append(Define(name, value, f.path, text))
    added_names = {f"{d.file}:{d.name}" for d in new}
    out: list[Finding] = []
    for d in new:
        out += mman_clashes(d, existing + [o for o in new if o is not d], tree)
        out += mman_missing(d, existing, added_names, tree)
    return out + renumbered_uapi(files, tree)


def renumbered_uapi(files: list[FileDiff], tree: Path | None) -> list[Finding]:
    """Existing uapi defines the patch removes or changes (syscall counts excepted)."""
    out = []
    for f in files:
        if not (
            f.path.startswith("include/uapi/")
            or fnmatch.fnmatchcase(f.path, "arch/*/include/uapi/*")
        ):
            continue
        now = tree_defines(tree, f.path)
        gone = {
            n: (v, t)
            for n, v, t in added_defines(f.removed)
            if not n.startswith("__NR") and now.get(n) == v
        }
        readded = {n: v for n, v, _ in added_defines(f.added)}
        for name, (old, text) in gone.items():
            if name not in readded:
                out.append(
                    Finding(
                        CHECK, Severity.ERROR, f"removes uapi define {name}", f.path, (f"-{text}",)
                    )
                )
            elif readded[name] != old:
                out.append(
                    Finding(
                        CHECK,
                        Severity.ERROR,
                        f"changes uapi define {name} from {old} to {readded[name]}",
                        f.path,
                        (f"-{text}",),
                    )
                )
    return out


# --- VMA flag bits ---------------------------------------------------------------------------

MM_H = "include/linux/mm.h"
COND_RE = re.compile(r"^\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b\s*(.*?)\s*(?:/\*.*)?$")


@dataclass(frozen=True)
class VmDef:
    name: str
    expr: str
    condition: str
    text: str


def vm_defines(lines: Iterable[str]) -> list[VmDef]:
    """VM_* defines with the #if branch each sits in (include guards left out)."""
    stack: list[tuple[str, str]] = []  # (condition of the #if, condition of the current branch)
    out = []
    for text in lines:
        c = COND_RE.match(text)
        if c:
            kind, arg = c.group(1), c.group(2)
            if kind in ("if", "ifdef", "ifndef"):
                guard = kind == "ifndef" and re.fullmatch(r"_\w+_H_?", arg)
                cond = "" if guard else f"!{arg}" if kind == "ifndef" else arg
                stack.append((cond, cond))
            elif kind == "elif" and stack:
                stack[-1] = (stack[-1][0], arg)
            elif kind == "else" and stack:
                stack[-1] = (stack[-1][0], f"#else of {stack[-1][0]}")
            elif kind == "endif" and stack:
                stack.pop()
            continue
        m = DEFINE_RE.match(text)
        if m and m.group(1).startswith("VM_") and m.group(2):
            cond = " && ".join(branch for _, branch in stack if branch)
            out.append(VmDef(m.group(1), m.group(2), cond, text.strip()))
    return out


def vm_bit(d: VmDef, env: dict[str, str]) -> int | None:
    """The flag bit a VM_* define stands for: its value, or its bit number for *_BIT names."""
    value = c_value(d.expr, env)
    if value is None or value <= 0:
        return None
    if re.search(r"_BIT(_\d+)?$|_SHIFT$", d.name):
        return value
    return value.bit_length() - 1 if bin(value).count("1") == 1 else None


def check_vm_flags(files: list[FileDiff], tree: Path | None) -> list[Finding]:
    patch = next((f for f in files if f.path == MM_H), None)
    if patch is None:
        return []
    new = vm_defines(line.text for line in patch.added)
    if not new:
        return []
    old = vm_defines(read_tree(tree, MM_H).splitlines())
    redefined = {d.name for d in new} | {
        d.name for d in vm_defines(line.text for line in patch.removed)
    }
    env: dict[str, str] = {}
    for d in [*new, *old]:
        if c_value(d.expr, {}) != 0:
            env.setdefault(d.name, d.expr)
    by_bit: dict[int, list[VmDef]] = {}
    for d in new:
        bit = vm_bit(d, env)
        if bit is not None:
            by_bit.setdefault(bit, []).append(d)
    out = []
    for bit, mine in sorted(by_bit.items()):
        theirs = [d for d in old if d.name not in redefined and vm_bit(d, env) == bit]
        if not theirs:
            continue
        aliased = all(any(re.search(rf"\b{t.name}\b", m.expr) for t in theirs) for m in mine[:1])
        where = ", ".join(
            f"{t.name}" + (f" (under {t.condition})" if t.condition else "") for t in theirs[:4]
        ) + (f" and {len(theirs) - 4} more" if len(theirs) > 4 else "")
        out.append(
            Finding(
                CHECK,
                Severity.WARNING if aliased else Severity.ERROR,
                f"VMA flag bit {bit} added as {', '.join(m.name for m in mine)}"
                f" is already used by {where}",
                MM_H,
                (*(m.text for m in mine), *(t.text for t in theirs)),
            )
        )
    return out


def check_flags(files: list[FileDiff], tree: Path | None) -> list[Finding]:
    return check_mman(files, tree) + check_vm_flags(files, tree)
