"""The watch config: which lists to follow, and what to run for each new series.

Input: a YAML file. Output: a WatchConfig. Raises UserError (exit 2) for anything
malformed, before the watcher touches an inbox or its state file.

    state: watch-state.json        # relative paths are relative to this file
    out: results
    incomplete_after: 3600         # seconds a series may wait for its missing patches
    lists:
      - name: linux-mm
        inbox: /srv/lore/linux-mm  # a public-inbox v2 inbox (git/N.git epochs)
        base: debian:6.12
        run: [check, test]           # or [review]; compare and bisect alone too
        suites: [smoke, demo]
        kconfig: [virtme-min]
        matrix: [kernel, x86_64-clang, i386]   # harness check's builds (default: all)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.build import matrix
from harness.errors import UserError

RUNS = ("check", "test")  # the default
# review: the whole reply (check, test, bisect of new failures, costs) as one run
KINDS = (*RUNS, "review", "compare", "bisect")
TOP_KEYS = {"state", "out", "cache", "incomplete_after", "lists"}
LIST_KEYS = {"name", "inbox", "base", "run", "suites", "kconfig", "matrix"}
DEFAULT_INCOMPLETE_AFTER = 3600


@dataclass(frozen=True)
class ListConfig:
    name: str
    inbox: Path
    base: str = ""
    run: tuple[str, ...] = RUNS
    suites: tuple[str, ...] = ()
    kconfig: tuple[str, ...] = ()
    matrix: tuple[str, ...] = ()  # check's build matrix; () is matrix.DEFAULT


@dataclass(frozen=True)
class WatchConfig:
    path: Path
    state: Path
    out: Path
    cache: Path | None
    incomplete_after: int
    lists: tuple[ListConfig, ...]


def load(path: Path) -> WatchConfig:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise UserError(f"{path}: {err.strerror}") from None
    except yaml.YAMLError:
        raise UserError(f"{path}: invalid YAML") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping with a 'lists' key")
    _known(data, TOP_KEYS, str(path))
    lists = data.get("lists")
    if not isinstance(lists, list) or not lists:
        raise UserError(f"{path}: 'lists' must be a non-empty list of lists to follow")
    here = path.parent
    wait = data.get("incomplete_after", DEFAULT_INCOMPLETE_AFTER)
    if not isinstance(wait, int) or isinstance(wait, bool) or wait < 0:
        raise UserError(f"{path}: 'incomplete_after' must be a number of seconds")
    parsed = tuple(_list(item, here, f"{path}: lists[{i}]") for i, item in enumerate(lists))
    names = [one.name for one in parsed]
    if len(set(names)) != len(names):
        raise UserError(f"{path}: list names repeat: {names}")
    return WatchConfig(
        path=path,
        state=here / _string(data, "state", str(path), "watch-state.json"),
        out=here / _string(data, "out", str(path), "results"),
        cache=here / data["cache"] if isinstance(data.get("cache"), str) else None,
        incomplete_after=wait,
        lists=parsed,
    )


def _list(item: Any, here: Path, where: str) -> ListConfig:
    if not isinstance(item, dict):
        raise UserError(f"{where}: expected a mapping (name, inbox, ...)")
    _known(item, LIST_KEYS, where)
    name, inbox = _string(item, "name", where), _string(item, "inbox", where)
    if not name or not inbox:
        raise UserError(f"{where}: 'name' and 'inbox' are required")
    run = _strings(item, "run", where) if "run" in item else RUNS
    wrong = [r for r in run if r not in KINDS]
    if wrong or not run:
        raise UserError(f"{where}: 'run' takes some of {', '.join(KINDS)}, not {wrong or run}")
    return ListConfig(
        name=name,
        inbox=here / inbox,
        base=_string(item, "base", where),
        run=run,
        suites=_strings(item, "suites", where),
        kconfig=_strings(item, "kconfig", where),
        matrix=_matrix(item, where),
    )


def _matrix(item: dict[str, Any], where: str) -> tuple[str, ...]:
    names = _strings(item, "matrix", where)
    if not names:
        return ()
    try:
        return matrix.parse(",".join(names))
    except UserError as err:
        raise UserError(f"{where}: {err}") from None


def _known(data: dict[Any, Any], keys: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in data if k not in keys)
    if unknown:
        raise UserError(f"{where}: unknown key '{unknown[0]}' (known: {', '.join(sorted(keys))})")


def _string(data: dict[str, Any], key: str, where: str, default: str = "") -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise UserError(f"{where}: '{key}' must be a string")
    return value


def _strings(data: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UserError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)
