"""Discovery: the tests a series brings, read from its diffs and the patched tree.

Input: the Series' patches and the patched tree (for Kconfig entries and selftest
Makefiles the diff only touches). Output: a Discovery: KUnit symbols (Kconfig entries
added or changed whose `depends on` names KUNIT, or *_KUNIT_TEST), .kunitconfig files,
kselftest targets with the programs touched, and one reason per finding.
Writes nothing; raises nothing (an unreadable file just finds less).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.build.kconfig_entries import (
    CONFIG_LINE,
    DEPENDS,
    ENTRY_END,
    enclosing_ifs,
    entry_depends,
    entry_lines,
)
from harness.intake.diffparse import FileDiff, Hunk, parse_diff
from harness.intake.series import Patch
from harness.readfiles import read_in_tree

SELFTESTS = "tools/testing/selftests/"
KUNIT_WORD = re.compile(r"\bKUNIT\b")
KUNIT_NAME = re.compile(r"KUNIT")
MAKE_VAR = re.compile(r"^\s*(TEST_GEN_PROGS|TEST_GEN_FILES|TEST_PROGS)\s*[:+]?=\s*(.*)$")
OBJ_LINE = re.compile(r"^\s*obj-\$\(CONFIG_([A-Za-z0-9_]+)\)\s*\+?=\s*(.*)$")


@dataclass(frozen=True)
class Discovery:
    kunit_symbols: tuple[str, ...] = ()  # without the CONFIG_ prefix
    kunitconfig_files: tuple[str, ...] = ()  # tree-relative paths
    kselftest_targets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # () = all
    why: tuple[str, ...] = ()
    kconfig_files: dict[str, str] = field(default_factory=dict)  # symbol -> defining Kconfig

    @property
    def empty(self) -> bool:
        return not (self.kunit_symbols or self.kunitconfig_files or self.kselftest_targets)


@dataclass
class _Found:
    symbols: dict[str, str] = field(default_factory=dict)  # symbol -> its Kconfig file
    kunitconfigs: dict[str, None] = field(default_factory=dict)
    targets: dict[str, dict[str, None]] = field(default_factory=dict)
    why: list[str] = field(default_factory=list)


def discover(patches: tuple[Patch, ...], tree: Path | None) -> Discovery:
    """What tests the patches add or touch; `tree` is the patched tree, when there is one."""
    found = _Found()
    for patch in patches:
        label = f"{patch.number:04d}"
        for diff in parse_diff(patch.diff):
            if diff.is_deleted:
                continue
            _kconfig_symbols(diff, label, tree, found)
            _kunit_sources(diff, label, tree, found)
            if diff.path.endswith(".kunitconfig") and diff.path not in found.kunitconfigs:
                found.kunitconfigs[diff.path] = None
                found.why.append(f"{diff.path}: {_verb(diff)} in {label}")
            _kselftest(diff, label, tree, found)
    return Discovery(
        tuple(found.symbols),
        tuple(found.kunitconfigs),
        {t: tuple(p) for t, p in found.targets.items()},
        tuple(found.why),
        dict(found.symbols),
    )


def _verb(diff: FileDiff) -> str:
    return "added" if diff.is_new else "changed"


# --- KUnit ---------------------------------------------------------------------------


def _kconfig_symbols(diff: FileDiff, label: str, tree: Path | None, found: _Found) -> None:
    if not Path(diff.path).name.startswith("Kconfig"):
        return
    text = read_in_tree(tree, diff.path)
    for symbol, added in changed_symbols(diff):
        if symbol in found.symbols or symbol == "KUNIT":
            continue
        body = added.get(symbol) or entry_lines(text, symbol)
        depends = [m[1] for line in body if (m := DEPENDS.match(line))]
        depends += enclosing_ifs(text, symbol)
        reason = kunit_reason(symbol, depends)
        if reason:
            found.symbols[symbol] = diff.path
            how = "added" if symbol in added else "changed"
            found.why.append(f"CONFIG_{symbol}: {how} in {label} ({diff.path}) {reason}")


def kunit_reason(symbol: str, depends: list[str]) -> str:
    """Why `symbol` is a KUnit test, or '' when it is not one."""
    needs = next((d for d in depends if KUNIT_WORD.search(d)), "")
    if needs:
        return f"depends on {needs}"
    if KUNIT_NAME.search(symbol) and not symbol.startswith("KUNIT"):
        return "is named like a KUnit test"
    return ""


def changed_symbols(diff: FileDiff) -> list[tuple[str, dict[str, list[str]]]]:
    """(symbol, {added symbol: its added lines}) for every entry a Kconfig diff adds or edits."""
    result: list[tuple[str, dict[str, list[str]]]] = []
    for hunk in diff.hunks:
        added_entries = _added_entries(hunk)
        for symbol in _edited_symbols(hunk):
            result.append((symbol, added_entries))
    return result


def _new_side(hunk: Hunk) -> list[tuple[int, str, bool]]:
    lines = [(ln.number, ln.text, False) for ln in hunk.context]
    lines += [(ln.number, ln.text, True) for ln in hunk.added]
    return sorted(lines)


def _edited_symbols(hunk: Hunk) -> list[str]:
    """The entries owning an added or removed line (the hunk header names the first owner)."""
    header = CONFIG_LINE.match(hunk.section)
    owner = header[1] if header else ""
    owners: list[tuple[int, str]] = [(hunk.new_start - 1, owner)] if owner else []
    edited: dict[str, None] = {}
    for number, text, added in _new_side(hunk):
        if m := CONFIG_LINE.match(text):
            owner = m[1]
            owners.append((number, owner))
        elif ENTRY_END.match(text):
            owner = ""
        if added and owner:
            edited[owner] = None
    for line in hunk.removed:
        # Old numbering: map to the new side by the hunk offset; near enough for ownership.
        where = line.number - hunk.old_start + hunk.new_start
        before = [o for n, o in owners if n <= where]
        if before and not line.text.strip().startswith("config"):
            edited[before[-1]] = None
    return list(edited)


def _added_entries(hunk: Hunk) -> dict[str, list[str]]:
    entries: dict[str, list[str]] = {}
    current: list[str] | None = None
    for _, text, added in _new_side(hunk):
        if (m := CONFIG_LINE.match(text)) and added:
            current = entries.setdefault(m[1], [])
        elif not added or ENTRY_END.match(text):
            current = None
        elif current is not None:
            current.append(text)
    return entries


def _kunit_sources(diff: FileDiff, label: str, tree: Path | None, found: _Found) -> None:
    """A touched *_kunit.c / *_test.c built by `obj-$(CONFIG_X) += stem.o` with X a KUnit test."""
    path = Path(diff.path)
    if path.suffix != ".c" or diff.path.startswith(SELFTESTS):
        return
    makefile = read_in_tree(tree, str(path.parent / "Makefile"))
    for line in makefile.splitlines():
        m = OBJ_LINE.match(line)
        if not m or f"{path.stem}.o" not in m[2].split() or m[1] in found.symbols:
            continue
        symbol = m[1]
        kconfig = next(
            (
                k
                for k in _kconfigs_near(tree, path.parent)
                if entry_lines(read_in_tree(tree, k), symbol)
            ),
            "",
        )
        reason = kunit_reason(symbol, entry_depends(read_in_tree(tree, kconfig), symbol))
        if reason:
            found.symbols[symbol] = kconfig
            found.why.append(
                f"CONFIG_{symbol}: builds {diff.path}, {_verb(diff)} in {label}; {reason}"
            )


def _kconfigs_near(tree: Path | None, directory: Path) -> list[str]:
    if tree is None:
        return []
    result: list[str] = []
    for d in [directory, *directory.parents]:
        if (tree / d).is_dir():
            result += sorted(str(p.relative_to(tree)) for p in (tree / d).glob("Kconfig*"))
    return result


# --- kselftest -----------------------------------------------------------------------


def _kselftest(diff: FileDiff, label: str, tree: Path | None, found: _Found) -> None:
    if not diff.path.startswith(SELFTESTS):
        return
    parts = Path(diff.path[len(SELFTESTS) :]).parts
    if len(parts) < 2:  # selftests/Makefile, lib.mk: not one target
        return
    target = parts[0]
    programs = found.targets.setdefault(target, {})
    name = Path(diff.path).stem if diff.path.endswith(".c") else Path(diff.path).name
    listed = listed_programs(read_in_tree(tree, f"{SELFTESTS}{target}/Makefile"))
    if len(parts) == 2 and name in listed:
        if name not in programs:
            programs[name] = None
            found.why.append(
                f"kselftest {target}:{name}: {diff.path} {_verb(diff)} in {label},"
                f" listed in {listed[name]} of {target}/Makefile"
            )
    else:
        found.why.append(f"kselftest {target}: {diff.path} {_verb(diff)} in {label}")


def listed_programs(makefile: str) -> dict[str, str]:
    """Program name -> the Makefile variable listing it (TEST_GEN_PROGS, TEST_GEN_FILES, ...)."""
    programs: dict[str, str] = {}
    joined = re.sub(r"\\\n", " ", makefile)
    for line in joined.splitlines():
        if m := MAKE_VAR.match(line):
            for word in m[2].split():
                if re.fullmatch(r"[A-Za-z0-9_.+/-]+", word):
                    programs.setdefault(Path(word).name, m[1])
    return programs
