"""The `harness check` pipeline: review a series patch by patch, like a maintainer's bots.

Input: a Series and CheckOptions. Output: a RunDir with one suite per patch ("0001 subject")
holding the cases apply, build, warnings (new W=1 warnings), checkpatch, uapi, kconfig and
hygiene, and a "base" suite (config + base build). checkpatch checks every patch on the
base tree, before the first patch is applied: a checker's verdict must not come from the
series it checks (a patched checkpatch.pl never runs; see review/harness_scripts.py).
Files: junit.xml, results.json, review.eml, review.md, config, and apply/build/warnings/
checkpatch logs in the run dir.
Every patch is built incrementally in ONE build dir, so a patch that breaks the build is
named; the base is built only once a patch applies. After a conflict the later patches are
neither applied nor built (SKIP), but the static checks still run on them.
Raises UserError/EnvError only for bad input or a missing tool.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness import proc
from harness.build import ccache, compiler_warnings, kconfig, kept, make, matrix, prime
from harness.build.kernel import Kernel, KernelRequest, build_kernel, configure_kernel
from harness.cases import Case, Status
from harness.errors import interrupt_message
from harness.intake import mail
from harness.intake.series import Patch, Series, load
from harness.proc import note
from harness.readfiles import copy_untrusted
from harness.results.rundir import RunDir, terminal_summary
from harness.review import (
    check_api,
    check_hygiene,
    check_kconfig,
    check_kconfig_features,
    check_uapi,
    checkpatch,
    harness_scripts,
    report,
)
from harness.review.checker_findings import Finding, findings_case
from harness.tree import slots, worktree
from harness.tree.worktree import DEFAULT_BASE


@dataclass(frozen=True)
class CheckOptions:
    argv: list[str]
    out: Path
    cache: Path
    base: str = ""  # --base; '' means series.yaml's, else DEFAULT_BASE
    tree: Path | None = None
    kconfig: tuple[str, ...] = ()
    jobs: int = 2
    matrix: tuple[str, ...] = ()  # --matrix; () means series.yaml's, else matrix.DEFAULT


def matrix_of(series: Series, opts: CheckOptions) -> tuple[str, ...]:
    """The build matrix: --matrix, else series.yaml's `matrix`, else the robots' whole one."""
    if opts.matrix:
        return opts.matrix
    if series.config.matrix:
        return matrix.parse(",".join(series.config.matrix))
    return matrix.DEFAULT


@dataclass(frozen=True)
class BasePlan:
    """How to configure and build the base; done once the first patch applies."""

    fragments: tuple[Path, ...]
    spec: make.BuildSpec
    # The slot whose shared ccache is primed from the base before the first build (None: not).
    primes: slots.Slot | None = None
    kernel: bool = True  # the kernel build is in the matrix


@dataclass
class PatchLoop:
    """What the per-patch loop carries from one patch to the next."""

    run: RunDir
    wt: worktree.Worktree
    spec: make.BuildSpec | None = None  # None: nothing can be built (reason in no_build)
    no_build: str = ""
    conflict: str = ""  # set once a patch did not apply
    base: BasePlan | None = None  # the base build still to do
    fragments: tuple[Path, ...] = ()  # re-merged after a patch that touches Kconfig
    series_text: tuple[str, ...] = ()  # every patch: a declaration may come in another one
    dropped: tuple[str, ...] = ()  # requested options the latest configure dropped
    checkpatch: dict[int, Case] = field(default_factory=dict)  # per patch, run on the base
    matrix: matrix.Matrix | None = None  # the robots' cells, prepared with the base build


def check_series(series: Series, opts: CheckOptions) -> RunDir:
    spec = worktree.resolve(
        opts.base or DEFAULT_BASE, opts.tree, series, opts.cache, explicit=bool(opts.base)
    )
    run = RunDir.create(opts.out, series.name, opts.argv)
    run.meta.update(kind="check", **series_meta(series), base=spec.label)
    cells = matrix_of(series, opts)
    run.meta.update(compiler=compiler_version(), jobs=opts.jobs, matrix=list(cells))
    if spec.note:
        note(spec.note)
        run.meta["base_note"] = spec.note
    # The slot whose build dir already holds this config, if one is free: else the base
    # build is a cold one beside a warm one.
    key = ccache.build_key(fragments_of(series, opts), ccache.owner_of(series))
    slot = slots.take(opts.cache, worktree.slot_name(spec), key)
    try:
        wt = worktree.prepare_worktree(spec, slot.worktree, run.file("apply.log"))
        run.meta["base_commit"] = wt.base_rev
        plan = plan_base(series, opts, run, wt, slot)
        kernel = matrix.KERNEL in cells
        primes = slot if kernel and prime.pays_off(series) else None
        plan = replace(plan, primes=primes, kernel=kernel)
        loop = PatchLoop(run, wt, no_build="no patch applied", base=plan, fragments=plan.fragments)
        loop.series_text = tuple(mail_text(p) for p in series.patches)
        if set(cells) - {matrix.KERNEL}:
            adds = tuple(matrix.added_options(loop.series_text))
            owner = ccache.owner_of(series)
            loop.matrix = matrix.Matrix(cells, slot, owner, opts.jobs, run.path, adds)
        loop.checkpatch = checkpatch_on_base(series, wt.path, run.file("checkpatch.log"))
        for index, patch in enumerate(series.patches):
            note(f"checking {worktree.patch_case_name(patch)}")
            run.add(patch_suite(patch, loop, loop.checkpatch.get(index)))
        if loop.dropped:
            run.add(dropped_case(loop.dropped))
        if loop.base is not None:
            run.suites.insert(0, Case("base", Status.SKIP, "not built: no patch applied"))
            run.flush()
    except KeyboardInterrupt as err:
        run.add(Case("interrupted", Status.ERROR, interrupt_message(err)))
        raise
    finally:
        slot.release()
    for path in report.write(run.path):
        note(f"review: {path}")
    return run


def series_meta(series: Series) -> dict[str, object]:
    first = series.cover or series.patches[0]
    return {
        "series": series.name,
        "subject": series.subject,
        "message_id": series.message_id,
        "author": first.author,
        "patches": len(series.patches),
        "patch_message_ids": [p.message_id for p in series.patches],  # harness publish
    }


def compiler_version() -> str:
    result = proc.run(["gcc", "--version"], timeout=30)
    return result.output.splitlines()[0].strip() if result.ok and result.output else "gcc"


def fragments_of(series: Series, opts: CheckOptions) -> tuple[Path, ...]:
    """The base fragment, series.yaml's, then --kconfig's; UserError for a missing one."""
    names = [kconfig.BASE_FRAGMENT, *series.config.kconfig, *opts.kconfig]
    series_dir = series.path if series.path.is_dir() else None
    return tuple(kconfig.find_fragment(n, series_dir) for n in names)


def dropped_case(dropped: tuple[str, ...]) -> Case:
    """Requested options still dropped once the whole series is in: `harness test` fails
    on them, so `harness check` does too (a KASAN build that is not one checks nothing)."""
    names = ", ".join(dropped)
    message = f"{len(dropped)} requested option(s) dropped by olddefconfig with the series: {names}"
    return Case("kconfig", Status.FAIL, message)


def plan_base(
    series: Series, opts: CheckOptions, run: RunDir, wt: worktree.Worktree, slot: slots.Slot
) -> BasePlan:
    fragments = fragments_of(series, opts)
    run.meta["config"] = [f.name for f in fragments]
    owner = ccache.owner_of(series)
    bdir = slot.build_dir(ccache.build_key(fragments, owner))
    return BasePlan(fragments, make.BuildSpec(wt.path, bdir, opts.jobs, owner=owner))


def build_base(plan: BasePlan, loop: PatchLoop) -> None:
    """Configure and build the base once: the per-patch builds are then incremental."""
    run, bdir = loop.run, plan.spec.build
    fragments, base_rev = list(plan.fragments), loop.wt.base_rev
    if not plan.kernel:
        loop.base = None
        loop.no_build = "the kernel build is not in the matrix"
        return
    slot = plan.primes
    if slot is not None and prime.needed_at(slot, fragments, base_rev):
        # The worktree is at the base here: the prime builds it first.
        primed = prime.prime(slot, base_rev, fragments, plan.spec.jobs, run.file("build.log"))
        if primed is not None:
            run.meta["prime"] = primed.message
    note(f"configuring and building the base in {bdir} (log: {run.file('build.log')})")
    request = _kernel_request(plan.spec, plan.fragments, run.file("build.log"))
    config_case = configure_kernel(request)
    copy_untrusted(bdir / ".config", run.file("config"))
    if config_case.status is Status.FAIL:
        # Options the series itself adds (CONFIG_GMEM) cannot exist on the base yet;
        # they are merged again after each patch that touches a Kconfig file, and any
        # still dropped after the last patch fail the run (dropped_case).
        loop.dropped = config_case.dropped
        config_case.own = Status.PASS
        config_case.message = f"base: {config_case.message} (the series may add them)"
    base = Case("base", children=[config_case])
    loop.base = None
    if config_case.status.is_bad:
        run.add(_finish(base))
        loop.no_build = "the base config failed"
        return
    built = _made(build_kernel(request), loop)
    base.children.append(built.case)
    run.add(_finish(base))
    if built.kernel is None:
        loop.no_build = "the base does not build"
        return
    loop.spec = plan.spec


Compiled = dict[str, compiler_warnings.ObjectBuild]  # per matrix cell


def _base_under(
    patch: Patch, plan: BasePlan, loop: PatchLoop
) -> tuple[compiler_warnings.ObjectBuild, Compiled, list[matrix.Cell]]:
    """The first patch that applies triggers the base build and the matrix's prepared
    cells, on its parent commit, so a series that does not apply costs no build at all.
    Returns the patch's objects built there, in today's config and in the matrix's cells
    (planned once the cells are prepared: an option-off cell needs the prepared config)."""
    log = loop.run.file("apply.log")
    head = worktree.git(loop.wt.path, "rev-parse", "HEAD").output.strip()
    worktree.git(loop.wt.path, "checkout", "-q", "HEAD~1", log=log)
    try:
        build_base(plan, loop)
        if loop.matrix is not None:
            note(f"the build matrix: {', '.join(loop.matrix.names)} (log: {loop.matrix.log})")
            loop.matrix.prepare(loop.wt.base_rev)
        cells = loop.matrix.planned(mail_text(patch)) if loop.matrix is not None else []
        return _objects(patch, loop), _in_matrix(patch, loop, cells), cells
    finally:
        worktree.git(loop.wt.path, "checkout", "-q", head, log=log)


def _in_matrix(patch: Patch, loop: PatchLoop, cells: list[matrix.Cell]) -> Compiled:
    """The patch's touched objects in the matrix's cells, in the tree as it is now."""
    if loop.matrix is None or loop.base is not None:  # not prepared yet
        return {}
    objects = matrix.objects_for(patch.files, loop.wt.path)
    return loop.matrix.compile(loop.wt.path, objects, cells)


def checkpatch_on_base(series: Series, base: Path, log: Path) -> dict[int, Case]:
    """checkpatch on every patch while `base` holds the base tree: its scripts and data
    (checkpatch.pl, spelling.txt, the get_maintainer.pl and spdxcheck.py it runs) are the
    base's, so patch 1 cannot change how patch 2 is judged (a patched checkpatch.pl that
    prints 'total: 0 errors' would pass the rest of the series)."""
    note(f"checkpatch: {len(series.patches)} patch(es), with the base tree's scripts")
    return {
        index: checkpatch.check(base, mail_text(patch).encode(), log)
        for index, patch in enumerate(series.patches)
    }


def patch_suite(patch: Patch, loop: PatchLoop, on_base: Case | None = None) -> Case:
    """All checks of one patch. Static checks see the tree as it is before the patch;
    `on_base`: its checkpatch case, made on the base tree (checkpatch_on_base)."""
    log = loop.run.file("checkpatch.log")
    static = static_cases(patch, loop.wt.path, log, loop.series_text, on_base)
    later = ("build", "warnings", *(("matrix",) if loop.matrix is not None else ()))
    if loop.conflict:
        applied = [Case(n, Status.SKIP, loop.conflict) for n in ("apply", *later)]
        return _suite(patch, [*applied, *static])
    cells = loop.matrix.planned(mail_text(patch)) if loop.matrix is not None else []
    before, in_cells = _objects(patch, loop), _in_matrix(patch, loop, cells)
    apply = worktree.apply_patch(loop.wt, patch, loop.run.file("apply.log"))
    apply.name = "apply"
    if apply.status is Status.FAIL:
        loop.conflict = f"patch {patch.number} did not apply"
        return _suite(
            patch, [apply, *[Case(n, Status.SKIP, "patch did not apply") for n in later], *static]
        )
    if loop.base is not None:
        before, in_cells, cells = _base_under(patch, loop.base, loop)
    built = _build(patch, loop)
    if loop.spec is None:
        new = Case("warnings", Status.SKIP, loop.no_build)
    else:
        new = compiler_warnings.warnings_case(before, _objects(patch, loop))
    cases = [apply, built, new]
    if loop.matrix is not None:
        if any(Path(f).name.startswith("Kconfig") for f in patch.files):
            loop.matrix.reconfigure(loop.wt.path)
        cases.append(loop.matrix.case(cells, in_cells, _in_matrix(patch, loop, cells)))
    return _suite(patch, [*cases, *static])


def _build(patch: Patch, loop: PatchLoop) -> Case:
    if loop.spec is None:
        return Case("build", Status.SKIP, loop.no_build)
    log = loop.run.file("build.log")
    request = _kernel_request(loop.spec, loop.fragments, log)
    kept.take(request.build, request.tree)
    config = ""
    if loop.fragments and any(Path(f).name.startswith("Kconfig") for f in patch.files):
        merged = kconfig.configure(loop.spec.src, loop.spec.build, list(loop.fragments), log)
        if merged.status is Status.ERROR:
            return Case("build", Status.ERROR, merged.message, merged.details)
        config = merged.message
        loop.dropped = merged.dropped
    note(f"building after patch {patch.number} (make -j{loop.spec.jobs})")
    result = _made(build_kernel(request), loop)
    if config:
        result.case.properties["config"] = config
    return result.case


def _kernel_request(spec: make.BuildSpec, fragments: tuple[Path, ...], log: Path) -> KernelRequest:
    """Each build of the loop kept by its tree: a bisection of the series, or the next
    check of it, takes the base's and every prefix's build instead of making it again."""
    tree = worktree.tree_id(spec.src)
    src, build = spec.src, spec.build
    return KernelRequest(src, build, fragments, spec.jobs, spec.owner, log, tree=tree, keep=True)


def _made(made: Kernel, loop: PatchLoop) -> make.BuildResult:
    """The build's result; a build that rewrote the worktree's .git ends the loop (no git
    runs in that worktree again)."""
    if made.tampered is None:
        return made.built
    loop.conflict = made.tampered.message
    loop.spec = None
    loop.no_build = made.tampered.message
    made.tampered.name = "build"
    return make.BuildResult(made.tampered, None)


def _objects(patch: Patch, loop: PatchLoop) -> compiler_warnings.ObjectBuild:
    if loop.spec is None:
        return compiler_warnings.ObjectBuild()
    objects = compiler_warnings.touched_objects(patch.files)
    return compiler_warnings.build_objects(loop.spec, objects, loop.run.file("warnings.log"))


def mail_text(patch: Patch) -> str:
    """What the static checks read: the mail decoded (base64, quoted-printable, charset),
    so an encoded patch gets the findings its 8bit twin gets, not none."""
    return mail.decoded_text(patch.mail)


def static_cases(
    patch: Patch,
    src: Path,
    log: Path,
    series_text: tuple[str, ...] = (),
    checkpatch_case: Case | None = None,
) -> list[Case]:
    """checkpatch and the harness's own checkers; none needs the patch applied.
    `series_text` (every patch's mail) lets a check see what another patch declares;
    `checkpatch_case`: checkpatch's result made elsewhere (on the base), else run on `src`."""
    text = mail_text(patch)

    def kconfig_findings() -> list[Finding]:
        found = check_kconfig.check_patch(text, src)
        return found + check_kconfig_features.check_patch(text, src, series_text)

    def hygiene_findings() -> list[Finding]:
        return check_hygiene.check_patch(text, src) + harness_scripts.findings(patch.files)

    return [
        checkpatch_case or checkpatch.check(src, text.encode(), log),
        guarded(check_uapi.CHECK, lambda: check_uapi.check_patch(text, src)),
        guarded(check_api.CHECK, lambda: check_api.check_patch(text, src, series_text)),
        guarded(check_kconfig.CHECK, kconfig_findings),
        guarded(check_hygiene.CHECK, hygiene_findings),
    ]


def guarded(check: str, findings: Callable[[], Sequence[Finding]]) -> Case:
    """One checker's Case. A checker that raises is an ERROR naming the exception: a bug
    in a checker must never read as a patch that passed it."""
    try:
        return findings_case(check, findings())
    except Exception as err:  # any checker bug, whatever its type, ends as a result
        message = f"{check} check crashed: {type(err).__name__}: {err}"
        return Case(check, Status.ERROR, message[:300], details=traceback.format_exc()[-4000:])


def _suite(patch: Patch, children: list[Case]) -> Case:
    props = {"subject": patch.subject, "message_id": patch.message_id}
    return _finish(Case(worktree.patch_case_name(patch), children=children, properties=props))


def _finish(suite: Case) -> Case:
    return suite


def check_command(path: Path, opts: CheckOptions) -> int:
    """`harness check`: every series under `path`; 1 when any check failed."""
    failed = False
    all_series = load(path)  # every series is validated before any tree is touched
    proc.require(proc.BUILD_TOOLS)
    for one in all_series:  # a --kconfig or --matrix that cannot run: before any run dir
        fragments_of(one, opts)
        matrix.require(matrix_of(one, opts))
    for one in all_series:
        run = check_series(one, opts)
        print(f"\n{one.name}: {one.subject}")
        terminal_summary(run)
        failed = failed or run.failed
    return 1 if failed else 0
