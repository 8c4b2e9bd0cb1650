"""`harness review`: the whole reply a robot sends to a posted series, in one command.

The stages run in order, each through its own command's entry point, and each writes its
run directory below RUN/:
  check/    per patch: the build, W=1, the build matrix, checkpatch, the static checks;
  test/     the full series booted with its suites, and the same tests on the base;
  bisect/   each runtime failure the base does not have (a crash, a WARN, a boot that
            did not end, a failing test), bisected to the first patch that shows it;
  compare/  the cost table: slower · more serialized · more metadata.
RUN/ holds the reply: results.json and junit.xml (the per-patch suites, a `runtime` suite
with one case per new failure and its first bad patch, the cost metrics), review.eml
(one mail) and each stage's time, predicted at the start and measured at the end.
`harness publish` takes RUN as it is.

Input: a loaded Series and ReviewOptions; the command line builds the bisect and compare
requests, the same command lines a user would type, which the mail shows. Output: RUN.
Raises what the stages raise; Ctrl-C leaves RUN with what was done.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import arguments, pipeline
from harness.bisection import command as bisect_command
from harness.bisection.signature import Failure, Stage, observe
from harness.cases import Case, Status
from harness.errors import interrupt_message
from harness.pipeline import TestOptions
from harness.proc import note
from harness.progress import StageClock
from harness.results.rundir import RunDir, load
from harness.review import check, report
from harness.review.check import CheckOptions
from harness.suites import guest

if TYPE_CHECKING:
    from harness.bisection.request import BisectRequest
    from harness.compare.request import CompareRequest
    from harness.intake.series import Series

STAGES = arguments.REVIEW_STAGES
RUNTIME = (Stage.CRASH, Stage.BOOT, Stage.TEST)
RUNTIME_SUITE = "runtime"
# The stage times of earlier reviews, per cache: what the plan at the start predicts from.
HISTORY = "review-stages.jsonl"


@dataclass(frozen=True)
class StageSettings:
    """What the bisections and the compare are run with: the review's own options."""

    cache: Path
    tree: Path | None = None
    base: str = ""
    kconfig: tuple[str, ...] = ()
    jobs: int = 2
    suites: tuple[str, ...] = ()
    timeout: int = 0
    no_kvm: bool = False
    repeats: int = 5  # bisect: runs of the bad end
    min_confidence: float = 0.9
    benches: tuple[str, ...] = ()  # compare: () is every benchmark
    reps: int = 0
    serialization: bool = False

    def _common(self, command: str, series: Path, out: Path) -> list[str]:
        line = [command, str(series), "--out", str(out), "--cache", str(self.cache)]
        line += ["--tree", str(self.tree)] if self.tree else []
        line += ["--base", self.base] if self.base else []
        line += [a for k in self.kconfig for a in ("--kconfig", k)]
        line += ["--timeout", str(self.timeout)] if self.timeout else []
        return [*line, "--jobs", str(self.jobs)]

    def bisect(
        self, series: Path, bad_when: str, out: Path, suites: tuple[str, ...] = ()
    ) -> BisectRequest:
        """The request `harness bisect` makes of the same command line (shown in the mail);
        `suites` in place of the review's own."""
        from harness.bisection import request

        line = self._common("bisect", series, out) + [f"--bad-when={bad_when}"]
        line += ["--repeats", str(self.repeats), "--min-confidence", str(self.min_confidence)]
        line += [f"--suite={s}" for s in suites or self.suites]
        parser = argparse.ArgumentParser(prog="harness bisect")
        request.add_arguments(parser)
        return request.from_args(parser.parse_args(line[1:]), line, self.cache)

    def compare(self, series: Path, out: Path) -> CompareRequest:
        """The request `harness compare` makes of the same command line."""
        from harness.compare import request

        line = self._common("compare", series, out) + (["--no-kvm"] if self.no_kvm else [])
        line += [f"--bench={b}" for b in self.benches]
        line += ["--reps", str(self.reps)] if self.reps else []
        line += ["--serialization"] if self.serialization else []
        parser = argparse.ArgumentParser(prog="harness compare")
        arguments.add_series_arguments(parser, builds=True)
        arguments.add_jobs_argument(parser)
        request.add_arguments(parser)
        return request.validate(request.from_args(parser.parse_args(line[1:]), line, self.cache))


@dataclass(frozen=True)
class ReviewOptions:
    argv: list[str]
    out: Path
    check: CheckOptions
    test: TestOptions
    stages_run: StageSettings
    stages: tuple[str, ...] = STAGES
    most_bisections: int = 3  # the first new failures, in stage order
    reporter: str = "harness review <harness-review@localhost>"


