"""The `harness test` and `harness apply` pipelines: stage after stage, each result
recorded in the run directory the moment it exists.

Input: a Series and TestOptions. Output: a RunDir (junit.xml, results.json, ...).
Kernel failures end as Cases; only bad input/missing tools raise.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import shlex
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from harness import proc, progress
from harness.boot import kvm, pool, vm
from harness.boot.console_cases import incident_cases
from harness.boot.phases import Phases
from harness.build import ccache, kconfig, make, prime
from harness.build.kernel import (
    KernelRequest,
    allow_options_the_series_adds,
    build_kernel,
    configure_kernel,
)
from harness.cases import Case, Status
from harness.errors import EnvError, HarnessError, interrupt_message
from harness.intake.series import Series
from harness.proc import note
from harness.readfiles import copy_untrusted, read_or_empty
from harness.results import base_comparison
from harness.results.rundir import RunDir
from harness.suites import guest, series_tests, shard
from harness.suites.shard import WHOLE, Shard
from harness.tree import reuse, slots, worktree
from harness.tree.watch import TreeWatch, TreeWatches
from harness.tree.worktree import DEFAULT_BASE, PatchCase, TreeSpec, Worktree

DEFAULT_SUITES = ("smoke",)


@dataclass(frozen=True)
class TestOptions:
    argv: list[str]
    out: Path
    cache: Path
    base: str = ""  # --base; '' means series.yaml's base, else DEFAULT_BASE
    tree: Path | None = None
    kconfig: tuple[str, ...] = ()
    suites: tuple[str, ...] = ()
    jobs: int = 2
    boots: int = 1  # boots side by side (harness test --jobs); bisect and watch: one by one
    # The command line wins over series.yaml; 0 / "" means "not given on the command line".
    timeout: int = 0
    no_kvm: bool = False
    memory: str = ""
    cpus: int = 0
    apply_only: bool = False
    compare_base: bool = False  # run the same tests on the base tree too
    shard: Shard = WHOLE  # --shard K/N: this runner's slice of the boots (suites/shard.py)
    # `harness test --loop` (loop.py): what inotify saw of each worktree since the last run,
    # and the slots it holds between runs.
    tree_watches: TreeWatches | None = None
    slot_keeper: slots.Keeper | None = None
    # A point in the series' history (a bisection's candidate): options only a later
    # patch defines are expected to drop from its config.
    partial: bool = False


@dataclass
class Prepared:
    """What the apply stage leaves for the later stages."""

    run: RunDir
    slot: slots.Slot
    worktree: Worktree
    applied: bool
    # Whose build dir and ccache (build/ccache.py): the series', or the bare base's own
    # for --compare-base, which no series' build ever writes.
    owner: str = ""
    tree: TreeSpec | None = None  # the base it was applied to (build/prime.py)
    refreshed: bool = False  # reused as it was: git's index was refreshed by the check


def _prime(
    series: Series, prepared: Prepared, fragments: list[Path], opts: TestOptions
) -> Case | None:
    """The slot's worktree back at the bare base for the prime, then the series on it
    again (the same commits: git am with fixed dates)."""
    assert prepared.tree is not None
    log = prepared.run.file("apply.log")
    wt = worktree.prepare_worktree(prepared.tree, prepared.slot.worktree, log)
    try:
        return prime.prime(prepared.slot, wt.base_rev, fragments, opts.jobs, log)
    finally:
        applied = worktree.apply_series(wt, series, log)
        reuse.remember(wt.path, wt.base_rev, series, applied)


def fragments_for(series: Series, opts: TestOptions, discovered: Path | None = None) -> list[Path]:
    """The harness's base fragment, series.yaml's, the generated one for the tests the
    series brings, then the command line's: the user's `--kconfig` has the last word
    (e.g. a test as =m to reproduce a modular build the series' authors did not try)."""
    names = [kconfig.BASE_FRAGMENT, *series.config.kconfig]
    series_dir = series.path if series.path.is_dir() else None
    ours = [kconfig.find_fragment(n, series_dir) for n in names]
    users = [kconfig.find_fragment(n, series_dir) for n in opts.kconfig]
    return [*ours, *([discovered] if discovered else []), *users]


def apply_stage(series: Series, opts: TestOptions) -> Prepared:
    spec = worktree.resolve(
        opts.base or DEFAULT_BASE, opts.tree, series, opts.cache, explicit=bool(opts.base)
    )
    run = RunDir.create(opts.out, series.name, opts.argv)
    run.meta.update(
        series=series.name, subject=series.subject, message_id=series.message_id, base=spec.label
    )
    run.meta["patch_message_ids"] = [p.message_id for p in series.patches]  # harness publish
    if spec.note:
        note(spec.note)
        run.meta["base_note"] = spec.note
    owner = ccache.owner_of(series)
    key = ccache.build_key(fragments_for(series, opts), owner)
    take = opts.slot_keeper.take if opts.slot_keeper else slots.take
    slot = take(opts.cache, worktree.slot_name(spec), key)
    try:
        with run.clock.stage("apply"):
            watch = opts.tree_watches.get(slot.worktree) if opts.tree_watches else None
            wt, applied = _apply(spec, slot.worktree, series, run, watch)
    except (HarnessError, OSError) as err:  # git could not reset the worktree, a full disk
        slot.release()
        run.add(Case("apply", Status.ERROR, f"the worktree could not be made: {err}"))
        run.flush()
        raise
    run.meta["base_commit"] = wt.base_rev
    (run.file("apply-report.txt")).write_text(apply_report(applied))
    reused = "reused" in applied.properties
    return Prepared(run, slot, wt, applied.status is Status.PASS, owner, spec, refreshed=reused)


def _apply(
    spec: worktree.TreeSpec,
    where: Path,
    series: Series,
    run: RunDir,
    watch: TreeWatch | None = None,
) -> tuple[Worktree, Case]:
    """The series on the base in the slot's worktree: taken as it is when it already holds
    exactly that (tree/reuse.py), else reset to the base and applied patch by patch."""
    log = run.file("apply.log")
    rev = worktree.git(spec.repo, "rev-parse", f"{spec.rev}^{{commit}}")
    reused = reuse.reuse(where, rev.output.strip(), series, log, watch) if rev.ok else None
    if reused is not None:
        note(f"the worktree already holds these {len(series.patches)} patch(es) on {spec.label}")
        return Worktree(where, rev.output.strip()), run.add(reused)
    wt = worktree.prepare_worktree(spec, where, log)
    note(f"applying {len(series.patches)} patch(es) on {spec.label}")
    applied = run.add(worktree.apply_series(wt, series, log))
    reuse.remember(wt.path, wt.base_rev, series, applied)
    return wt, applied


def apply_report(suite: Case) -> str:
    lines = []
    for case in suite.children:
        lines.append(f"{case.status.value.upper():5} {case.name}: {case.message}")
        if isinstance(case, PatchCase):
            lines += [f"      {hunk.describe()}" for hunk in case.hunks]
    return "\n".join(lines) + "\n"


def wanted_suites(series: Series, opts: TestOptions) -> tuple[str, ...]:
    """--suite, else series.yaml's suites, else the default."""
    return opts.suites or series.config.suites or DEFAULT_SUITES


def check_request(series: Series, opts: TestOptions) -> None:
    """Every bad-input and missing-tool check of a run, before any side effect: a --suite
    typo or a --kconfig that names no fragment leaves no worktree, build or run dir."""
    proc.require(proc.APPLY_TOOLS if opts.apply_only else proc.BOOT_TOOLS)
    if not opts.apply_only:
        series_tests.select(wanted_suites(series, opts))
        fragments_for(series, opts)  # UserError for a fragment that is not there


def test_series(series: Series, opts: TestOptions) -> RunDir:
    check_request(series, opts)
    prepared = apply_stage(series, opts)
    try:
        if not opts.apply_only:
            plan = _after_apply(series, opts, prepared)
            if opts.compare_base and plan is not None:
                _compare_base(series, opts, prepared, plan)
    except KeyboardInterrupt as err:  # Ctrl-C, SIGTERM, SIGHUP (cli.main): children are reaped
        prepared.run.add(Case("interrupted", Status.ERROR, interrupt_message(err)))
        raise
    except OSError as err:  # disk full in the build dir, a file we cannot write: the machine
        why = f"{err.strerror or err}: {err.filename or ''}".rstrip(": ")
        prepared.run.add(Case("environment", Status.ERROR, why))
        raise EnvError(f"the run stopped: {why} (results so far: {prepared.run.path})") from err
    finally:
        prepared.slot.release()
        prepared.run.meta["stage_seconds"] = prepared.run.clock.with_remainder()
        prepared.run.flush()
    return prepared.run


def build_and_boot(
    series: Series, opts: TestOptions, prepared: Prepared, boot: bool = True
) -> series_tests.Plan | None:
    """`harness test` after the apply stage: configure, build, guest suites, boots (not
    with boot=False), each result in prepared.run. The slot stays held (the caller releases
    it): harness bisect boots the same kernel again with boot_again. Returns the test plan
    (None: the series did not apply)."""
    return _after_apply(series, opts, prepared, boot=boot)


def boot_again(
    series: Series,
    opts: TestOptions,
    run: RunDir,
    build: make.BuildSpec,
    kernel: Path,
    plan: series_tests.Plan,
) -> None:
    """The guest stage once more, into `run`, on a kernel build_and_boot built in `build`."""
    _guest_stage(series, opts, run, build, kernel, plan)


def _after_apply(
    series: Series,
    opts: TestOptions,
    prepared: Prepared,
    plan: series_tests.Plan | None = None,
    boot: bool = True,
) -> series_tests.Plan | None:
    run, src = prepared.run, prepared.worktree.path
    if not prepared.applied:
        run.add(Case("build", Status.SKIP, "series did not apply"))
        return None
    if plan is None:  # the tests the series brings, found in the patched tree
        wanted = wanted_suites(series, opts)
        base_fragments = tuple(fragments_for(series, opts))
        plan = series_tests.plan(series, wanted, src, run.path, note, base_fragments)
    fragments = fragments_for(series, opts, plan.fragment)
    bdir = prepared.slot.build_dir(ccache.build_key(fragments, prepared.owner))
    base = prepared.worktree.base_rev
    if prepared.owner != ccache.TRUSTED and prime.needed(series, prepared.slot, fragments, base):
        with run.clock.stage("prime"):
            primed = _prime(series, prepared, fragments, opts)
        if primed is not None:
            run.meta["prime"] = primed.message
    request = KernelRequest(
        src,
        bdir,
        tuple(fragments),
        opts.jobs,
        prepared.owner,
        run.file("build.log"),
        checked_clean=prepared.refreshed,
        tree=worktree.tree_id(src),
    )
    note(f"configuring in {bdir}")
    with run.clock.stage("kconfig"):
        config_case = configure_kernel(request)
    if prepared.owner == ccache.TRUSTED:  # the base tree of --compare-base
        allow_options_the_series_adds(config_case, src)
    elif opts.partial:
        later = "not defined at this point of the series (a later patch adds them)"
        allow_options_the_series_adds(config_case, src, later)
    run.add(config_case)
    copy_untrusted(bdir / ".config", run.file("config"))
    if config_case.status.is_bad:
        series_tests.explain_dropped(config_case, plan, src, bdir / ".config")
        run.flush()
        return plan
    with run.clock.stage("build"):
        built = build_kernel(request)
    if built.tampered is not None:
        run.add(built.tampered)
        run.flush()
        return plan
    run.add(built.built.case)
    run.write_reproducer(
        opts.argv,
        [
            f"git -C {src} log --oneline -{len(series.patches) + 1}",
            " ".join(make.make_argv(request.spec)),
        ],
    )
    if built.image is not None and boot:
        _guest_stage(series, opts, run, request.spec, built.image, plan)
    return plan


def _guest_stage(
    series: Series,
    opts: TestOptions,
    run: RunDir,
    build: make.BuildSpec,
    kernel: Path,
    plan: series_tests.Plan,
) -> None:
    """Build the guest suites against `build`'s tree and build dir, then boot `kernel`."""
    src, bdir = build.src, build.build
    log = run.file("guest-build.log")
    with run.clock.stage("guest-tests build"):
        builds = [guest.build_suite(n, run.file(f"guest/{n}"), bdir, src, log) for n in plan.guest]
        if plan.kselftests:
            builds.append(series_tests.build_kselftests(plan, src, bdir, run.file("guest"), log))
    built_suites = list(plan.prebuilt)
    for case, suite in builds:
        if case.status.is_bad:
            run.add(Case(case.name.removeprefix("build "), children=[case]))
        elif suite:
            built_suites.append(guest.only(suite, plan.workloads.get(suite.name, ())))
    if not built_suites and not plan.kunit:
        return
    verdict = kvm.verdict(opts.cache)
    if not opts.no_kvm and not verdict.usable:
        note(f"KVM unusable ({verdict.reason}); booting with TCG (slow)")
    use_kvm = verdict.usable and not opts.no_kvm
    run.meta["accel"] = "kvm" if use_kvm else "tcg"
    if opts.shard.total > 1:
        built_suites = shard.mine(built_suites, series.config.isolate, opts.shard)
        run.meta["shard"] = str(opts.shard)
        if not built_suites and not plan.kunit:
            note(f"shard {opts.shard}: no boot falls to this shard")
            return
    _note_one_cpu(guest_cpus(opts, series), bdir)
    # Built-in KUnit suites need a boot even when no guest suite runs.
    batches = boot_batches(built_suites, series.config.isolate) or [[]]
    _boot_all(GuestRun(series, opts, run, kernel, use_kvm, plan), batches)


def guest_cpus(opts: TestOptions, series: Series) -> int:
    """--cpus, else series.yaml's, else the default."""
    return opts.cpus or series.config.cpus or vm.DEFAULT_CPUS


def _note_one_cpu(cpus: int, build_dir: Path) -> None:
    """Under SeaBIOS the MP table names only the boot CPU (kconfigs/acpi.config): without
    ACPI the guest sees one CPU whatever -smp says, and a user asking for more should know."""
    if cpus > 1 and "CONFIG_ACPI=y" not in read_or_empty(build_dir / ".config").splitlines():
        note(f"{cpus} CPUs asked for, but without CONFIG_ACPI the guest sees 1 (--kconfig acpi)")


@dataclass(frozen=True)
class GuestRun:
    """What every boot of one run shares."""

    series: Series
    opts: TestOptions
    run: RunDir
    kernel: Path
    use_kvm: bool
    plan: series_tests.Plan


def vm_spec(
    boots: GuestRun, console_log: Path, command: str, shares: tuple[Path, ...] = ()
) -> vm.VmSpec:
    """One boot's VmSpec. --timeout, --cpus and --memory win over series.yaml's values.
    `shares`: the suites' build dirs the guest runs from (see VmSpec.shares)."""
    opts, config = boots.opts, boots.series.config
    return vm.VmSpec(
        kernel=boots.kernel,
        command=command,
        console_log=console_log,
        guest_log=console_log.with_suffix(".out"),
        cpus=guest_cpus(opts, boots.series),
        memory=opts.memory or config.memory or vm.DEFAULT_MEMORY,
        append=(*config.cmdline, *boots.plan.cmdline),
        kvm=boots.use_kvm,
        timeout=opts.timeout or config.timeout or vm.DEFAULT_TIMEOUT,
        shares=shares,
        qemu_wrapper=True,
    )


# One boot's suites, each with the workloads it runs (none: all of them).
Batch = list[tuple[guest.BuiltSuite, tuple[str, ...]]]


def boot_batches(suites: list[guest.BuiltSuite], isolate: tuple[str, ...]) -> list[Batch]:
    """Ordinary suites share one boot; an isolated suite gets one boot per workload."""
    shared: Batch = [(s, s.workloads if s.subset else ()) for s in suites if s.name not in isolate]
    batches: list[Batch] = [shared] if shared else []
    for suite in suites:
        if suite.name in isolate:
            batches += [[(suite, (w,))] for w in suite.workloads]
    return batches


def _boot_all(boots: GuestRun, batches: list[Batch]) -> None:
    """Every boot, up to --jobs of them side by side (boot/pool.py), each collected into the
    run dir in boot order. Stage times stay wall time: overlapping boots' own boot and test
    seconds are scaled down to the wall time the boots took together."""
    memory = vm_spec(boots, Path("console.log"), "true").memory
    at_once = pool.at_once(boots.opts.boots, len(batches), memory)
    # The first boot goes alone when vng must link the kernel's modules first, or when it
    # tries KVM: the probe can pass where a real kernel then fails, and the boots after
    # it should not each find that out (vm.boot retries the failed one under TCG).
    first_alone = not vm.modules_ready(boots.kernel) or boots.use_kvm
    alone = 1 if at_once > 1 and first_alone else 0
    if at_once > 1:
        boots.run.meta["boots_at_once"] = at_once
        first = "; the first boot goes alone (vng links modules, or KVM is tried)"
        note(f"{len(batches)} boots, up to {at_once} at once (--jobs){first if alone else ''}")
    started, spent = time.monotonic(), [0.0, 0.0]
    now = [boots]  # use_kvm turns False once a boot finds KVM failing the guest

    def boot_now(boot_id: int, batch: Batch, stop: threading.Event | None) -> Booted:
        return _boot(now[0], boot_id, batch, stop)

    def collect(boot_id: int, booted: Booted) -> None:
        if booted.result.kvm_failed and now[0].use_kvm:
            why = f"a boot failed: {booted.result.kvm_failed}"
            kvm.record(boots.opts.cache, kvm.KvmVerdict(False, why))
            boots.run.meta["accel"] = "tcg"
            now[0] = dataclasses.replace(now[0], use_kvm=False)
        booting, testing = _collect(now[0], boot_id, batches[boot_id], booted)
        spent[0], spent[1] = spent[0] + booting, spent[1] + testing
        if boot_id + 1 < len(batches):  # one boot per isolated workload: how far, the rest
            note(
                f"boots done: {progress.eta(boot_id + 1, len(batches), time.monotonic() - started)}"
            )

    work = [partial(boot_now, i, batch) for i, batch in enumerate(batches)]
    try:
        pool.run_in_order(work[:alone], 1, collect)
        pool.run_in_order(work[alone:], at_once, lambda i, booted: collect(i + alone, booted))
    finally:
        wall, both = time.monotonic() - started, sum(spent)
        scale = min(1.0, wall / both) if at_once > 1 and both else 1.0
        boots.run.clock.add("boot", spent[0] * scale)
        boots.run.clock.add("tests", spent[1] * scale)


@dataclass(frozen=True)
class Booted:
    """One boot as it ended, before its results are collected into the run dir."""

    label: str
    console_log: Path
    phases: Phases
    result: vm.BootResult


def _boot(boots: GuestRun, boot_id: int, batch: Batch, stop: threading.Event | None) -> Booted:
    """Boot one batch. Writes only this boot's files (its script, console, guest output):
    boots side by side run this in their own threads."""
    label = (
        "+".join(s.name + (f":{w[0]}" if w else "") for s, w in batch) or series_tests.KUNIT_PREFIX
    )
    console_log = boots.run.file(f"console-{boot_id}.log" if boot_id else "console.log")
    # vng carries the command on the kernel command line (2048 bytes on x86, encoded):
    # a few suites with long run-dir paths overflow it and the kernel loses root=. The
    # script lives in the run dir, which the guest sees through the shared host root.
    script = console_log.with_suffix(".sh")
    script.write_text((guest.guest_command(batch) or "true") + "\n")
    suite_dirs = tuple(suite.out for suite, _ in batch)
    spec = vm_spec(boots, console_log, f"sh {shlex.quote(str(script))}", suite_dirs)
    accel = "KVM" if boots.use_kvm else "TCG"
    note(f"booting {label} ({accel}, timeout {spec.timeout:.0f}s)")
    phases = Phases(label, suites=len(batch))
    return Booted(label, console_log, phases, vm.boot(spec, phases, stop))


def _collect(boots: GuestRun, boot_id: int, batch: Batch, booted: Booted) -> tuple[float, float]:
    """One boot's cases into the run dir (main thread only); its boot and test seconds."""
    series, run, plan = boots.series, boots.run, boots.plan
    label, console_log, result = booted.label, booted.console_log, booted.result
    use_kvm = boots.use_kvm and not result.kvm_failed  # a KVM failure was booted again, TCG
    booting = booted.phases.boot_seconds(result.seconds)
    run.add(
        Case(
            f"boot {label}",
            result.status,
            result.reason,
            seconds=result.seconds,
            details=_tail(result.console, 60) if result.status.is_bad else "",
            properties={"console": console_log.name, "accel": "kvm" if use_kvm else "tcg"},
        )
    )
    names = [s.name for s, _ in batch]
    incidents = incident_cases(result.console, label)
    death = result.reason
    if incidents.children and result.status.is_bad:
        death = f"{result.reason}; console: {incidents.children[0].message}"
    for (_, workloads), case in zip(
        batch, guest.suite_results(result.guest_output, names, death), strict=True
    ):
        if len(workloads) == 1:
            guest.name_isolated(case, workloads[0], death)
            guest.verdicts_from_console(case, workloads[0], result.console)
        apply_xfail(case, series.config.xfail)
        _merge_suite(run, case)
    if plan.kunit and boot_id == 0:  # built-in suites print the same KTAP on every boot
        kunit_case = series_tests.kunit_case(plan, result.console, result.reason)
        apply_xfail(kunit_case, series.config.xfail)
        run.add(kunit_case)
    if incidents.children:
        run.add(incidents)
    return booting, result.seconds - booting


def _merge_suite(run: RunDir, case: Case) -> None:
    """Isolated runs of one suite land in one Case, workload after workload."""
    for existing in run.suites:
        if existing.name == case.name and existing.children:
            existing.children += case.children
            run.flush()
            return
    run.add(case)


def _base_never_tested(stages: list[Case], tests: list[Case]) -> str:
    """Why the base run has no test result at all ('' when it has some): its tests were
    never built, or its boot died before any suite started. Every verdict would be `new`."""
    ran = [leaf for t in tests for leaf in t.children if not leaf.placeholder]
    if ran:
        return ""
    # none bad: the base simply has none of these tests yet (a KUnit-only series)
    bad = [s for s in stages if s.status.is_bad and s.name not in {t.name for t in tests}]
    return f"{bad[0].name}: {bad[0].message}" if bad else ""


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


def apply_xfail(case: Case, xfail: dict[str, str], prefix: str = "") -> None:
    """series.yaml xfail: a failing test becomes XFAIL; one that passes is flagged,
    so the list is kept honest when the bug gets fixed."""
    path = f"{prefix}.{case.name}" if prefix else case.name
    for child in case.children:
        apply_xfail(child, xfail, path)
    reason = next((r for pattern, r in xfail.items() if fnmatch.fnmatchcase(path, pattern)), None)
    if reason is None:
        return
    if case.own is Status.FAIL:  # a leaf's verdict, or a parent's own result line
        case.own, case.message = Status.XFAIL, f"{reason} ({case.message})".strip()
    elif case.own is Status.PASS and not case.children:
        case.own = Status.FAIL
        case.message = f"passed but series.yaml expects a failure: {reason}"


def _compare_base(
    series: Series, opts: TestOptions, prepared: Prepared, plan: series_tests.Plan
) -> None:
    """The same tests on the base tree: same fragments, own cached build dir, own run dir
    (RUN/base-*); then each test's verdict, and failures the base shares become XFAIL."""
    patched = prepared.run
    base_run = RunDir.create(patched.path, "base", opts.argv)
    here = prepared.worktree
    spec = worktree.TreeSpec(here.path, here.base_rev, f"base {here.base_rev[:12]}")
    wt = worktree.prepare_worktree(spec, here.path, base_run.file("apply.log"))
    note(f"running the same tests on the base {wt.base_rev[:12]} (results: {base_run.path})")
    base = Prepared(base_run, prepared.slot, wt, True, ccache.TRUSTED)
    patched_kselftests = patched.file("guest") / series_tests.KSELFTEST_PREFIX
    base_plan = series_tests.for_base(plan, wt.path, base_run.path, patched_kselftests)
    _after_apply(series, opts, base, base_plan)
    for stage, seconds in base_run.clock.seconds.items():  # the patched run's total has them
        patched.clock.add(f"base {stage}", seconds)
    tests = {*plan.guest, series_tests.KUNIT_PREFIX, series_tests.KSELFTEST_PREFIX}
    base_tests = [s for s in base_run.suites if s.name in tests]
    patched_tests = [s for s in patched.suites if s.name in tests]
    broken = _base_never_tested(base_run.suites, base_tests)
    if broken:
        note(f"base vs patched: no comparison: {broken}")
        failed = Case(
            base_comparison.SUITE_NAME, Status.ERROR, f"the base run tested nothing: {broken}"
        )
        failed.properties["base_run"] = base_run.path.name
        patched.add(failed)
        return
    found = base_comparison.compare(base_tests, patched_tests)
    marked = base_comparison.mark_preexisting(patched_tests, found)
    summary = base_comparison.summary(found)
    summary.properties["base_run"] = base_run.path.name
    note(f"base vs patched: {summary.message or 'no tests'}; {marked} pre-existing failure(s)")
    patched.add(summary)
    on_base = [s for s in base_run.suites if s.name == series_tests.ON_BASE]
    ours = [s for s in patched_tests if s.name == series_tests.KSELFTEST_PREFIX]
    if on_base and ours:
        shown = base_comparison.detection(on_base[0], ours[0])
        note(f"the series' kselftests on the base kernel: {shown.message}")
        patched.add(shown)
