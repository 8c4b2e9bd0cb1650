"""What else must be on for a Kconfig symbol to be settable: its `depends on` and
enclosing `if`s, followed through the whole tree (x86 plus generic Kconfig files).

kunit_tool leaves this to the user ("not all options set"); merge_config.sh silently
drops the option. Here `A && B` terms are enabled (when they have a prompt), an
`A || B` is satisfied by an alternative already on, else by its first settable one,
and `!A` or a symbol without a prompt is only reported: those are choices of the
user or the architecture, not ours.
Input: the tree, a symbol, the options already on. Output: Needs. Raises nothing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from harness import git
from harness.build.kconfig_entries import DEPENDS, kconfig_entries
from harness.readfiles import read_or_empty

# True on every x86_64 build; arch/x86/Kconfig sets them with expressions we do not evaluate
X86_64_FACTS = frozenset({"X86", "X86_64", "64BIT", "MMU", "y"})
PROMPT = re.compile(r'^\s*(?:bool|tristate|string|int|hex|prompt)\s+"')
TERM = re.compile(r"^(!)?\s*([A-Za-z0-9_]+)\s*(?:(!?=)\s*([A-Za-z0-9_\"]+))?$")
DEFAULT_Y = re.compile(r"^\s*(?:def_bool|default)\s+y\s*(?:#.*)?$")
SELECT = re.compile(r"^\s*select\s+([A-Za-z0-9_]+)")
MAX_DEPTH = 8


@dataclass
class Needs:
    enable: list[str] = field(default_factory=list)  # in dependency order, symbol last
    notes: list[str] = field(default_factory=list)  # what we could not or would not do


@dataclass(frozen=True)
class Entry:
    file: str
    conditions: tuple[str, ...]
    has_prompt: bool
    default_y: bool  # `def_bool y` / `default y`: on whenever its conditions are
    selects: tuple[str, ...]


def resolve(tree: Path, symbol: str, on: set[str]) -> Needs:
    needs = Needs()
    index = _index(tree, _head(tree))
    # what the architecture entries select (HAVE_KPROBES, HAVE_ARCH_KASAN...) is on
    arch = {s for name in X86_64_FACTS if name in index for s in index[name].selects}
    _visit(index, symbol, set(on) | X86_64_FACTS | arch, needs, 0)
    return needs


def defined(tree: Path, symbol: str) -> bool:
    """Does this tree's Kconfig (x86 and generic) define `symbol` at all?"""
    return symbol in _index(tree, _head(tree))


def _visit(index: dict[str, Entry], symbol: str, on: set[str], needs: Needs, depth: int) -> bool:
    """Make `symbol` on (recording what to enable); False when it cannot be."""
    if symbol in on:
        return True
    entry = index.get(symbol)
    if entry is None:
        needs.notes.append(f"{symbol}: not defined for x86_64 in this tree")
        return False
    if depth > MAX_DEPTH:
        needs.notes.append(f"{symbol}: dependency chain deeper than {MAX_DEPTH}, not followed")
        return False
    settable = entry.has_prompt or depth == 0
    if not settable and not entry.default_y:
        needs.notes.append(f"{symbol} ({entry.file}) has no prompt: only a `select` sets it")
        return False
    on.add(symbol)  # before the recursion: Kconfig dependency loops end here
    ok = all(_satisfy(index, c, on, needs, depth) for c in entry.conditions)
    if ok and settable:
        needs.enable.append(symbol)
    else:
        on.discard(symbol)
    return ok


def _satisfy(
    index: dict[str, Entry], condition: str, on: set[str], needs: Needs, depth: int
) -> bool:
    for conjunct in _split(condition, "&&"):
        alternatives = _split(conjunct, "||")
        if len(alternatives) > 1:
            if any(_holds(a, on) for a in alternatives):
                continue
            if not any(_visit(index, a, on, needs, depth + 1) for a in _plain(alternatives)):
                needs.notes.append(f"none of `{conjunct}` could be enabled")
                return False
            continue
        term = TERM.match(conjunct)
        if term is None:
            needs.notes.append(f"`{conjunct}`: expression left to the user")
            continue
        negated, name, op, value = term.groups()
        if negated or op == "!=" or value == "n":
            if name in on:
                needs.notes.append(f"needs {name} off (`{conjunct}`), but it is on")
            continue
        if not _visit(index, name, on, needs, depth + 1):
            return False
    return True


def _holds(term: str, on: set[str]) -> bool:
    match = TERM.match(term)
    if match is None:
        return False
    negated, name, op, value = match.groups()
    positive = not negated and op != "!=" and value != "n"
    return (name in on) == positive


def _plain(terms: list[str]) -> list[str]:
    return [m[2] for t in terms if (m := TERM.match(t)) and not m[1] and not m[3]]


def _split(expr: str, op: str) -> list[str]:
    """Top-level operands of `op`, outer parentheses removed."""
    expr = _unwrap(expr.strip())
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(expr):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0 and expr.startswith(op, i):
            parts.append(expr[start:i])
            start = i + len(op)
    parts.append(expr[start:])
    return [_unwrap(p.strip()) for p in parts if p.strip()]


def _unwrap(expr: str) -> str:
    while expr.startswith("(") and expr.endswith(")") and _balanced(expr[1:-1]):
        expr = expr[1:-1].strip()
    return expr


def _balanced(expr: str) -> bool:
    depth = 0
    for ch in expr:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def _head(tree: Path) -> str:
    """The checked-out commit: --compare-base resets the same worktree path to the base,
    so the index must not outlive the patched tree's Kconfig files."""
    done = git.run(tree, "rev-parse", "-q", "HEAD", timeout=60)
    return done.output.strip() if done.ok else ""


@lru_cache(maxsize=4)
def _index(tree: Path, head: str) -> dict[str, Entry]:
    """Every symbol's first definition (with its conditions) in x86 and generic Kconfigs."""
    index: dict[str, Entry] = {}
    for directory, subdirs, files in os.walk(tree):
        rel = Path(directory).relative_to(tree)
        subdirs[:] = sorted(d for d in subdirs if _wanted(rel / d))
        for name in sorted(f for f in files if f.startswith("Kconfig")):
            _index_file(str(rel / name), read_or_empty(Path(directory) / name), index)
    return index


def _wanted(rel: Path) -> bool:
    parts = rel.parts
    if parts[0] in ("tools", "Documentation", ".git") or parts[0].startswith("."):
        return False
    return not (parts[0] == "arch" and len(parts) > 1 and parts[1] != "x86")


def _index_file(name: str, text: str, index: dict[str, Entry]) -> None:
    for symbol, entry in kconfig_entries(text).items():
        if symbol in index:
            continue
        body = entry.body
        depends = [d[1] for b in body if (d := DEPENDS.match(b))]
        prompt = any(PROMPT.match(b) for b in body)
        default_y = any(DEFAULT_Y.match(b) for b in body)
        selects = tuple(s[1] for b in body if (s := SELECT.match(b)))
        index[symbol] = Entry(name, (*depends, *entry.ifs), prompt, default_y, selects)
