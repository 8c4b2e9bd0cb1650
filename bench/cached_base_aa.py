#!/usr/bin/env python3
"""Could compare's base side come from an earlier run? An A/A of recorded base boots from
one run ("cached") against base boots of another run ("fresh"): same base, config,
benchmark and QEMU, under icount. For each metric both record: the shift of the fresh
boots' median from the cached ones', each side's between-boot CV, and Mann-Whitney's p
with Holm over the family (compare/stats.py, as compare judges).

Usage: python3 bench/cached_base_aa.py CACHED.jsonl[:SIDES] FRESH.jsonl[:SIDES]
SIDES is A, B or AB (default AB): the boots.jsonl sides that ran the base.
Prints one markdown row per metric, then the largest shift among the metrics whose CV is
under 2 % on both sides, and how many Holm-adjusted p fall under 0.05.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.compare.stats import holm, mann_whitney_p  # noqa: E402

STABLE_CV = 2.0


def boots(spec: str) -> list[dict[str, dict[str, list[float]]]]:
    path, _, sides = spec.partition(":")
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    wanted = set(sides or "AB")
    return [
        {name: m["samples"] for name, m in row["metrics"].items()}
        for row in rows
        if row.get("ok") and row.get("side") in wanted
    ]


def per_boot(rows: list[dict[str, list[float]]], metric: str) -> list[float]:
    return [statistics.median(r[metric]) for r in rows if r.get(metric)]


def cv(values: list[float]) -> float:
    mean = statistics.mean(values)
    return abs(statistics.stdev(values) / mean * 100) if mean else float("inf")


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    cached, fresh = boots(sys.argv[1]), boots(sys.argv[2])
    names = sorted(set().union(*cached) & set().union(*fresh))
    rows = []
    for name in names:
        a, b = per_boot(cached, name), per_boot(fresh, name)
        if len(a) < 3 or len(b) < 3 or not statistics.median(a):
            continue
        shift = (statistics.median(b) / statistics.median(a) - 1) * 100
        rows.append((name, shift, cv(a), cv(b), mann_whitney_p(a, b)))
    adjusted = holm([r[4] for r in rows])
    print(f"cached: {len(cached)} boots, fresh: {len(fresh)} boots, {len(rows)} metrics")
    print("| metric | shift | CV cached | CV fresh | p | p (Holm) |")
    print("|---|---|---|---|---|---|")
    for (name, shift, cv_a, cv_b, p), p_holm in zip(rows, adjusted, strict=True):
        print(f"| {name} | {shift:+.2f} % | {cv_a:.2f} % | {cv_b:.2f} % | {p:.4f} | {p_holm:.4f} |")
    stable = [r for r in rows if r[2] < STABLE_CV and r[3] < STABLE_CV]
    if stable:
        worst = max(stable, key=lambda r: abs(r[1]))
        print(f"largest shift of a stable metric (CV < {STABLE_CV} % both): {worst[0]} "
              f"{worst[1]:+.2f} %")  # fmt: skip
    print(f"Holm-adjusted p < 0.05: {sum(p < 0.05 for p in adjusted)} of {len(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