def options(
    argv: list[str],
    out: Path,
    settings: StageSettings,
    matrix: tuple[str, ...] = (),
    stages: tuple[str, ...] = STAGES,
    most_bisections: int = 3,
    reporter: str = ReviewOptions.reporter,
) -> ReviewOptions:
    """A review's options: check and test from the same settings as the other stages."""
    s = settings
    test = TestOptions(
        argv, out, s.cache, s.base, s.tree, s.kconfig, s.suites, s.jobs,
        timeout=s.timeout, no_kvm=s.no_kvm, compare_base=True,
    )  # fmt: skip
    check_opts = CheckOptions(argv, out, s.cache, s.base, s.tree, s.kconfig, s.jobs, matrix)
    return ReviewOptions(argv, out, check_opts, test, s, stages, most_bisections, reporter)


@dataclass(frozen=True)
class NewFailure:
    failure: Failure
    bisected: dict[str, Any] | None = None  # bisect.json's result
    run: str = ""  # its bisection's run dir, relative to RUN
    culprit: str = ""  # "3/5 proc: harness_bisect: ..."
    command: str = ""  # the bisection, as a command line

    def case(self) -> Case:
        f = self.failure
        name = f.signature[:160]
        if self.bisected is None:
            return Case(name, Status.FAIL, "new against the base; not bisected", details=f.excerpt)
        r = self.bisected
        if r.get("culprit"):
            confidence = float(r.get("confidence") or 0.0)
            message = (
                f"first seen at patch {self.culprit} (bisected, {r['verdict']}, "
                f"confidence {confidence:.3f})"
            )
        else:
            message = f"new against the base; bisection: {r.get('sentence', r.get('verdict'))}"
        props = {"bisection": self.run, "verdict": str(r.get("verdict", ""))}
        props["reproduce"] = self.command
        if r.get("culprit"):
            props["first_bad_patch"] = str(r["culprit"])
        return Case(name, Status.FAIL, message, details=f.excerpt, properties=props)


def review(series: Series, opts: ReviewOptions) -> RunDir:
    run = RunDir.create(opts.out, f"review-{series.name}", opts.argv)
    run.meta.update(kind="review", stages=list(opts.stages), **check.series_meta(series))
    clock = StageClock()
    planned = plan(opts.test.cache, series, opts.stages)
    run.meta["planned_seconds"] = planned
    note("review plan: " + plan_line(planned))
    try:
        if "check" in opts.stages:
            with clock.stage("check"):
                checked = check.check_series(series, replace(opts.check, out=run.path / "check"))
            _take_check(run, checked)
        found: list[Failure] = []
        if "test" in opts.stages:
            with clock.stage("test"):
                tested = pipeline.test_series(
                    series, replace(opts.test, out=run.path / "test", compare_base=True)
                )
            found = _runtime(run, tested)
        if "bisect" in opts.stages and found:
            with clock.stage("bisect"):
                _bisect_all(run, series, opts, found)
        if "compare" in opts.stages:
            with clock.stage("compare"):
                from harness.compare import command as compare_command

                request = opts.stages_run.compare(series.path, run.path / "compare")
                compared = compare_command.compare(request)
            _take_compare(run, compared)
    except KeyboardInterrupt as err:
        run.add(Case("interrupted", Status.ERROR, interrupt_message(err)))
        raise
    finally:
        run.meta["stage_seconds"] = clock.with_remainder()
        run.flush()
        _remember(opts.test.cache, series, clock.seconds)
        replied = (
            *runtime_lines(run),
            *report.costs(run.path, run.meta),
            *trailers(run, opts.reporter),
        )
        report.write(run.path, findings=replied)
    note("review took: " + plan_line(run.meta["stage_seconds"]))
    return run


def _take_check(run: RunDir, checked: RunDir) -> None:
    """The check's per-patch suites and its setting (base, config, compiler) are the reply's."""
    for key in ("base", "base_commit", "base_note", "compiler", "jobs", "matrix", "config"):
        if key in checked.meta:
            run.meta[key] = checked.meta[key]
    run.meta["stage_runs"] = {**run.meta.get("stage_runs", {}), "check": _rel(run, checked)}
    run.suites.extend(checked.suites)
    run.flush()


