"""`harness bisect`: the first bad patch of a series (or commit of a range), with a lower
bound of the chance that it is right.

Input: a BisectRequest. Output: RUN/ with bisect.json (every run, resumable), junit.xml
(one testcase per step, plus the verdict), summary.md (the culprit, the step table, its
failure's excerpt), reproduce.sh (one `harness test` line that shows the failure),
culprit/ (the series up to the culprit, for that line), bisect.log in range mode,
steps/ (each candidate's `harness test` run dir). Exit: 0 found and confirmed, 1
unreliable or inconclusive; UserError (2) for bad input or nothing to bisect, EnvError
(3) for a missing tool or a machine that keeps failing.
"""

from __future__ import annotations

import dataclasses
import math
import shlex
import time
from pathlib import Path

from harness import proc
from harness.bisection import git_range, perf, summary
from harness.bisection import state as saved
from harness.bisection.candidates import SeriesOracle, series_candidates
from harness.bisection.parts import Bisection, note, open_run, test_options
from harness.bisection.perf_oracle import PerfOracle
from harness.bisection.request import BisectRequest
from harness.bisection.search import (
    MAX_RUNS_FOR_GOOD,
    InfraAborted,
    Kind,
    NothingToBisect,
    Oracle,
    Outcome,
    SearchResult,
    SearchSpec,
    Step,
    Verdict,
    flag_unreliable,
    p_lower_bound,
    runs_for_good,
    search,
    step_alpha,
)
from harness.bisection.signature import Predicate, parse_predicate
from harness.errors import EnvError, HarnessError, UserError
from harness.intake import series as intake

EXIT_CONFIRMED, EXIT_DOUBTFUL = 0, 1


def series_bisection(request: BisectRequest) -> Bisection:
    assert request.series is not None
    found = intake.load(request.series)
    if len(found) != 1:
        raise UserError(f"{request.series}: bisect takes one series, found {len(found)}")
    series = found[0]
    predicate = parse_predicate(request.bad_when)
    run, state = open_run(request, series.name)
    predicate.target = state["target"]
    candidates = series_candidates(series)
    oracle: SeriesOracle | PerfOracle
    if request.perf is not None:  # --bad-when metric:NAME: compare's sides, boots, statistics
        # Each step's planned error rate is its share of the search's budget.
        spec = dataclasses.replace(request.perf, alpha=step_alpha(request.search, candidates.count))
        oracle = PerfOracle(series, candidates, request, run.path / "steps", spec, note)
    else:
        oracle = SeriesOracle(candidates, test_options(request, run, request.tree), predicate, note)
    run.meta.update(series=series.name, subject=series.subject, message_id=series.message_id)

    def culprit_of(k: int, excerpt: str) -> summary.Culprit:
        patch = series.patches[k - 1]
        label = candidates.label(k)
        return summary.Culprit(
            label, patch.subject, patch.author, patch.message_id, patch.files, excerpt
        )

    return Bisection(request, run, state, candidates, predicate, oracle, culprit_of)


def print_plan(b: Bisection) -> None:
    n, spec = b.candidates.count, b.request.search
    steps = math.ceil(math.log2(n + 1))
    boots = (
        perf.plan_text(b.oracle.spec, steps)
        if isinstance(b.oracle, PerfOracle)
        else "no boots (a build failure)"
        if b.predicate.build_only
        else (
            f"boots: {spec.end_runs} of the bad end (to bound p from below), then "
            f"{_runs_if_all_fail(spec, n)} per good candidate if every bad-end run fails, "
            f"more if fewer do (at most {MAX_RUNS_FOR_GOOD})"
        )
    )
    note(
        f"bisect plan: {n + 1} candidates ({b.candidates.label(0)} .. "
        f"{b.candidates.label(n)}); both ends, then about {steps} builds "
        f"({2 + steps} in all); {boots}; bad when: {b.predicate.describe()}"
    )


def _runs_if_all_fail(spec: SearchSpec, n: int) -> int:
    p_low = p_lower_bound(spec.end_runs, spec.end_runs, spec.gamma)
    return runs_for_good(p_low, step_alpha(spec, n))


