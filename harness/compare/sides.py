"""The two kernels of a comparison: each side applied, configured, built, and its
benchmark suite built against it.

Input: a CompareRequest and the slot's worktree. Output: a BuiltSide per side, its kernel
copied into RUN/<side>/ (the build dir is shared with `harness test` and may be rebuilt
by a later run). Files: RUN/<side>/{apply.log,build.log,config,bzImage,bench/}.
Errors: UserError when a series does not apply (checked before anything is built).
A kernel that fails to configure or build is a result (SideFailed carries its Case).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..build import ccache, prime
from ..build.kernel import (
    KernelRequest,
    allow_options_the_series_adds,
    build_kernel,
    configure_kernel,
)
from ..cases import Case, Status
from ..errors import EnvError, UserError
from ..intake.series import Series
from ..pipeline import TestOptions, fragments_for
from ..readfiles import copy_untrusted
from ..suites import guest
from ..tree import slots, worktree
from .model import Side
from .request import BENCH_SUITE, CompareRequest


@dataclass(frozen=True)
class SideSpec:
    """What one side is: the base plus, maybe, a series; and where its build dir lives."""

    side: Side
    series: Series | None  # None: the bare base
    label: str
    owner: str  # whose build dir and ccache it uses (build/ccache.py): the base has its own


@dataclass(frozen=True)
class BuiltSide:
    spec: SideSpec
    kernel: Path
    bench: guest.BuiltSuite
    commit: str
    seconds: float
    config: Path | None = None  # the kernel's .config, as built


class SideFailed(Exception):
    """The side's kernel or benchmarks did not build: a result, not a harness error."""

    def __init__(self, case: Case) -> None:
        super().__init__(case.message)
        self.case = case


@dataclass
class Workspace:
    """The slot (worktree + build dirs) both sides are built in, one after the other."""

    tree: worktree.TreeSpec
    slot: slots.Slot
    fragments: list[Path]


def side_specs(request: CompareRequest) -> list[SideSpec]:
    """B is the series on the base, built first; A the bare base or `--against`. Under
    --aa only the base is built, and both sides boot it."""
    if request.aa:  # one kernel, booted as both sides
        return [SideSpec(Side.A, None, "base", ccache.TRUSTED)]
    b = SideSpec(Side.B, request.series, request.series.name, ccache.owner_of(request.series))
    if request.against is not None:
        against = request.against
        return [b, SideSpec(Side.A, against, against.name, ccache.owner_of(against))]
    return [b, SideSpec(Side.A, None, "base", ccache.TRUSTED)]


def open_workspace(request: CompareRequest) -> Workspace:
    opts = _test_options(request)
    spec = worktree.resolve(
        request.base or "debian:6.12",
        request.tree,
        request.series,
        request.cache,
        explicit=bool(request.base),
    )
    fragments = fragments_for(request.series, opts)
    key = ccache.build_key(fragments, ccache.owner_of(request.series))
    slot = slots.take(request.cache, worktree.slot_name(spec), key)
    return Workspace(spec, slot, fragments)


def check_applies(ws: Workspace, specs: list[SideSpec], logdir: Path) -> None:
    """Every series of the comparison applies to the base: bad input, said before a build."""
    for spec in specs:
        if spec.series is None:
            continue
        wt = worktree.prepare_worktree(ws.tree, ws.slot.worktree, logdir / "apply-check.log")
        applied = worktree.apply_series(wt, spec.series, logdir / "apply-check.log")
        if applied.status is not Status.PASS:
            bad = next(c for c in applied.children if c.status.is_bad)
            raise UserError(f"{spec.series.name} does not apply to {ws.tree.label}: {bad.name}")


def build_side(
    ws: Workspace,
    spec: SideSpec,
    request: CompareRequest,
    where: Path,
    note: Callable[[str], None],
) -> BuiltSide:
    """Worktree at the base, the side's series on it, the shared fragments, make, the bench
    suite against this tree (gmem_test.ko needs the patched headers), the kernel copied out."""
    where.mkdir(parents=True, exist_ok=True)
    log = where / "build.log"
    wt = worktree.prepare_worktree(ws.tree, ws.slot.worktree, where / "apply.log")
    series = spec.series if spec.owner != ccache.TRUSTED else None
    if series is not None and prime.needed(series, ws.slot, ws.fragments, wt.base_rev):
        primed = prime.prime(ws.slot, wt.base_rev, ws.fragments, request.jobs, log)
        if primed is not None:
            note(f"side {spec.side.value}: {primed.message}")
    if spec.series is not None:
        worktree.apply_series(wt, spec.series, where / "apply.log")
    bdir = ws.slot.build_dir(ccache.build_key(ws.fragments, spec.owner))
    tree = worktree.tree_id(wt.path)
    wanted = KernelRequest(
        wt.path, bdir, tuple(ws.fragments), request.jobs, spec.owner, log, tree=tree
    )
    note(f"side {spec.side.value} ({spec.label}): configuring in {bdir}")
    configured = configure_kernel(wanted)
    if spec.series is not request.series:  # options only the measured series defines
        allow_options_the_series_adds(configured, wt.path)
    if configured.status.is_bad:
        raise SideFailed(_named(configured, spec))
    config = where / "config"
    copy_untrusted(bdir / ".config", config)
    made = build_kernel(wanted)
    if made.tampered is not None:
        raise SideFailed(_named(made.tampered, spec))
    built = made.built
    if built.kernel is None:
        raise SideFailed(_named(built.case, spec))
    case, suite = guest.build_suite(BENCH_SUITE, where / BENCH_SUITE, bdir, wt.path, log)
    if suite is None:
        raise SideFailed(_named(case, spec))
    kernel = where / "bzImage"
    if not copy_untrusted(built.kernel, kernel):
        raise EnvError(f"{built.kernel}: not a regular file (the build dir was tampered with)")
    return BuiltSide(spec, kernel, suite, wt.base_rev, built.seconds, config)


def _named(case: Case, spec: SideSpec) -> Case:
    case.name = f"side {spec.side.value} ({spec.label}): {case.name}"
    return case


def _test_options(request: CompareRequest) -> TestOptions:
    return TestOptions(
        argv=list(request.argv), out=request.out, cache=request.cache, kconfig=request.kconfig
    )
