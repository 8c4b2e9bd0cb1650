"""Static check that a new Kconfig symbol's `depends on` names the features its code uses.

Input: one patch mail (or bare diff), the base kernel tree, and the text of every patch of
the series (the symbol's code often comes in later patches). Output: Findings (check
"kconfig") on the patch that adds the symbol.

A symbol S owns the files the series builds with `obj-$(CONFIG_S) += x.o` and the lines it
puts inside `#ifdef CONFIG_S` / `#if IS_ENABLED(CONFIG_S)` blocks. FEATURES maps a use in
that code to the Kconfig symbol without which it breaks or means nothing; the use is fine
when S depends on or selects that symbol (directly or through the tree's symbols it depends
on, a few levels deep) or when the line sits inside an #if on that symbol. The table is
small on purpose: each entry cites the header that makes it true.
Never raises: unreadable input gives fewer findings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.intake.diffparse import FileDiff, Line, parse_diff
from harness.review.check_kconfig import CHECK, Symbol, Tree, load_tree, new_symbols, symbols_in
from harness.review.checker_findings import Finding, Severity


@dataclass(frozen=True)
class Feature:
    use: re.Pattern[str]
    symbol: str
    severity: Severity
    why: str


FEATURES = (
    Feature(
        re.compile(r"(?:->|\.)mems_allowed\b"),
        "CPUSETS",
        Severity.ERROR,
        "task_struct.mems_allowed exists only with CONFIG_CPUSETS (include/linux/sched.h):"
        " the code does not build without it",
    ),
    Feature(
        re.compile(
            r"\b(?:for_each_node(?:_mask|_state)?|nodemask_t|node_isset|node_set|node_clear"
            r"|nodes_(?:clear|empty|weight|and|or)|first_node|next_node|node_states)\b"
        ),
        "NUMA",
        Severity.WARNING,
        "without CONFIG_NUMA, MAX_NUMNODES is 1 (NODES_SHIFT depends on NUMA,"
        " include/linux/numa.h): every node mask holds node 0 only, so no extra node id exists",
    ),
)
MAX_USES = 3  # quoted per finding; the rest are counted
DEPTH = 4  # how far through the tree's `depends on` a feature may be implied

OBJ_RE = re.compile(r"^obj-\$\(CONFIG_(\w+)\)\s*[+:]?=\s*(.*)$")
IF_RE = re.compile(r"^\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b(.*)$")


@dataclass(frozen=True)
class Use:
    feature: Feature
    where: str  # "mm/gmem.c:42"
    text: str


def owned_files(series: Sequence[list[FileDiff]], symbol: str) -> set[str]:
    """Source files the series builds only with CONFIG_<symbol>."""
    out = set()
    for files in series:
        for f in files:
            if f.path.rsplit("/", 1)[-1] not in ("Makefile", "Kbuild"):
                continue
            folder = f.path.rsplit("/", 1)[0] + "/" if "/" in f.path else ""
            for line in f.added:
                match = OBJ_RE.match(line.text.strip())
                if match and match[1] == symbol:
                    out |= {folder + o[:-2] + ".c" for o in match[2].split() if o.endswith(".o")}
    return out


def conditioned_lines(f: FileDiff) -> Iterator[tuple[Line, bool, list[str]]]:
    """Each added line with: is it added? and the #if conditions open around it (the hunk's
    own context included; a condition that opened before the hunk is not seen)."""
    for hunk in f.hunks:
        lines = sorted(
            [(line, True) for line in hunk.added] + [(line, False) for line in hunk.context],
            key=lambda pair: pair[0].number,
        )
        stack: list[str] = []
        for line, added in lines:
            directive = IF_RE.match(line.text)
            if directive is None:
                yield line, added, stack
                continue
            word, rest = directive[1], directive[2].strip()
            if word in ("if", "ifdef"):
                stack.append(rest)
            elif word == "ifndef":
                stack.append(f"!{rest}")
            elif word in ("else", "elif") and stack:
                stack[-1] = f"!({stack[-1]})" if word == "else" else rest
            elif word == "endif" and stack:
                stack.pop()


def _names(conditions: list[str]) -> set[str]:
    text = " ".join(c for c in conditions if not c.startswith("!"))
    return set(re.findall(r"\bCONFIG_(\w+)", text))


def uses(series: Sequence[list[FileDiff]], symbol: str) -> list[Use]:
    """Feature uses in the code that only CONFIG_<symbol> builds, not guarded by the feature."""
    owned = owned_files(series, symbol)
    out = []
    for files in series:
        for f in files:
            for line, added, conditions in conditioned_lines(f):
                guards = _names(conditions)
                if not added or (f.path not in owned and symbol not in guards):
                    continue
                code = line.text.split("//", 1)[0]
                for feature in FEATURES:
                    if feature.symbol not in guards and feature.use.search(code):
                        out.append(Use(feature, f"{f.path}:{line.number}", line.text.strip()))
    return out


def implied(sym: Symbol, tree: Tree, added: dict[str, Symbol]) -> set[str]:
    """Symbols `sym` depends on or selects, and what those depend on, DEPTH levels down."""
    seen: set[str] = set()
    frontier = set().union(*(symbols_in(d) for d in sym.depends)) | {t for t, _ in sym.selects}
    for _ in range(DEPTH):
        frontier -= seen
        seen |= frontier
        defs = [s for n in frontier for s in [*tree.symbols.get(n, []), *added_def(n, added)]]
        frontier = set().union(*(symbols_in(d) for s in defs for d in s.depends), set())
    return seen


def added_def(name: str, added: dict[str, Symbol]) -> list[Symbol]:
    return [added[name]] if name in added else []


def feature_findings(sym: Symbol, found: list[Use], have: set[str]) -> list[Finding]:
    out = []
    for feature in FEATURES:
        mine = [u for u in found if u.feature is feature]
        if not mine or feature.symbol in have:
            continue
        more = f" (+{len(mine) - MAX_USES} more uses)" if len(mine) > MAX_USES else ""
        out.append(
            Finding(
                CHECK,
                feature.severity,
                f"{sym.name}'s code needs {feature.symbol} but {sym.name} neither depends on"
                f" nor selects it: {feature.why}{more}",
                sym.file,
                tuple(f"{u.where}: {u.text}" for u in mine[:MAX_USES]),
            )
        )
    return out


def check_patch(patch_text: str, tree: Path | None, series: Sequence[str] = ()) -> list[Finding]:
    """Findings for the symbols this patch adds; `series`: every patch's text, in order."""
    try:
        added = {s.name: s for s in new_symbols(patch_text)}
        if not added:
            return []
        diffs = [parse_diff(text) for text in (series or [patch_text])]
        index = load_tree(tree)
        out: list[Finding] = []
        for sym in added.values():
            out += feature_findings(sym, uses(diffs, sym.name), implied(sym, index, added))
        return out
    except (OSError, ValueError, RecursionError) as err:
        return [Finding(CHECK, Severity.CRASH, f"kconfig feature check could not finish: {err}")]
