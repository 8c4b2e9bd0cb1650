#!/usr/bin/env python3
"""The GMEM port's three costs, slower · more serialized · more metadata, as `harness
compare` tables them, rendered by the current code from the recorded boots of real runs:
tests/fixtures/compare/recorded-gmem-ab.jsonl (the timing and metadata pass),
tests/fixtures/compare/recorded-gmem-serial.jsonl (the serialization pass) and
recorded-gmem-serial-peer.jsonl (its peer-shared scenario, run on its own). Writes the
block between `<!-- costs:begin -->` and `<!-- costs:end -->` of guest-tests/gmem/README.md.

Usage: python3 bench/gmem_costs.py [--check]   (--check: exit 1 if the README differs)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from harness.compare import serial, stats, table  # noqa: E402
from harness.compare.boots import load_jsonl  # noqa: E402

RECORDED = PROJECT / "tests" / "fixtures" / "compare"
README = PROJECT / "guest-tests" / "gmem" / "README.md"
BEGIN, END = "<!-- costs:begin -->", "<!-- costs:end -->"
META = {
    "series": "gmem-rfc-v1-6.12",
    "side_a": "base",
    "side_b": "gmem-rfc-v1-6.12",
    "timing_label": "icount (TCG, guest time = executed instructions)",
}


def render() -> str:
    timing = stats.analyse(load_jsonl(RECORDED / "recorded-gmem-ab.jsonl"), 5.0, meta=META)
    locks = serial.analyse(load_jsonl(RECORDED / "recorded-gmem-serial.jsonl"), 2.0, 5.0)
    peer = serial.analyse(load_jsonl(RECORDED / "recorded-gmem-serial-peer.jsonl"), 2.0, 5.0)
    return (
        table.render_table(timing, locks)
        + "\npeer-shared faults, from a run of their own (a base kernel has no peer device: "
        + "reported, not judged)\n"
        + "\n".join(table.serial_block(peer)[1:])
        + "\n"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true")
    args = p.parse_args()
    text = README.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n```text\n{render()}```\n{END}{tail}"
    if args.check:
        return 0 if new == text else 1
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
