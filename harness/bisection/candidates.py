"""The series-mode oracle: candidate k is the first k patches of the series on the base,
applied, built and booted by `harness test`'s own stages.

Input: the Series, the TestOptions of the bisection and the Predicate. Output: one search
Outcome per call; RUN/steps/kK-*/ holds each candidate's `harness test` run dir (apply.log,
build.log, console.log, junit.xml), RUN/steps/kK-*/repeat-N-*/ its repeated boots.
The candidate's slot (worktree + build dir) is held while its runs go on and released
before the next candidate takes one: the same warm build dir, so neighbouring prefixes
rebuild incrementally (tree/mtimes keeps the unchanged files' mtimes). The stages are
pipeline.build_and_boot and pipeline.boot_again, harness test's own. A build result is
kept per candidate: a run after the first only boots again, and a candidate that did not
build (or needs no boot) is judged from its build, which make repeats exactly.
Errors: UserError/EnvError from the stages (bad --base, missing tool).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness import pipeline
from harness.bisection.search import Kind, Outcome
from harness.bisection.signature import Observation, Predicate, Stage, observe
from harness.build import make
from harness.build.ccache import build_key
from harness.cases import Case
from harness.intake.series import Series
from harness.results.rundir import RunDir
from harness.suites import series_tests


@dataclass
class Built:
    """What the first run of a candidate left for its repeats."""

    prepared: pipeline.Prepared
    plan: series_tests.Plan | None
    first: Observation
    build_case: Case | None
    vmlinux_sha: str
    runs: int = 1
    repeat_dirs: list[Path] = field(default_factory=list)

    @property
    def booted(self) -> bool:
        return (
            self.plan is not None
            and self.build_case is not None
            and not any(
                f.stage in (Stage.APPLY, Stage.CONFIG, Stage.BUILD) for f in self.first.failures
            )
        )


def prefix(series: Series, k: int) -> Series:
    """The first k patches; the cover (or patch 1) still names the series in run dirs."""
    stand_in = series.cover or series.patches[0]
    return dataclasses.replace(
        series, name=f"{series.name}-k{k}", patches=series.patches[:k], cover=stand_in
    )


def describe(series: Series, k: int) -> str:
    if k == 0:
        return "0: the base"
    return f"{k}/{len(series.patches)} {series.patches[k - 1].short_subject}"


@dataclass(frozen=True)
class Candidates:
    """What candidate k is, as a Series `harness test` runs: a prefix of the series in
    series mode, an empty series whose base-commit is the k-th commit in range mode."""

    count: int  # n: the candidates are 0..n
    series_of: Callable[[int], Series]
    label: Callable[[int], str]


def series_candidates(series: Series) -> Candidates:
    return Candidates(
        len(series.patches), lambda k: prefix(series, k), lambda k: describe(series, k)
    )


class SeriesOracle:
    def __init__(
        self,
        candidates: Candidates,
        opts: pipeline.TestOptions,
        predicate: Predicate,
        note: Callable[[str], None],
    ) -> None:
        self.candidates, self.opts, self.predicate, self.note = candidates, opts, predicate, note
        self.built: dict[int, Built] = {}
        self.current: int | None = None  # the candidate whose slot is held
        self.excerpts: dict[int, str] = {}  # candidate -> the failure it was judged bad for

    def __call__(self, k: int) -> Outcome:
        if k not in self.built or (self.current != k and self._needs_boot(self.built[k])):
            self._release()
            self._first_run(k)
            return self._judge(k, self.built[k].first)
        known = self.built[k]
        if not self._needs_boot(known):  # make gives the same answer again: no rebuild
            return self._judge(k, known.first)
        return self._judge(k, self._boot_again(k, known))

    def _judge(self, k: int, seen: Observation) -> Outcome:
        outcome = self.predicate.judge(seen)
        if outcome.kind is Kind.BAD:
            found = [f.excerpt for f in seen.failures if f.signature == outcome.signature]
            self.excerpts[k] = found[0] if found else ""
        return outcome

    def _needs_boot(self, known: Built) -> bool:
        return known.booted and not self.predicate.build_only

    def _first_run(self, k: int) -> None:
        series = self.candidates.series_of(k)
        opts = dataclasses.replace(self.opts, out=self.opts.out / "steps", partial=True)
        self.note(f"candidate {self.candidates.label(k)}: apply, build, boot")
        prepared = pipeline.apply_stage(series, opts)
        self.current = k
        # `harness test`'s configure/build/boot, in the slot the apply stage took; the slot
        # stays held for the candidate's repeats.
        # A build failure is bisected: what the boot does cannot change the answer.
        boot = not self.predicate.build_only
        plan = pipeline.build_and_boot(series, opts, prepared, boot=boot)
        suites = prepared.run.suites
        build_case = next((c for c in suites if c.name == "build"), None)
        bdir = self._build_dir(series, opts, prepared, plan)
        built = bdir is not None and build_case is not None and not build_case.status.is_bad
        sha = vmlinux_sha(bdir) if built and bdir else ""
        self.built[k] = Built(prepared, plan, observe(suites), build_case, sha)

    def _boot_again(self, k: int, known: Built) -> Observation:
        series = self.candidates.series_of(k)
        assert known.plan is not None
        known.runs += 1
        run = RunDir.create(known.prepared.run.path, f"repeat-{known.runs}", self.opts.argv)
        known.repeat_dirs.append(run.path)
        bdir = self._build_dir(series, self.opts, known.prepared, known.plan)
        assert bdir is not None
        build = make.BuildSpec(
            known.prepared.worktree.path, bdir, self.opts.jobs, owner=known.prepared.owner
        )
        self.note(f"candidate {self.candidates.label(k)}: boot {known.runs}")
        pipeline.boot_again(series, self.opts, run, build, make_kernel(bdir), known.plan)
        return observe(run.suites)

    def _build_dir(
        self,
        series: Series,
        opts: pipeline.TestOptions,
        prepared: pipeline.Prepared,
        plan: series_tests.Plan | None,
    ) -> Path | None:
        if plan is None:
            return None
        fragments = pipeline.fragments_for(series, opts, plan.fragment)
        return prepared.slot.build_dir(build_key(fragments, prepared.owner))

    def _release(self) -> None:
        if self.current is not None and self.current in self.built:
            self.built[self.current].prepared.slot.release()
        self.current = None

    def close(self) -> None:
        self._release()


def make_kernel(bdir: Path) -> Path:
    return bdir / "arch/x86/boot/bzImage"


def vmlinux_sha(bdir: Path) -> str:
    """The built vmlinux's digest: a culprit whose vmlinux equals its parent's changed
    nothing the kernel runs (the failure came from elsewhere)."""
    vmlinux = bdir / "vmlinux"
    if not vmlinux.exists():
        return ""
    digest = hashlib.sha256()
    with vmlinux.open("rb") as image:
        for block in iter(lambda: image.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