class Timed:
    """Wall time per run, the oracle's own (build and boot included); a build failure's
    outcome repeats exactly (make gives the same answer again)."""

    def __init__(self, oracle: Oracle, predicate: Predicate) -> None:
        self.oracle, self.predicate = oracle, predicate

    def __call__(self, candidate: int) -> Outcome:
        started = time.monotonic()
        outcome = self.oracle(candidate)
        exact = outcome.exact or self.predicate.build_only
        return dataclasses.replace(outcome, seconds=time.monotonic() - started, exact=exact)


def run_search(b: Bisection) -> SearchResult:
    recorder = saved.Recorder(Timed(b.oracle, b.predicate), b.run.path, b.state)

    def on_step(step: Step) -> None:
        if step.role == "bad end" and not b.state["target"]:
            b.state["target"] = b.predicate.target
        b.state["steps"].append(dataclasses.asdict(step) | {"kind": step.kind.value})
        saved.save(b.run.path, b.state)
        note(
            "step: "
            + summary.step_line(step, f"{step.role or 'step'} {b.candidates.label(step.candidate)}")
        )

    b.state["steps"] = []
    try:
        return search(recorder, b.candidates.count, b.request.search, on_step)
    except NothingToBisect as err:
        b.state["result"] = {"verdict": "nothing to bisect", "message": str(err)}
        saved.save(b.run.path, b.state)
        raise UserError(f"{err} (results: {b.run.path})") from None
    except InfraAborted as err:
        b.state["result"] = {"verdict": "aborted", "message": str(err)}
        saved.save(b.run.path, b.state)
        raise EnvError(f"{err} (results: {b.run.path})") from None
    finally:
        b.oracle.close()


NOT_KERNEL = ("tools/", "Documentation/")  # a change here leaves vmlinux as it was


def check_culprit(b: Bisection, result: SearchResult) -> None:
    """A culprit whose vmlinux is its parent's changed nothing the kernel runs, unless
    all it touches is a test or a document (a series' own kselftest)."""
    k = result.culprit
    if k is None or k == 0:
        return
    files = b.culprit_of(k, "").files
    if files and all(f.startswith(NOT_KERNEL) for f in files):
        return
    mine, parent = b.oracle.built.get(k), b.oracle.built.get(k - 1)
    if mine and parent and mine.vmlinux_sha and mine.vmlinux_sha == parent.vmlinux_sha:
        flag_unreliable(result, f"{b.candidates.label(k)}: vmlinux is identical to its parent's")


def findings(b: Bisection, result: SearchResult) -> list[str]:
    """A patch that does not build, while another failure is bisected, is a finding of
    its own (skipped in the search)."""
    seen = []
    for step in result.steps:
        if step.kind is Kind.SKIP and step.signature.startswith("build"):
            seen.append(f"{b.candidates.label(step.candidate)} does not build: {step.signature}")
    return list(dict.fromkeys(seen))


def write_outputs(b: Bisection, result: SearchResult) -> summary.Culprit | None:
    k = result.culprit
    culprit = b.culprit_of(k, b.oracle.excerpts.get(k, "")) if k else None
    mode = b.request.mode
    b.run.meta["bisect"] = summary.sentence(result, culprit, mode)
    b.run.meta["verdict"] = result.verdict.value
    for case in summary.step_cases(result, b.candidates.label):
        b.run.add(case)
    b.run.add(summary.verdict_case(result, culprit, mode))
    text = summary.summary_markdown(
        result, culprit, b.candidates.label, mode, method_text(b, result)
    )
    extra = findings(b, result)
    if extra:
        text += "\n## Findings\n\n" + "\n".join(f"- {f}" for f in extra) + "\n"
    (b.run.path / "summary.md").write_text(text)
    if k is not None:
        write_reproducer(b, k)
    b.state["result"] = {
        "verdict": result.verdict.value,
        "culprit": k,
        "remaining": result.remaining,
        "confidence": result.confidence,  # a lower bound of the chance it is right
        "p": result.p,
        "p_low": result.p_low,
        "builds": result.builds,
        "runs": result.total_runs,
        "flags": result.flags,
        "findings": extra,
        "sentence": b.run.meta["bisect"],
    }
    saved.save(b.run.path, b.state)
    return culprit