def _runtime(run: RunDir, tested: RunDir) -> list[Failure]:
    """The full series' runtime failures the base does not have, as a `runtime` suite
    (bisections fill it in later); the failures, in stage order."""
    run.meta["stage_runs"] = {**run.meta.get("stage_runs", {}), "test": _rel(run, tested)}
    run.meta.setdefault("config", tested.meta.get("config", []))
    patched = observe(tested.suites)
    base_dir = _base_run(tested)
    base_keys = set()
    if base_dir is not None:
        _, base_suites = load(base_dir)
        base_keys = {f.key for f in observe(base_suites).failures}
    early = [f for f in patched.failures if f.stage not in RUNTIME]
    # One per signature: the port's 20 NULL dereferences in 20 workloads are one failure
    # to bisect, its first console report the excerpt.
    unique: dict[str, Failure] = {}
    for failure in patched.failures:
        unique.setdefault(failure.key, failure)
    found = [f for f in unique.values() if f.stage in RUNTIME and f.key not in base_keys]
    if early:
        why = f"the full series did not get to boot: {early[0].signature}"
        run.add(Case(RUNTIME_SUITE, Status.ERROR, why, details=early[0].excerpt))
        return []
    if patched.infra and not found:
        run.add(Case(RUNTIME_SUITE, Status.ERROR, f"the machine failed: {patched.infra}"))
        return []
    if base_dir is None:
        note("the base was not tested: every runtime failure counts as new")
    suite = Case(RUNTIME_SUITE, Status.PASS, _runtime_message(tested, found, base_dir))
    suite.children = [NewFailure(f).case() for f in found]
    run.add(suite)
    return found


def _runtime_message(tested: RunDir, found: list[Failure], base_dir: Path | None) -> str:
    base = "against the base" if base_dir is not None else "(the base was not tested)"
    tests = sum(1 for s in tested.suites for _ in s.leaves())
    if not found:
        return f"no new failure {base}: {tests} results"
    return f"{len(found)} new failure(s) {base}, of {tests} results"


def _base_run(tested: RunDir) -> Path | None:
    for suite in tested.suites:
        name = suite.properties.get("base_run")
        if name and (tested.path / name / "results.json").is_file():
            return tested.path / name
    return None


def narrowed(failure: Failure, series: Series) -> tuple[str, ...]:
    """The one workload to boot for a failure seen in a suite series.yaml isolates: the test
    run booted that workload alone, so each bisection step boots exactly that (one boot,
    not the whole suite's). () keeps the review's suites."""
    suite, _, workload = failure.where.partition("/")
    if suite in series.config.isolate and guest.NAME.fullmatch(workload):
        return (f"{suite}:{workload}",)
    return ()


def _bisect_all(run: RunDir, series: Series, opts: ReviewOptions, found: list[Failure]) -> None:
    suite = next(s for s in run.suites if s.name == RUNTIME_SUITE)
    done: list[NewFailure] = []
    for failure in found[: opts.most_bisections]:
        out = run.path / "bisect"
        note(f"bisecting a new failure: {failure.signature}")
        suites = narrowed(failure, series)
        request = opts.stages_run.bisect(series.path, f"failure:{failure.signature}", out, suites)
        made, stopped = bisect_command.bisect_and_go_on(request)
        if stopped is not None:  # nothing to bisect, the machine failed: this one only
            note(f"bisection: {stopped}")
        result = _bisected(made) if made else {}
        result.setdefault("sentence", result.get("message") or str(stopped or "no result"))
        k = result.get("culprit")
        culprit = ""
        if k:
            patch = series.patches[int(k) - 1]
            culprit = f"{k}/{len(series.patches)} {patch.short_subject}"
        command = shlex.join(["harness", *request.argv])
        where = _rel(run, made) if made else ""
        done.append(NewFailure(failure, result, where, culprit, command))
    rest = [NewFailure(f) for f in found[opts.most_bisections :]]
    suite.children = [n.case() for n in [*done, *rest]]
    run.meta["runtime"] = [
        {"signature": n.failure.signature, "culprit": n.culprit, "bisection": n.run} for n in done
    ]
    run.flush()


def _bisected(bdir: Path) -> dict[str, Any]:
    """bisect.json's result: what a bisection that ended, or stopped, wrote."""
    try:
        result = json.loads((bdir / "bisect.json").read_text()).get("result") or {}
    except (OSError, ValueError):
        return {}
    return dict(result) if isinstance(result, dict) else {}


