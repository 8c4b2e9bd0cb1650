"""Static check of the memory-management flag values a patch adds.

Input: the parsed diff of one patch and the base kernel tree it applies to.
Output: Findings (check "uapi") for mmap/madvise/mprotect/mremap flags that collide in the
mman headers, uapi defines the patch removes or renumbers, and VMA flag bits in
include/linux/mm.h that are already taken. Reads only those tree files. Unreadable input
gives fewer findings; check_uapi.check_patch is the entry point and guards the rest.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.intake.diffparse import FileDiff
from harness.readfiles import read_in_tree
from harness.review.checker_findings import Finding, Severity
from harness.review.uapi_defines import CHECK, DEFINE_RE, added_defines, c_value, tree_defines

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


def mman_files(tree: Path | None) -> list[str]:
    arch = (
        sorted(p.relative_to(tree).as_posix() for p in tree.glob("arch/*/include/uapi/asm/mman.h"))
        if tree
        else []
    )
    return [*GENERIC_MMAN, *arch]


def sees_generic(path: str, tree: Path | None) -> bool:
    """Does code built with `path` also see the asm-generic mman values?"""
    return not path.startswith("arch/") or "asm-generic/mman" in read_in_tree(tree, path)


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
    old = vm_defines(read_in_tree(tree, MM_H).splitlines())
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
    """mman flag findings, then VMA flag bit findings, for one patch's files."""
    return check_mman(files, tree) + check_vm_flags(files, tree)