def method_text(b: Bisection, result: SearchResult) -> list[str]:
    """How "bad" was decided, and what it cost: the summary's paragraph under the culprit."""
    if not isinstance(b.oracle, PerfOracle):
        return summary.repeat_method(result)
    spec, pool = b.oracle.spec, len(b.oracle.pool)
    looks = " and ".join(str(n) for n in spec.looks(False))
    return [
        f"Perf mode: bad when {spec.metric} is worse than the good end beyond ±"
        f"{spec.threshold:g}% (exact one-sided Mann-Whitney test against the threshold, "
        f"the boot the replicate), good when it is not (the non-inferiority test); a step "
        f"is judged after {looks} candidate boots at level {spec.level(False):.3g} each, so it is "
        f"wrong with probability ≤ {spec.alpha:.3g}; inconclusive at the last look is a "
        f"skip. The answer is right with probability ≥ {result.confidence:.3f} (1 - the "
        f"steps' error rates).",
        f"{result.builds} builds, {b.oracle.boots} boots ({pool} of the good end in its "
        f"pool), {sum(s.seconds for s in result.steps):.0f}s in the steps.",
    ]


def write_reproducer(b: Bisection, k: int) -> None:
    """RUN/culprit/: the series up to the culprit; reproduce.sh tests it with the same
    options (a flaky failure shows in a share p of the runs)."""
    series = b.candidates.series_of(k)
    where = b.run.path / "culprit"
    where.mkdir(exist_ok=True)
    if b.request.mode == "range":  # the culprit as a patch on its parent (base-commit:)
        assert series.base_commit and b.request.tree is not None
        mail = git_range.commit_mail(b.request.tree, series.base_commit)
        (where / "0001.patch").write_bytes(mail)
    for patch in series.patches:
        (where / f"{patch.number:04d}.patch").write_bytes(patch.mail)
    yaml = series.path / "series.yaml" if series.path.is_dir() else None
    if yaml is not None and yaml.exists():
        (where / "series.yaml").write_bytes(yaml.read_bytes())
    r = b.request
    argv = ["harness", "test", str(where)]
    if r.perf is not None:  # the slowdown: compare the culprit's series with the base
        argv = ["harness", "compare", str(where), "--bench", r.perf.bench]
        argv += ["--threshold", f"{r.perf.threshold:g}", "--reps", str(r.reps)]
    argv += ["--tree", str(r.tree)] if r.tree else (["--base", r.base] if r.base else [])
    for fragment in r.kconfig:
        argv += ["--kconfig", fragment]
    for suite in r.suites:
        argv += ["--suite", suite]
    lines = [
        "#!/bin/sh",
        f"# Shows the failure of {b.candidates.label(k)}; the bisection itself was:",
        f"# {shlex.join(['harness', *r.argv])}",
        f"cd {shlex.quote(str(Path.cwd()))}",
        shlex.join(argv),
    ]
    target = b.run.path / "reproduce.sh"
    target.write_text("\n".join(lines) + "\n")
    target.chmod(0o755)


def bisect(request: BisectRequest) -> int:
    proc.require(proc.BOOT_TOOLS)
    if request.mode == "range":
        b = git_range.range_bisection(request, open_run, note)
    else:
        b = series_bisection(request)
    print_plan(b)
    result = run_search(b)
    check_culprit(b, result)
    if request.mode == "range":
        git_range.after_search(b, result, note)
    culprit = write_outputs(b, result)
    print(summary.sentence(result, culprit, request.mode))
    for line in summary.step_table(result, b.candidates.label)[2:]:
        print("  " + line)
    print(f"  results: {b.run.path}")
    return EXIT_CONFIRMED if result.verdict is Verdict.CONFIRMED else EXIT_DOUBTFUL


def bisect_and_go_on(request: BisectRequest) -> tuple[Path | None, HarnessError | None]:
    """A bisection for a caller that goes on whatever happens to it (review, watch): the
    run dir it wrote (None when it wrote none) and the error it stopped on, if any (nothing
    to bisect, or the machine failed)."""
    before = set(request.out.glob("bisect-*")) if request.out.is_dir() else set()
    stopped = None
    try:
        bisect(request)
    except HarnessError as err:
        stopped = err
    made = sorted(set(request.out.glob("bisect-*")) - before)
    return (made[0] if made else None), stopped
