#!/usr/bin/env python3
"""What `harness review SERIES` costs against the same work as separate commands.

Runs, one after another on one cache, in the order given by --order:
  review    `harness review SERIES ARGS...`;
  separate  the commands a maintainer types for the same reply: `harness check`,
            `harness test --compare-base`, one `harness bisect` per bisection the review
            ran (its own command line, as the review's mail prints it) and
            `harness compare` (the command line the review's compare stage recorded).
"separate" needs a review run first: it repeats that review's bisections and compare.
Each command's wall time, the load average before and after it, and the review's own
stage times (results.json stage_seconds) are printed as markdown and written as JSON.

Usage: python3 bench/review_cost.py SERIES --out DIR [--order review,separate,review]
       [--json FILE] [-- REVIEW ARGS...]
Options after `--` go to review (and those check and test take to the separate commands:
--timeout, --suite, --matrix, --jobs, --no-kvm, --cache, --base, --tree, --kconfig).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HARNESS = [sys.executable, "-m", "harness.cli"]
# The review options a separate check or test takes as they are (with their value), and
# the one flag test takes.
CHECK_TAKES = {"--jobs", "--cache", "--base", "--tree", "--kconfig", "--matrix"}
TEST_TAKES = {"--jobs", "--cache", "--base", "--tree", "--kconfig", "--timeout", "--suite"}
TEST_FLAGS = {"--no-kvm"}


def _split(args: list[str]) -> dict[str, list[str]]:
    """The review's options that `check` and `test` also take, as argv pieces per command."""
    check: list[str] = []
    test: list[str] = []
    i = 0
    while i < len(args):
        flag, _, value = args[i].partition("=")
        if flag in CHECK_TAKES | TEST_TAKES:
            if not value:
                i += 1
                value = args[i] if i < len(args) else ""
            check += [flag, value] if flag in CHECK_TAKES else []
            test += [flag, value] if flag in TEST_TAKES else []
        elif flag in TEST_FLAGS:
            test.append(flag)
        i += 1
    return {"check": check, "test": test}


def _run(argv: list[str], log: Path) -> dict[str, Any]:
    load = os.getloadavg()[0]
    started = time.monotonic()
    with log.open("w") as out:
        rc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    return {
        "argv": shlex.join(argv),
        "rc": rc,
        "seconds": round(time.monotonic() - started, 1),
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "log": str(log),
    }


def _only_run(out: Path) -> Path | None:
    runs = [p for p in out.iterdir() if (p / "results.json").is_file()] if out.is_dir() else []
    return max(runs, key=lambda p: p.stat().st_mtime) if runs else None


def _with_out(line: list[str], out: Path) -> list[str]:
    """A recorded command line with its --out replaced."""
    argv = list(line)
    if "--out" in argv:
        argv[argv.index("--out") + 1] = str(out)
    else:
        argv += ["--out", str(out)]
    return argv


def review(series: str, args: list[str], out: Path, tag: str) -> dict[str, Any]:
    where = out / tag
    row = _run([*HARNESS, "review", series, "--out", str(where), *args], out / f"{tag}.log")
    run = _only_run(where)
    data = json.loads((run / "results.json").read_text()) if run else {}
    row.update(
        command="review",
        run=str(run) if run else None,
        stage_seconds=data.get("stage_seconds", {}),
        planned_seconds=data.get("planned_seconds", {}),
    )
    return row


def separate(
    series: str,
    args: list[str],
    out: Path,
    tag: str,
    reviewed: Path,
    rows: list[dict[str, Any]],
    written: Callable[[], None],
) -> dict[str, Any]:
    """The review's work as the commands one after another, each row added to `rows` (and
    `written()` called) as it ends, so a bench stopped half-way keeps what it measured."""
    where = out / tag
    where.mkdir(parents=True, exist_ok=True)
    pieces = _split(args)
    check = [*HARNESS, "check", series, "--out", str(where / "check"), *pieces["check"]]
    rows.append({"command": "check", **_run(check, where / "check.log")})
    written()
    test = [*HARNESS, "test", series, "--compare-base", "--out", str(where / "test")]
    rows.append({"command": "test", **_run([*test, *pieces["test"]], where / "test.log")})
    written()
    data = json.loads((reviewed / "results.json").read_text())
    runtime: dict[str, Any] = next(
        (s for s in data.get("suites", []) if s.get("name") == "runtime"), {}
    )
    for k, case in enumerate(runtime.get("children", [])):
        line = shlex.split(case.get("properties", {}).get("reproduce", ""))
        if line[:1] != ["harness"]:
            continue
        argv = [*HARNESS, *_with_out(line[1:], where / f"bisect-{k}")]
        rows.append({"command": f"bisect {k}", **_run(argv, where / f"bisect-{k}.log")})
        written()
    compared = _only_run(reviewed / "compare")
    if compared is not None:
        line = json.loads((compared / "results.json").read_text())["argv"]
        argv = [*HARNESS, *_with_out(line, where / "compare")]
        rows.append({"command": "compare", **_run(argv, where / "compare.log")})
    total = round(sum(r["seconds"] for r in rows), 1)
    return {"command": "separate", "seconds": total, "parts": rows}


def main() -> int:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("series")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--order", default="review,separate")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    order = args.order.split(",")
    first_separate = order.index("separate") if "separate" in order else len(order)
    unknown = set(order) - {"review", "separate"}
    if unknown or ("separate" in order and "review" not in order[:first_separate]):
        p.error("--order: of review and separate, with a review before any separate")
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []

    def write(shown: list[dict[str, Any]]) -> None:
        if args.json:
            args.json.write_text(json.dumps(shown, indent=1) + "\n")

    last_review: Path | None = None
    for k, what in enumerate(order):
        tag = f"{k}-{what}"
        if what == "review":
            row = review(args.series, extra, args.out, tag)
            last_review = Path(row["run"]) if row["run"] else None
        elif last_review is None:
            print(f"review_cost: the review before {tag} left no run", file=sys.stderr)
            return 1
        else:
            parts: list[dict[str, Any]] = []
            partial = {"command": "separate", "seconds": None, "parts": parts}

            def written(partial: dict[str, Any] = partial) -> None:
                write([*rows, partial])

            row = separate(args.series, extra, args.out, tag, last_review, parts, written)
        rows.append(row)
        write(rows)
    print("| # | what | wall s | load before → after | stages (s) |")
    print("|---|---|---|---|---|")
    for k, row in enumerate(rows):
        parts = row.get("parts") or []
        stages = row.get("stage_seconds") or {p["command"]: p["seconds"] for p in parts}
        loads = [row] if not parts else [parts[0], parts[-1]]
        load = f"{loads[0]['load_before']} → {loads[-1]['load_after']}"
        shown = ", ".join(f"{name} {float(s):.0f}" for name, s in stages.items())
        print(f"| {k} | {row['command']} | {row['seconds']} | {load} | {shown} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
