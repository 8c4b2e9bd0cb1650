#!/usr/bin/env python3
"""harness check against the kernel test robot: run `harness check` on each recorded
series of tests/fixtures/robot-cases that applies to the base, and count the robot's
findings it reproduces with the same file and message, naming the cell that did.

Each case's patch mails are copied to a directory of their own (the case dir also holds
the robot's mail). The robot's message is matched as printed (sparse's is cut at its
" @@ " type summary, which the robot adds); a finding counts once any `>>` line of a failing
check names its file and holds its message.

With --noop N, also a series of one patch that adds a comment line at the top of N of the
corpus' C files (every line below it moves): every cell must find nothing new in it (a
false positive of the base against itself), and count the warnings that only moved.

Prints a markdown table and the totals, writes --json. Times are wall clock, with the
1-minute load before and after each case.
Usage: python3 bench/robot_cases.py [--matrix CELLS] [--case NAME ...] [--json FILE]
       [--out DIR] [--all] [--noop N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
CASES = PROJECT / "tests" / "fixtures" / "robot-cases"
NOT_KERNEL = "x86_64,x86_64-clang,i386,arm64,sparse,options-off"


def robot_message(finding: dict) -> str:  # type: ignore[type-arg]
    """The part of the robot's message harness's own output holds."""
    return str(finding["message"]).split(" @@ ")[0].strip()


def marked_lines(results: dict) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    """(case path, line) for every `>>` line of a failing case, leaves and parents."""
    found: list[tuple[str, str]] = []

    def walk(case: dict, path: str) -> None:  # type: ignore[type-arg]
        here = f"{path}/{case['name']}" if path else case["name"]
        if case.get("status") == "fail":
            for line in str(case.get("details", "")).splitlines():
                if line.startswith(">> "):
                    found.append((here, line[3:]))
        for child in case.get("children", []):
            walk(child, here)

    for suite in results["suites"]:
        walk(suite, "")
    return found


def ascii_quotes(text: str) -> str:
    return text.translate(str.maketrans("‘’“”", "''\"\""))


def score(case_yaml: dict, results: dict) -> list[dict]:  # type: ignore[type-arg]
    """Each robot finding with where harness reproduced it ('' when it did not). A modpost
    finding names its module (`object`), a compiler's its source file."""
    lines = [(path, ascii_quotes(line)) for path, line in marked_lines(results)]
    scored = []
    for finding in case_yaml["findings"]:
        wanted = ascii_quotes(robot_message(finding))
        where_file = finding.get("object") or finding["file"]
        where = next((path for path, line in lines if where_file in line and wanted in line), "")
        scored.append({**finding, "reproduced_in": where})
    return scored


def run_case(name: str, cells: str, out: Path) -> tuple[dict, float, str, str]:  # type: ignore[type-arg]
    series = out / "series" / name
    shutil.rmtree(series, ignore_errors=True)
    series.mkdir(parents=True)
    for patch in sorted((CASES / name).glob("0*.patch")):
        shutil.copy(patch, series / patch.name)
    return run_case_dir(series, cells, out)


def run_case_dir(series: Path, cells: str, out: Path) -> tuple[dict, float, str, str]:  # type: ignore[type-arg]
    load = f"{os.getloadavg()[0]:.1f}"
    started = time.monotonic()
    runs = out / "runs"
    before = set(runs.glob("*")) if runs.exists() else set()
    argv = [sys.executable, "-m", "harness.cli", "check", str(series), "--out", str(runs)]
    subprocess.run([*argv, "--matrix", cells], cwd=PROJECT, timeout=7200)
    seconds = time.monotonic() - started
    (run_dir,) = set(runs.glob("*")) - before
    results = json.loads((run_dir / "results.json").read_text())
    return results, seconds, load, f"{os.getloadavg()[0]:.1f}"


BASE_TREE = Path.home() / ".cache" / "harness" / "trees" / "debian-6.12"
NOOP_LINE = "/* a comment line and nothing else: every line below moves by one */"


