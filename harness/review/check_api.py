"""Static check of how a patch uses kernel APIs: internal-only flags and undeclared syscalls.

Input: one patch mail (or bare diff), the base kernel tree, and the text of every patch of
the series (a declaration may come in another patch). Output: Findings (check "api"):
- a flag the kernel marks internal passed by code outside the subsystem that owns it
  (`__WQ_*` to alloc_workqueue(), raw `___GFP_*` bits, the page allocator's KASAN flags),
  and __GFP_NOFAIL combined with flags that contradict it;
- a new SYSCALL_DEFINEn(name, ...) with no `sys_name(` prototype in include/linux/syscalls.h
  (or an arch's asm/syscalls.h), neither in the tree nor added by the series
  (Documentation/process/adding-syscalls.rst asks for one; W=1 warns without it).
Reads only those headers. Never raises: unreadable input gives fewer findings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.intake.diffparse import FileDiff, parse_diff
from harness.readfiles import read_in_tree
from harness.review.checker_findings import Finding, Severity

CHECK = "api"


@dataclass(frozen=True)
class InternalFlag:
    """Flags (by regex) that only code under `owners` may pass; `why` cites the header."""

    pattern: re.Pattern[str]
    owners: tuple[str, ...]
    severity: Severity
    why: str


INTERNAL_FLAGS = (
    InternalFlag(
        re.compile(r"\b__WQ_(?:DESTROYING|DRAINING|ORDERED|LEGACY)\b"),
        ("kernel/workqueue.c", "include/linux/workqueue.h"),
        Severity.ERROR,
        "is internal to the workqueue code (include/linux/workqueue.h: 'internal:';"
        " create*_workqueue() and alloc_ordered_workqueue() set it): pass WQ_* flags only",
    ),
    InternalFlag(
        re.compile(r"\b___GFP_\w+"),
        ("include/linux/gfp", "include/trace/", "mm/", "tools/"),
        Severity.ERROR,
        "is a raw bit of include/linux/gfp_types.h: use the __GFP_*/GFP_* names",
    ),
    InternalFlag(
        re.compile(r"\b__GFP_(?:SKIP_ZERO|SKIP_KASAN|ZEROTAGS)\b"),
        ("mm/", "include/linux/", "kernel/dma/", "arch/arm64/"),
        Severity.WARNING,
        "is the page allocator's hardware-tag KASAN internals (gfp_types.h), meant for"
        " core mm code, not for a caller of the allocator",
    ),
)

# __GFP_NOFAIL "_must_ be blockable and used together with __GFP_DIRECT_RECLAIM"
# (gfp_types.h): these spellings in the same flags expression contradict it.
NOFAIL_CONFLICTS = ("__GFP_NORETRY", "__GFP_RETRY_MAYFAIL", "GFP_ATOMIC", "GFP_NOWAIT")

SYSCALL_RE = re.compile(r"^\s*(COMPAT_)?SYSCALL_DEFINE\d\(\s*(\w+)")
PROTOTYPE_HEADERS = ("include/linux/syscalls.h", "include/linux/compat.h")
ARCH_PROTOTYPES = re.compile(r"^arch/[^/]+/include/asm/syscalls(?:_\d+)?\.h$")


def owned(path: str, owners: Sequence[str]) -> bool:
    return any(path.startswith(o) for o in owners)


def flag_findings(files: list[FileDiff]) -> list[Finding]:
    out = []
    for f in files:
        for line in f.added:
            code = line.text.split("//", 1)[0]
            for flag in INTERNAL_FLAGS:
                if owned(f.path, flag.owners):
                    continue
                for name in sorted(set(flag.pattern.findall(code))):
                    out.append(
                        Finding(
                            CHECK,
                            flag.severity,
                            f"{name} {flag.why}",
                            f"{f.path}:{line.number}",
                            (line.text.strip(),),
                        )
                    )
    return out + nofail_findings(files)


def nofail_findings(files: list[FileDiff]) -> list[Finding]:
    out = []
    for f in files:
        for line in f.added:
            if "__GFP_NOFAIL" not in line.text:
                continue
            clash = [c for c in NOFAIL_CONFLICTS if re.search(rf"\b{c}\b", line.text)]
            if clash:
                out.append(
                    Finding(
                        CHECK,
                        Severity.ERROR,
                        f"__GFP_NOFAIL with {', '.join(clash)}: NOFAIL must be able to block"
                        " and retry (gfp_types.h)",
                        f"{f.path}:{line.number}",
                        (line.text.strip(),),
                    )
                )
    return out


def new_syscalls(files: list[FileDiff]) -> list[tuple[str, str, str]]:
    """(prototype name, file:line, line) of every SYSCALL_DEFINE a patch adds."""
    out = []
    for f in files:
        for line in f.added:
            match = SYSCALL_RE.match(line.text)
            if match:
                prefix = "compat_sys_" if match[1] else "sys_"
                out.append((prefix + match[2], f"{f.path}:{line.number}", line.text.strip()))
    return out


def declared(name: str, tree: Path | None, series: Sequence[str]) -> bool:
    wanted = re.compile(rf"\b{name}\s*\(")
    arch = (
        sorted(p.relative_to(tree).as_posix() for p in tree.glob("arch/*/include/asm/syscalls*.h"))
        if tree
        else []
    )
    headers = [*PROTOTYPE_HEADERS, *arch]
    if any(wanted.search(read_in_tree(tree, h)) for h in headers):
        return True
    for text in series:
        for f in parse_diff(text):
            if f.path in PROTOTYPE_HEADERS or ARCH_PROTOTYPES.match(f.path):
                if any(wanted.search(line.text) for line in f.added):
                    return True
    return False


def syscall_findings(
    files: list[FileDiff], tree: Path | None, series: Sequence[str]
) -> list[Finding]:
    out = []
    for name, where, text in new_syscalls(files):
        if not declared(name, tree, series):
            out.append(
                Finding(
                    CHECK,
                    Severity.ERROR,
                    f"new syscall {name}() has no prototype in include/linux/syscalls.h"
                    " (not in the tree, not added by the series): add"
                    f" 'asmlinkage long {name}(...);' (Documentation/process/adding-syscalls.rst)",
                    where,
                    (text,),
                )
            )
    return out


def check_patch(patch_text: str, tree: Path | None, series: Sequence[str] = ()) -> list[Finding]:
    """Findings for one patch; `series` is every patch of its series (this one included)."""
    try:
        files = parse_diff(patch_text)
        return flag_findings(files) + syscall_findings(files, tree, [patch_text, *series])
    except (OSError, ValueError, RecursionError) as err:
        return [Finding(CHECK, Severity.CRASH, f"api check could not finish: {err}")]