def _take_compare(run: RunDir, compared: RunDir) -> None:
    """The cost metrics as the reply's suites, and the compare run's table for the mail."""
    run.meta["stage_runs"] = {**run.meta.get("stage_runs", {}), "compare": _rel(run, compared)}
    run.meta["compare"] = compared.meta.get("compare", {})
    if "serialization" in compared.meta:
        run.meta["serialization"] = compared.meta["serialization"]
    table = compared.path / "table.txt"
    if table.is_file():
        (run.path / "table.txt").write_text(table.read_text())
    for suite in compared.suites:
        if suite.name.startswith(("compare", "serialization")) or suite.status.is_bad:
            run.suites.append(suite)
    run.flush()


def runtime_lines(run: RunDir) -> list[str]:
    """The mail's runtime section: each new failure, where it first shows, its console."""
    suite = next((s for s in run.suites if s.name == RUNTIME_SUITE), None)
    if suite is None:
        return []
    lines = [f"Runtime (harness test, base and series booted alike): {suite.message}", ""]
    for case in suite.children:
        lines += [f"  {case.name}", f"    {case.message}"]
        excerpt = [ln for ln in case.details.splitlines() if ln.strip()][:12]
        lines += [f"      {ln}" for ln in excerpt]
        if case.properties.get("reproduce"):
            lines += [f"    reproduce: {case.properties['reproduce']}"]
        lines.append("")
    return lines


def trailers(run: RunDir, reporter: str) -> list[str]:
    """What a fix of a reported failure carries, as the kernel test robot asks for it."""
    if not any(s.status.is_bad for s in run.suites):
        return []
    msgid = str(run.meta.get("message_id", "")).strip("<>")
    thread = [f"| Closes: https://lore.kernel.org/r/{msgid}/"] if msgid else []
    return [
        "If you fix an issue reported here in a new version of the series, kindly add:",
        f"| Reported-by: {reporter}",
        *thread,
        "",
    ]


# ---- the plan: each stage's time, predicted from this cache's earlier reviews ----------


def plan(cache: Path, series: Series, stages: tuple[str, ...]) -> dict[str, float | None]:
    """Per stage, the median of its last five times in this cache scaled by the series'
    patch count (None: never measured here)."""
    past = _history(cache)
    out: dict[str, float | None] = {}
    for stage in stages:
        rates = [r["seconds"][stage] / max(1, r["patches"]) for r in past if stage in r["seconds"]]
        n = max(1, len(series.patches))
        out[stage] = round(statistics.median(rates[-5:]) * n, 1) if rates else None
    return out


def plan_line(seconds: Mapping[str, float | None]) -> str:
    parts = [
        f"{stage} {'?' if s is None else f'{s / 60:.1f} min'}"
        for stage, s in seconds.items()
        if stage not in ("harness", "total")
    ]
    known = [s for k, s in seconds.items() if s is not None and k not in ("harness", "total")]
    total = seconds.get("total") or sum(known)
    return (
        ", ".join(parts)
        + f" (total {total / 60:.1f} min"
        + ("; ? = no earlier review in this cache)" if None in seconds.values() else ")")
    )


def _history(cache: Path) -> list[dict[str, Any]]:
    try:
        lines = (cache / HISTORY).read_text().splitlines()
    except OSError:
        return []
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("seconds"), dict):
            records.append(record)
    return records


def _remember(cache: Path, series: Series, seconds: dict[str, float]) -> None:
    record = {"series": series.name, "patches": len(series.patches), "seconds": seconds}
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with open(cache / HISTORY, "a") as f:
            f.write(json.dumps(record) + "\n")
    except OSError:
        pass  # no prediction next time; nothing else depends on it


def _rel(run: RunDir, other: RunDir | Path) -> str:
    path = other.path if isinstance(other, RunDir) else other
    return str(path.relative_to(run.path))


def review_command(path: Path, opts: ReviewOptions) -> int:
    """`harness review`: every series under `path`; 1 when anything in a reply failed."""
    from harness.intake.series import load as load_series

    failed = False
    all_series = load_series(path)
    for one in all_series:  # the stages' own checks of their options: exit 2 before any run
        if "bisect" in opts.stages:
            opts.stages_run.bisect(one.path, "", opts.out)
        if "compare" in opts.stages:
            opts.stages_run.compare(one.path, opts.out)
    for one in all_series:
        run = review(one, opts)
        print(f"\n{one.name}: {one.subject}")
        for line in runtime_lines(run)[:1]:
            print(f"  {line}")
        print(f"  review mail: {run.path / 'review.eml'}")
        print(f"  results: {run.path}")
        failed = failed or run.failed
    return 1 if failed else 0
