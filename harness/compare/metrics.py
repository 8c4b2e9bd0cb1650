"""Parse the machine-readable lines that guest benchmarks print among their KTAP output.

Input: the text of one boot's guest output (or console). Output: a ParsedBoot.
Lines (see guest-tests/bench/README.md), possibly indented and behind one or more "# ":
  # metric: NAME UNIT BETTER V1 V2 ... Vk
  # slab: SCENARIO CACHE BYTES OBJS
  # info: KEY=VALUE
  # lock: SCENARIO CLASS ACQ_PER_OP SHARED_PCT HOLD_NS_PER_OP SERIAL_PCT
Never raises: a line that looks like ours but is malformed becomes a ParseWarning.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from harness.compare.model import Better, LockClass, Metric, ParseWarning, SlabDelta

# Indentation, KTAP's "# ", a runner's extra "# ", and a kernel printk timestamp in any order.
_TAGGED_LINE = re.compile(r"^(?:[\s#]|\[\s*\d+\.\d+\])*(metric|slab|info|lock):(.*)$")
_NAME = re.compile(r"^[A-Za-z0-9_.:-]+$")
_INT = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class ParsedBoot:
    """What one boot printed for compare; `warnings` lists every line that was dropped."""

    metrics: dict[str, Metric]
    slabs: tuple[SlabDelta, ...]
    info: dict[str, str]
    warnings: tuple[ParseWarning, ...]
    locks: tuple[LockClass, ...] = ()


def parse_float(token: str) -> float | None:
    """A finite float, or None: nan and inf are not measurements."""
    try:
        number = float(token)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def parse_metric(fields: list[str]) -> Metric | str:
    """A Metric from the fields after "metric:", or the reason it is not one."""
    if len(fields) < 4:
        return "metric needs NAME UNIT BETTER and at least one value"
    name, unit, better_word, *tokens = fields
    if not _NAME.match(name):
        return f"bad metric name {name!r}"
    if better_word not in ("higher", "lower"):
        return f"BETTER must be higher or lower, not {better_word!r}"
    values = [parse_float(token) for token in tokens]
    if any(value is None for value in values):
        # One bad repetition taints the line: a partial median would be biased silently.
        return "non-numeric, nan or inf value"
    return Metric(name, unit, Better(better_word), tuple(v for v in values if v is not None))


def parse_slab(fields: list[str]) -> SlabDelta | str:
    """A SlabDelta from the fields after "slab:", or the reason it is not one."""
    if len(fields) != 4:
        return "slab needs SCENARIO CACHE BYTES OBJS"
    scenario, cache, size, objs = fields
    if not (_NAME.match(scenario) and _INT.match(size) and _INT.match(objs)):
        return "bad slab scenario or non-integer bytes/objs"
    return SlabDelta(scenario, cache, int(size), int(objs))


def parse_lock(fields: list[str]) -> LockClass | str:
    """A LockClass from the fields after "lock:", or the reason it is not one."""
    if len(fields) != 6:
        return "lock needs SCENARIO CLASS ACQ_PER_OP SHARED_PCT HOLD_NS_PER_OP SERIAL_PCT"
    scenario, name, *tokens = fields
    values = [parse_float(token) for token in tokens]
    if not _NAME.match(scenario) or any(v is None or v < 0 for v in values):
        return "bad lock scenario, or a figure that is not a number ≥ 0"
    acq, shared, hold, serial = (v or 0.0 for v in values)
    return LockClass(scenario, name, acq, shared, hold, serial)


def merge_repeated(first: Metric, again: Metric) -> Metric | str:
    """A metric printed twice in one boot: both lines are inner repetitions of the same boot."""
    if (first.unit, first.better) != (again.unit, again.better):
        return f"{first.name} printed again with another unit or direction; kept the first"
    return Metric(first.name, first.unit, first.better, first.samples + again.samples)


def parse_boot_output(text: str) -> ParsedBoot:
    """Collect metrics, slab deltas and info of one boot; keep what is bad as warnings."""
    metrics: dict[str, Metric] = {}
    slabs: list[SlabDelta] = []
    info: dict[str, str] = {}
    locks: list[LockClass] = []
    warnings: list[ParseWarning] = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        match = _TAGGED_LINE.match(raw.rstrip("\r\n"))
        if not match:
            continue
        kind, rest = match.group(1), match.group(2).strip()
        if kind == "lock":
            lock = parse_lock(rest.split())
            problem = lock if isinstance(lock, str) else None
            if isinstance(lock, LockClass):
                locks.append(lock)
        else:
            problem = _take_line(kind, rest, metrics, slabs, info)
        if problem:
            warnings.append(ParseWarning(line_no, problem, raw.strip()))
    return ParsedBoot(metrics, tuple(slabs), info, tuple(warnings), tuple(locks))


def _take_line(
    kind: str,
    rest: str,
    metrics: dict[str, Metric],
    slabs: list[SlabDelta],
    info: dict[str, str],
) -> str | None:
    """Add one tagged line to the collections; a reason string when it cannot be used."""
    if kind == "info":
        key, sep, value = rest.partition("=")
        if not sep or not key.strip():
            return "info needs KEY=VALUE"
        repeated = key.strip() in info
        info[key.strip()] = value.strip()
        return f"info {key.strip()} repeated; kept the last" if repeated else None
    parsed = parse_metric(rest.split()) if kind == "metric" else parse_slab(rest.split())
    if isinstance(parsed, str):
        return parsed
    if isinstance(parsed, SlabDelta):
        slabs.append(parsed)
        return None
    if parsed.name not in metrics:
        metrics[parsed.name] = parsed
        return None
    merged = merge_repeated(metrics[parsed.name], parsed)
    if isinstance(merged, str):
        return merged
    metrics[parsed.name] = merged
    # Worth knowing (a benchmark ran twice?) but the samples are kept.
    return f"{parsed.name} printed twice; samples merged"
