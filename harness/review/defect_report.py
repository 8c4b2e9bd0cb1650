"""`harness report CHECK_RUN --tests TEST_RUN`: the defect table of two runs.

Input: the run directory of a `harness check` and of a `harness test` (their results.json;
each run's series is found from the argv it recorded, relative to the working directory).
Output: defect_table.Defect rows; the mail section (report.email_text) and a Markdown table
(--findings-md FILE, e.g. the table in guest-tests/gmem/README.md between its markers).
Raises UserError for a missing run or series.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.intake.series import load as load_series
from harness.results.junit import write_atomic
from harness.results.rundir import load
from harness.review import defect_table

BEGIN, END = "<!-- findings:begin -->", "<!-- findings:end -->"
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # a run's argv is relative to the checkout
# where that run wrote: not part of a reproducer; nor its --suite: a row's reproducer
# names the one workload that shows it (defects: `--suite gmem:thp_race`)
LOCAL_OPTIONS = ("--out", "--cache", "--suite")


def series_text(meta: dict[str, Any], run_dir: Path) -> defect_table.SeriesText:
    argv = [str(a) for a in meta.get("argv", [])]
    paths = [a for a in argv[1:] if not a.startswith("-")]
    if not paths:
        raise UserError(f"{run_dir}: results.json names no series (argv {argv})")
    path = Path(paths[0]) if Path(paths[0]).exists() else PROJECT_ROOT / paths[0]
    (series, *_) = load_series(path)
    patches = tuple((p.number, p.mail.decode("utf-8", errors="replace")) for p in series.patches)
    return defect_table.SeriesText(patches, len(patches), "harness " + shlex.join(reproducer(argv)))


def reproducer(argv: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in LOCAL_OPTIONS:
            skip = True
        elif not arg.startswith(tuple(f"{o}=" for o in LOCAL_OPTIONS)):
            out.append(arg)
    return out


def rows(check_dir: Path, test_dirs: list[Path]) -> list[defect_table.Defect]:
    """The defects of one check run and any number of other runs: test runs (a normal and
    a debug run), and the build matrix of check runs of another form of the series (a
    port's)."""
    check_meta, check_cases = load(check_dir)
    check_series = series_text(check_meta, check_dir)
    found: list[defect_table.Defect] = []
    for test_dir in test_dirs:
        test_meta, test_cases = load(test_dir)
        other = series_text(test_meta, test_dir)
        if test_meta.get("kind") == "check":  # its build matrix: the static checks are the
            found += defect_table.matrix_defects(test_cases, other)  # first check run's
        else:
            found += defect_table.defects([], check_series, test_cases, other)
    return defect_table.defects(check_cases, check_series, [], check_series, found)


def with_table(readme: str, table: str) -> str:
    """`readme` with the text between the findings markers replaced by `table`."""
    if BEGIN not in readme or END not in readme:
        raise UserError(f"no {BEGIN} ... {END} markers to put the findings table between")
    head, rest = readme.split(BEGIN, 1)
    return f"{head}{BEGIN}\n{table}{END}{rest.split(END, 1)[1]}"


def write_markdown(target: Path, table: str) -> None:
    """A file with the markers gets the table between them; any other path, the table."""
    text = target.read_text() if target.exists() else ""
    write_atomic(target, with_table(text, table) if BEGIN in text else table)
