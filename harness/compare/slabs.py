"""The slab caches of `harness compare`: per scenario and cache, each side's median growth.

Input: the BootSamples that ran (their `# slab:` lines and `# info: pages.*`). Output:
SlabResults, with the page count of each metadata scenario. No I/O, raises nothing.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence

from harness.compare.model import BootSample, Side, SlabResult

PAGE_BYTES = 4096
_SIZE_SUFFIX = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SCENARIO_SIZE = re.compile(r"_(\d+)([kmgt])$", re.IGNORECASE)


def scenario_pages(scenario: str, info: Mapping[str, str]) -> int | None:
    """4 KiB pages a metadata scenario touched: `pages.SCENARIO=N` if printed, else its name.

    The name rule reads a size suffix of the first dotted part: anon_1g.held -> 1 GiB -> 262144.
    """
    base = scenario.split(".", 1)[0]
    for key in (f"pages.{scenario}", f"pages.{base}"):
        if key in info and info[key].strip().isdigit():
            return int(info[key])
    match = _SCENARIO_SIZE.search(base)
    if not match:
        return None
    return int(match.group(1)) * _SIZE_SUFFIX[match.group(2).lower()] // PAGE_BYTES


def _median_slab_bytes(boots: Iterable[BootSample], scenario: str, cache: str) -> float:
    """Median growth of a cache over the boots that ran the scenario; absent means 0 bytes."""
    per_boot = [
        sum(s.bytes for s in boot.slabs if s.scenario == scenario and s.cache == cache)
        for boot in boots
        if any(s.scenario == scenario for s in boot.slabs)
    ]
    return float(statistics.median(per_boot)) if per_boot else math.nan


def summarise_slabs(boots: Sequence[BootSample]) -> tuple[SlabResult, ...]:
    """Per scenario and cache, each side's median growth, with the scenario's page count."""
    info: dict[str, str] = {}
    for boot in boots:
        info = {**boot.info, **info}
    keys = dict.fromkeys((s.scenario, s.cache) for boot in boots for s in boot.slabs)
    side_a = [b for b in boots if b.side is Side.A]
    side_b = [b for b in boots if b.side is Side.B]
    return tuple(
        SlabResult(
            scenario=scenario,
            cache=cache,
            median_bytes_a=_median_slab_bytes(side_a, scenario, cache),
            median_bytes_b=_median_slab_bytes(side_b, scenario, cache),
            pages=scenario_pages(scenario, info),
        )
        for scenario, cache in keys
    )
