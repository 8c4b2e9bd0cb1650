"""`harness test --shard K/N`: which boots this runner does, of the N runners of a CI matrix.

Input: the built guest suites, series.yaml's isolated suites, and a Shard. Output: the
suites this shard boots. The units dealt out are each ordinary suite and each workload of
an isolated suite (one boot each), in the plan's order, round-robin: the same plan gives
every runner the same deal, with no coordination. Apply and build run in every shard (the
shared ccache makes that cheap); `harness merge` puts the shards back together.
Pure; parse() raises UserError for a malformed K/N.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from harness.errors import UserError
from harness.suites.guest import BuiltSuite

SHARD = re.compile(r"^(\d+)/(\d+)$")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as GitLab's CI_NODE_INDEX
    total: int

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"


WHOLE = Shard(1, 1)


def parse(text: str) -> Shard:
    match = SHARD.match(text.strip())
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise UserError(f"--shard takes K/N with 1 <= K <= N (e.g. 2/4), not {text!r}")
    return Shard(int(match[1]), int(match[2]))


def units(suites: list[BuiltSuite], isolate: tuple[str, ...]) -> list[tuple[str, str]]:
    """(suite, workload) pairs to deal out; workload '' is a whole ordinary suite."""
    found: list[tuple[str, str]] = []
    for suite in suites:
        if suite.name in isolate:
            found += [(suite.name, w) for w in suite.workloads]
        else:
            found.append((suite.name, ""))
    return found


def mine(suites: list[BuiltSuite], isolate: tuple[str, ...], shard: Shard) -> list[BuiltSuite]:
    """The suites (isolated ones cut down to this shard's workloads) shard K boots."""
    if shard.total == 1:
        return suites
    dealt = units(suites, isolate)
    kept = {unit for i, unit in enumerate(dealt) if i % shard.total == shard.index - 1}
    picked = []
    for suite in suites:
        if suite.name not in isolate:
            if (suite.name, "") in kept:
                picked.append(suite)
            continue
        workloads = tuple(w for w in suite.workloads if (suite.name, w) in kept)
        if workloads:
            picked.append(replace(suite, workloads=workloads))
    return picked
