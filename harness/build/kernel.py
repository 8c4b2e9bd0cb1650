"""One kernel from a worktree and a config: the build stage test, bisect and compare share.

configure_kernel() puts a build dir kept from the same tree in place (build/kept.py), then
merges the fragments into its .config. build_kernel() gives back the build this dir
already holds for this tree (build/unchanged.py, when the worktree was checked clean this
run), or runs make with the unchanged files' mtimes put back (tree/mtimes.py), so make
recompiles only what the tree changed since this dir's last build. A build that rewrote
the worktree's .git is a finding, and git is not run in that worktree again (no mtimes
are saved).

Input: a KernelRequest. Output: a ConfigCase, then a Kernel. Raises nothing of its own:
a config or build that fails is a Case.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness import git
from harness.build import kconfig, kconfig_deps, kept, make, unchanged
from harness.build.kconfig import ConfigCase
from harness.cases import Case, Status
from harness.proc import note
from harness.tree import mtimes


@dataclass(frozen=True)
class KernelRequest:
    src: Path  # the worktree, read-only to the build
    build: Path  # the build dir (tree/slots.py: one per slot, config and owner)
    fragments: tuple[Path, ...]
    jobs: int
    owner: str  # whose build and ccache (build/ccache.py)
    log: Path
    # The worktree was checked clean this run (tree/reuse.clean): an unchanged build dir
    # may be taken as it is, without make.
    checked_clean: bool = False
    # The git tree the worktree holds ('' when not known): a build dir kept from that tree
    # is taken (build/kept.py), and with `keep` this build is kept for later ones.
    tree: str = ""
    keep: bool = False

    @property
    def spec(self) -> make.BuildSpec:
        return make.BuildSpec(self.src, self.build, self.jobs, owner=self.owner)


@dataclass
class Kernel:
    built: make.BuildResult
    tampered: Case | None = None  # the build rewrote the worktree's .git

    @property
    def image(self) -> Path | None:
        """The bootable kernel, when the build passed and left git's worktree intact."""
        return None if self.tampered is not None else self.built.kernel


def configure_kernel(request: KernelRequest) -> ConfigCase:
    """The build dir kept from this tree in place, if one is, then the fragments merged."""
    kept.take(request.build, request.tree)
    return kconfig.configure(request.src, request.build, list(request.fragments), request.log)


def allow_options_the_series_adds(
    case: ConfigCase, base_tree: Path, where: str = "base: not defined before the series"
) -> None:
    """On the base, or on a prefix of the series, an option no Kconfig defines yet
    (CONFIG_GMEM from series.yaml's fragment) cannot survive olddefconfig: that is
    expected, not a config failure. An option the tree defines that still drops is."""
    if case.status is not Status.FAIL:
        return
    dropped = list(case.dropped)
    missing = [n for n in dropped if not kconfig_deps.defined(base_tree, n.removeprefix("CONFIG_"))]
    if dropped and missing == dropped:
        case.own = Status.PASS
        case.message = f"{where}: {', '.join(missing)}"


def build_kernel(request: KernelRequest) -> Kernel:
    """After a configure_kernel() that passed: the dir's build as it is, or make."""
    spec = request.spec
    # The dir already holds this tree's build (taken from the kept ones, or the last one
    # made here): make only checks it. Said in the build's Case, so reuse shows in results.
    held = bool(request.tree) and kept.held(request.build) == request.tree
    restored = mtimes.restore(request.src, request.build, request.checked_clean)
    built = unchanged.unchanged(spec, checked_clean=request.checked_clean)
    if built is not None:
        note(f"not building: {built.case.message}")
    else:
        note(
            f"building (make -j{request.jobs}, {restored} unchanged files keep their mtimes; "
            f"log: {request.log})"
        )
        unchanged.forget(spec)
        kept.forget(request.build)
        built = make.build(spec, request.log)
        if held:
            built.case.properties["tree_held"] = request.tree[:12]
            built.case.message += f" (over the build of this tree, {request.tree[:12]})"
    tampered = rewrote_git(request.src)
    if tampered is None:
        mtimes.save(request.src, request.build)
        unchanged.remember(spec, built)
        if request.tree and built.kernel is not None:
            (kept.keep if request.keep else kept.hold)(request.build, request.tree)
    return Kernel(built, tampered)


def rewrote_git(src: Path) -> Case | None:
    """A finding when the tree's code (kconfig, make) rewrote the worktree's .git: git is
    not run there again, and the next run makes the worktree anew."""
    try:
        git.check_worktree(src)
    except git.WorktreeTampered as err:
        return Case("worktree", Status.FAIL, f"the series' code rewrote .git: {err.why}")
    return None
