"""Perf mode's oracle: candidate k (the first k patches) built and booted with `harness
compare`'s own sides and boots, judged by bisection/perf.py against the good end's pool.

Input: the Series, the BisectRequest and a PerfSpec. Output: one search Outcome per call
(a whole step: its boots and the verdict). Files: RUN/steps/kK/ holds each candidate's
compare side (apply.log, build.log, config, bzImage, bench/), its boots
(boots/NN-A|B.{sh,console.log,out}) and boots.jsonl (every boot's raw samples, the moment
it ends; RUN/steps/k0/boots.jsonl is the good end's pool, read back on --resume).
One slot (worktree + build dir) is held for the whole bisection: every candidate is built
in the same build dir, one after the other (neighbouring prefixes rebuild incrementally),
and its kernel is copied out, so the good end boots again while another is built.
Errors: UserError when the series does not apply; NothingToBisect when an end does not
build or the bad end is not worse; EnvError from the stages (missing tool).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.bisection import perf
from harness.bisection.candidates import Candidates, vmlinux_sha
from harness.bisection.request import BisectRequest
from harness.bisection.search import Kind, NothingToBisect, Outcome
from harness.bisection.signature import INFRA_REASONS, build_signature
from harness.boot import kvm
from harness.build import ccache
from harness.compare import boots as compare_boots
from harness.compare import sides
from harness.compare.model import BootSample, Side
from harness.compare.request import BOOT_TIMEOUT, GUEST_CPUS, GUEST_MEMORY, CompareRequest, Timing
from harness.intake.series import Series

POOL = 0  # the good end: candidate 0


@dataclass
class PerfBuilt:
    side: sides.BuiltSide
    vmlinux_sha: str
    boots: int = 0  # boots of this candidate so far (its boots/NN index)


class PerfOracle:
    def __init__(
        self,
        series: Series,
        candidates: Candidates,
        request: BisectRequest,
        steps_dir: Path,
        spec: perf.PerfSpec,
        note: Callable[[str], None],
    ) -> None:
        self.series, self.candidates, self.spec, self.note = series, candidates, spec, note
        self.steps_dir = steps_dir
        self.compare = compare_request(series, request, spec)
        self.workspace: sides.Workspace | None = None
        self.built: dict[int, PerfBuilt] = {}
        self.pool: list[BootSample] = _load_pool(steps_dir / "k0" / "boots.jsonl")
        self.excerpts: dict[int, str] = {}
        self.boots = 0  # every boot of this process, both sides
        self.plan: compare_boots.BootPlan | None = None

    def __call__(self, k: int) -> Outcome:
        end = k == self.candidates.count
        if k == POOL:  # the reference itself: its boots are the pool
            self._ensure_pool()
            # The reference itself is good by definition: no error to state.
            return Outcome(Kind.GOOD, error=0.0, detail=self._pool_detail(), exact=True)
        try:
            candidate = self._build(k)
        except sides.SideFailed as failed:
            signature = _failure_signature(failed)
            if end:
                raise NothingToBisect(f"the bad end does not build: {signature}") from None
            return Outcome(Kind.SKIP, signature)
        self._ensure_good_built()
        pool_was_empty = not self.pool
        measured = perf.measure(
            lambda: self._boot(k, candidate, Side.B),
            lambda: self._boot(POOL, self.built[POOL], Side.A),
            self.pool,
            self.spec,
            end=end and pool_was_empty,
        )
        outcome = perf.outcome_of(measured, self.spec, end, lambda r: bool(INFRA_REASONS.match(r)))
        if outcome.kind is Kind.BAD:
            self.excerpts[k] = outcome.detail
        self.note(f"candidate {self.candidates.label(k)}: {outcome.detail}")
        return outcome

    def _ensure_pool(self) -> None:
        if self.pool:
            return
        self._ensure_good_built()
        for _ in range(self.spec.end_boots):
            self.pool.append(self._boot(POOL, self.built[POOL], Side.A))

    def _pool_detail(self) -> str:
        values = [
            s.metrics[self.spec.metric].value for s in self.pool if self.spec.metric in s.metrics
        ]
        if not values:
            return f"the reference: {len(self.pool)} boots, none printed {self.spec.metric}"
        values.sort()
        return f"the reference: n={len(values)}, median {values[len(values) // 2]:.6g} so far"

    def _ensure_good_built(self) -> None:
        if POOL in self.built:
            return
        try:
            self._build(POOL)
        except sides.SideFailed as failed:
            raise NothingToBisect(
                f"the good end does not build, cannot start: {_failure_signature(failed)}"
            ) from None

    def _workspace(self) -> sides.Workspace:
        if self.workspace is None:
            self.workspace = sides.open_workspace(self.compare)
            # compare's build_side does not look at the apply: a series that does not apply
            # is bad input, said before a build (when all of it applies, every prefix does).
            whole = sides.SideSpec(Side.B, self.series, self.series.name, "")
            self.steps_dir.mkdir(parents=True, exist_ok=True)
            sides.check_applies(self.workspace, [whole], self.steps_dir)
        return self.workspace

    def _build(self, k: int) -> PerfBuilt:
        if k in self.built:
            return self.built[k]
        ws = self._workspace()
        series = self.candidates.series_of(k) if k else None
        owner = ccache.owner_of(self.series)
        which = Side.A if k == POOL else Side.B
        spec = sides.SideSpec(which, series, self.candidates.label(k), owner)
        self.note(f"candidate {self.candidates.label(k)}: apply, build, bench suite")
        side = sides.build_side(ws, spec, self.compare, self.steps_dir / f"k{k}", self.note)
        bdir = ws.slot.build_dir(ccache.build_key(ws.fragments, owner))
        self.built[k] = PerfBuilt(side, vmlinux_sha(bdir))
        if k == POOL:  # --resume: the pool's boots/NN files go on after the recorded ones
            self.built[k].boots = len(self.pool)
        return self.built[k]

    def _boot_plan(self) -> compare_boots.BootPlan:
        if self.plan is None:
            r = self.compare
            use_kvm = kvm.verdict(r.cache).usable and not r.no_kvm
            self.plan = compare_boots.BootPlan(
                boots=0,
                benches=r.benches,
                timing=Timing.WALL if use_kvm else Timing.ICOUNT,
                kvm=use_kvm,
                reps=r.reps,
                warmup=r.warmup,
                cpus=r.cpus,
                memory=r.memory,
                timeout=r.timeout,
                cmdline=self.series.config.cmdline,
            )
        return self.plan

    def _boot(self, k: int, built: PerfBuilt, label: Side) -> BootSample:
        where = self.steps_dir / f"k{k}"
        index = built.boots
        built.boots += 1
        self.boots += 1
        self.note(f"boot {self.boots}: {self.candidates.label(k)} #{index}")
        sample, _ = compare_boots.boot_once(self._boot_plan(), built.side, label, index, where)
        where.mkdir(parents=True, exist_ok=True)
        compare_boots.append_jsonl(where / "boots.jsonl", sample)
        return sample

    def close(self) -> None:
        if self.workspace is not None:
            self.workspace.slot.release()
            self.workspace = None


def compare_request(series: Series, request: BisectRequest, spec: perf.PerfSpec) -> CompareRequest:
    """What compare's sides and boots need, from the bisection's request."""
    return CompareRequest(
        series=series,
        against=None,
        aa=False,
        benches=(spec.bench,),
        boots=0,
        timing=None,
        threshold=spec.threshold,
        reps=request.reps,
        warmup=request.warmup,
        cpus=GUEST_CPUS,
        memory=GUEST_MEMORY,
        timeout=request.timeout or BOOT_TIMEOUT,
        no_kvm=False,
        out=request.out,
        cache=request.cache,
        base=request.base,
        tree=request.tree,
        kconfig=request.kconfig,
        jobs=request.jobs,
        argv=request.argv,
    )


def _failure_signature(failed: sides.SideFailed) -> str:
    case = failed.case
    if case.name.endswith(": build"):
        return build_signature(case.message)
    return f"{case.name}: {case.message}"


def _load_pool(path: Path) -> list[BootSample]:
    """The good end's boots a run before this one recorded (--resume)."""
    if not path.exists():
        return []
    return [dataclasses.replace(s, side=Side.A) for s in compare_boots.load_jsonl(path)]
