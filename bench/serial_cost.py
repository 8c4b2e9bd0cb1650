#!/usr/bin/env python3
"""What the serialization pass of `harness compare` costs against its timing pass, from
the runs' own records: the boots' wall seconds per pass (and per boot), the guest seconds
each benchmark reported (`# elapsed:`, instruction-driven under icount, so immune to host
load), and the build stages. Reads RUN/results.json and RUN{,/serial}/boots/*.out.

Usage: python3 bench/serial_cost.py RUN [RUN...] [--json FILE]
Prints one markdown row per run. The boot time ratio is serial / timing, as the
serialization pass's budget is stated: at most half of the timing pass's boot time.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ELAPSED = re.compile(r"^# elapsed: (\S+) ([0-9.]+) s$", re.M)


def guest_seconds(boots: Path) -> float:
    """The sum of every benchmark's `# elapsed:` in the boots' guest outputs."""
    return sum(
        float(m.group(2)) for out in boots.glob("*.out") for m in ELAPSED.finditer(out.read_text())
    )


def measure(run: Path) -> dict[str, object]:
    data = json.loads((run / "results.json").read_text())
    stages = data.get("stage_seconds", {})
    timing_boots = sum(b["seconds"] for b in data.get("boots", []))
    serial_boots = _serial_boot_seconds(run)
    return {
        "run": str(run),
        "timing_boots": len(data.get("boots", [])),
        "timing_boot_s": round(timing_boots, 1),
        "serial_boots": serial_boots[0],
        "serial_boot_s": round(serial_boots[1], 1),
        "ratio": round(serial_boots[1] / timing_boots, 3) if timing_boots else None,
        "timing_guest_s": round(guest_seconds(run / "boots"), 1),
        "serial_guest_s": round(guest_seconds(run / "serial" / "boots"), 1),
        "serial_build_s": round(
            sum(v for k, v in stages.items() if k.startswith("serial build")), 1
        ),
        "timing_build_s": round(sum(v for k, v in stages.items() if k.startswith("build")), 1),
    }


def _serial_boot_seconds(run: Path) -> tuple[int, float]:
    jsonl = run / "serial" / "boots.jsonl"
    if not jsonl.is_file():
        return 0, 0.0
    records = [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()]
    return len(records), sum(r["seconds"] for r in records)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    rows = [measure(run) for run in args.runs]
    print(
        "| run | timing boots (wall s) | serialization boots (wall s) | ratio | guest s "
        "(timing / serialization) | builds s (timing / serialization) |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {Path(str(r['run'])).name} | {r['timing_boots']} ({r['timing_boot_s']}) | "
            f"{r['serial_boots']} ({r['serial_boot_s']}) | {r['ratio']} | "
            f"{r['timing_guest_s']} / {r['serial_guest_s']} | "
            f"{r['timing_build_s']} / {r['serial_build_s']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
