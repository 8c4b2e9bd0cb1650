"""`harness merge RUN...`: the shards of one CI test run back together as one run.

Input: run directories of `harness test --shard K/N` (or any runs of one series).
Output: a new run directory with one junit.xml, results.json and summary.md. Suites of
the same name are merged child by child: what every shard did (apply, build, KUnit)
appears once with its worst result, what each shard booted appears side by side.
Raises UserError for a missing run, runs of different series, or a shard given twice.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from harness.cases import Case, Status
from harness.errors import UserError
from harness.results import rundir
from harness.results.rundir import RunDir

RANK = {Status.PASS: 0, Status.SKIP: 0, Status.XFAIL: 1, Status.FAIL: 2, Status.ERROR: 3}


def merge_cases(into: list[Case], more: list[Case]) -> None:
    """Fold `more` into `into` by name; a leaf in both keeps the worse of the two."""
    by_name = {c.name: c for c in into}
    for case in more:
        have = by_name.get(case.name)
        if have is None:
            into.append(copy.deepcopy(case))
            by_name[case.name] = into[-1]
        elif have.children or case.children:
            merge_cases(have.children, case.children)
            if RANK[case.own] > RANK[have.own]:  # a parent's own result line, the worse
                have.own, have.message = case.own, case.message
        elif RANK[case.status] > RANK[have.status]:
            into[into.index(have)] = by_name[case.name] = copy.deepcopy(case)


def merged_meta(metas: list[dict[str, Any]], paths: list[Path]) -> dict[str, Any]:
    series = {str(m.get("series", "")) for m in metas}
    if len(series) > 1:
        raise UserError(f"these runs test different series: {', '.join(sorted(series))}")
    shards = [str(m["shard"]) for m in metas if m.get("shard")]
    if len(shards) != len(set(shards)):
        raise UserError(f"a shard is given twice: {', '.join(shards)}")
    meta = {k: v for k, v in metas[0].items() if k not in ("run", "argv", "started", "shard")}
    return {**meta, "merged_from": [p.name for p in paths], "shards": sorted(shards)}


def merge_command(run_dirs: list[Path], out: Path, argv: list[str]) -> int:
    """1 when anything in any shard failed, as `harness test` would have said."""
    for path in run_dirs:
        if not (path / "results.json").is_file():
            raise UserError(f"{path}: not a run directory (no results.json)")
    loaded = [rundir.load(p) for p in run_dirs]
    meta = merged_meta([m for m, _ in loaded], run_dirs)
    run = RunDir.create(out, f"{meta.get('series') or 'run'}-merged", argv)
    run.meta.update(meta)
    for _, suites in loaded:
        merge_cases(run.suites, suites)
    run.flush()
    print(f"merged {len(run_dirs)} run(s): {run.path}")
    return 1 if run.failed else 0
