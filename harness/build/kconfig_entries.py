"""Kconfig entries: each `config SYMBOL` of one Kconfig file, read in one pass.

Input: the text of one Kconfig file. Output: its entries (body lines and enclosing `if`
conditions) and the conditions on one symbol. Writes nothing; raises nothing.
Both the discovery of KUnit tests and the dependency resolver read entries through here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CONFIG_LINE = re.compile(r"^\s*(?:menu)?config\s+([A-Za-z0-9_]+)\s*$")
# Lines that end a Kconfig entry: the next entry, or block structure.
ENTRY_END = re.compile(
    r"^\s*(?:(?:menu)?config|choice|endchoice|menu|endmenu|if|endif|source|comment)\b"
)
DEPENDS = re.compile(r"^\s*depends\s+on\s+(.+?)\s*(?:#.*)?$")
# column 0: an indented "if ..." is help text
IF_LINE = re.compile(r"^if\s+(.+?)\s*(?:#.*)?$")


@dataclass(frozen=True)
class KconfigEntry:
    body: tuple[str, ...]  # the lines after `config SYMBOL`, up to the next entry
    ifs: tuple[str, ...]  # conditions of the `if EXPR` blocks around it


def kconfig_entries(kconfig_text: str) -> dict[str, KconfigEntry]:
    """Every `config SYMBOL` of one Kconfig file (its first definition), in one pass."""
    entries: dict[str, KconfigEntry] = {}
    ifs: list[str] = []
    lines = kconfig_text.splitlines()
    for i, line in enumerate(lines):
        if m := IF_LINE.match(line):
            ifs.append(m[1])
        elif re.match(r"^endif\b", line) and ifs:
            ifs.pop()
        elif (m := CONFIG_LINE.match(line)) and m[1] not in entries:
            body = []
            for following in lines[i + 1 :]:
                if ENTRY_END.match(following):
                    break
                body.append(following)
            entries[m[1]] = KconfigEntry(tuple(body), tuple(ifs))
    return entries


def entry_lines(kconfig_text: str, symbol: str) -> list[str]:
    """The lines of `config SYMBOL`'s entry in one Kconfig file (first definition)."""
    entry = kconfig_entries(kconfig_text).get(symbol)
    return list(entry.body) if entry else []


def enclosing_ifs(kconfig_text: str, symbol: str) -> list[str]:
    """Conditions of the `if EXPR` blocks around `config SYMBOL` in one file."""
    entry = kconfig_entries(kconfig_text).get(symbol)
    return list(entry.ifs) if entry else []


def entry_depends(kconfig_text: str, symbol: str) -> list[str]:
    """Every condition on `config SYMBOL` in one file: its `depends on` and enclosing `if`s."""
    entry = kconfig_entries(kconfig_text).get(symbol)
    if entry is None:
        return []
    return [m[1] for line in entry.body if (m := DEPENDS.match(line))] + list(entry.ifs)