def noop_series(files: list[str], where: Path, tree: Path) -> Path:
    """One patch mail adding NOOP_LINE at the top of each file."""
    diff = []
    for name in files:
        first = (tree / name).read_text(errors="replace").splitlines()[0]
        diff += [f"diff --git a/{name} b/{name}", f"--- a/{name}", f"+++ b/{name}"]
        diff += ["@@ -1 +1,2 @@", f"+{NOOP_LINE}", f" {first}"]
    mail = [
        "From: Bench <bench@example.org>",
        "Date: Mon, 7 Dec 2026 00:00:00 +0000",
        "Subject: [PATCH] drivers: a comment line at the top of some files",
        "Message-ID: <noop@bench>",
        "",
        "Nothing but comments: the base against itself.",
        "",
        "Signed-off-by: Bench <bench@example.org>",
        "---",
        *diff,
        "-- ",
        "2.39.5",
        "",
    ]
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    (where / "0001-noop.patch").write_text("\n".join(mail))
    return where


def corpus_files(limit: int) -> list[str]:
    """The C files the corpus' robot findings name, that the base tree has."""
    names: list[str] = []
    for case in sorted(CASES.glob("*/case.yaml")):
        for finding in yaml.safe_load(case.read_text())["findings"]:
            name = str(finding["file"])
            if name.endswith(".c") and (BASE_TREE / name).is_file() and name not in names:
                names.append(name)
    return names[:limit]


def noop_cells(results: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    """Per cell: its status, new findings and moved warnings on the no-op patch."""
    out = {}
    for suite in results["suites"]:
        for matrix in (c for c in suite.get("children", []) if c["name"] == "matrix"):
            for cell in matrix["children"]:
                props = cell.get("properties", {})
                out[cell["name"]] = {
                    "status": cell["status"], "new": props.get("new", "0"),
                    "moved": props.get("moved", "0"), "message": cell.get("message", ""),
                }  # fmt: skip
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", default=NOT_KERNEL)
    parser.add_argument("--case", action="append", default=[])
    parser.add_argument("--all", action="store_true", help="also the cases 6.12 does not take")
    parser.add_argument("--out", type=Path, default=Path("/var/tmp/harness-robot-cases"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--noop", type=int, default=0, metavar="N")
    args = parser.parse_args()
    rows = []
    noop: dict[str, dict] = {}  # type: ignore[type-arg]
    if args.noop:
        files = corpus_files(args.noop)
        series = noop_series(files, args.out / "series" / "noop", BASE_TREE)
        results, seconds, load0, load1 = run_case_dir(series, args.matrix, args.out)
        noop = noop_cells(results)
        print(f"noop over {len(files)} files in {seconds:.0f}s (load {load0} -> {load1}):")
        for name, cell in noop.items():
            print(f"  {name}: {cell['status']}, {cell['new']} new, {cell['moved']} moved")
    for case_dir in sorted(p for p in CASES.iterdir() if (p / "case.yaml").is_file()):
        meta = yaml.safe_load((case_dir / "case.yaml").read_text())
        if args.case and case_dir.name not in args.case:
            continue
        if meta["applies_to"] != "debian:6.12" and not args.all:
            continue
        results, seconds, load0, load1 = run_case(case_dir.name, args.matrix, args.out)
        scored = score(meta, results)
        got = sum(1 for f in scored if f["reproduced_in"])
        rows.append(
            {"case": case_dir.name, "needs": meta.get("needs", []), "findings": scored,
             "reproduced": got, "seconds": round(seconds, 1), "load": f"{load0} -> {load1}"}
        )  # fmt: skip
        print(f"{case_dir.name}: {got}/{len(scored)} in {seconds:.0f}s (load {load0} -> {load1})")
    total = sum(len(r["findings"]) for r in rows)
    got = sum(r["reproduced"] for r in rows)
    print("\n| case | needs | robot findings | reproduced | where | seconds | load |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        where = sorted(
            {f["reproduced_in"].split("/")[-1] for f in r["findings"] if f["reproduced_in"]}
        )
        print(
            f"| {r['case']} | {', '.join(r['needs'])} | {len(r['findings'])} | {r['reproduced']} "
            f"| {', '.join(where)} | {r['seconds']:.0f} | {r['load']} |"
        )
    print(f"\nreproduced {got} of {total} robot findings in {len(rows)} series")
    if args.json:
        data = {"matrix": args.matrix, "cases": rows, "noop": noop}
        args.json.write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
