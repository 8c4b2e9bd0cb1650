"""The guest stage with the tests a series brings: a KUnit-only run still boots once, with
kunit.filter_glob on the command line, and reads the `kunit` suite from the console.
vm.boot is faked with a recorded console (see fixtures/discover/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES

from harness import pipeline
from harness.boot import guest_box, kvm, vm
from harness.boot.phases import Phases
from harness.build import make
from harness.cases import Case, Status
from harness.intake.series import Series, SeriesConfig
from harness.results.rundir import RunDir
from harness.suites import guest, series_tests
from harness.suites.discover import Discovery
from harness.tree import slots, worktree

CONSOLE = FIXTURES / "discover/console-kunit-demo.log"


def test_kunit_only_run_boots_once_and_reads_the_console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs: list[vm.VmSpec] = []

    def fake_boot(
        spec: vm.VmSpec, phases: Phases | None = None, stop: object = None
    ) -> vm.BootResult:
        specs.append(spec)
        console = CONSOLE.read_text()
        return vm.BootResult(Status.PASS, "guest command exited 0", 0, 1.0, "", console, False)

    monkeypatch.setattr(vm, "boot", fake_boot)
    monkeypatch.setattr(kvm, "verdict", lambda cache: kvm.KvmVerdict(True, "ok"))
    series = Series("s", tmp_path, (), None, SeriesConfig(), "")
    opts = pipeline.TestOptions(argv=[], out=tmp_path, cache=tmp_path)
    run = RunDir.create(tmp_path, "s", [])
    plan = series_tests.Plan(
        Discovery(), (), tmp_path / "f.config", cmdline=("kunit.filter_glob=h*",)
    )
    kernel = tmp_path / "bzImage"
    build = make.BuildSpec(tmp_path, tmp_path, 1)
    pipeline._guest_stage(series, opts, run, build, kernel, plan)
    assert [(s.command, s.append) for s in specs] == [
        (f"sh {run.file('console.sh')}", ("kunit.filter_glob=h*",))
    ]
    assert run.file("console.sh").read_text() == "true\n"
    names = [s.name for s in run.suites]
    assert names[:2] == ["boot kunit", "kunit"]
    kunit_suite = run.suites[1]
    assert [(c.name, c.status) for c in kunit_suite.children] == [("harness_demo", Status.PASS)]
    assert [(leaf.name, leaf.status) for leaf in kunit_suite.leaves()] == [
        ("harness_demo_add", Status.PASS),
        ("harness_demo_skip", Status.SKIP),
    ]


def test_compare_base_runs_the_same_plan_on_the_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The base run gets its own run dir and build suffix; verdicts land in the patched run,
    and a failure the base shares no longer fails it."""
    wt = worktree.Worktree(tmp_path / "wt", "b" * 40)
    monkeypatch.setattr(worktree, "prepare_worktree", lambda spec, where, log: wt)
    seen: list[pipeline.Prepared] = []

    def fake_after_apply(
        series: Series, opts: pipeline.TestOptions, prepared: pipeline.Prepared, plan: object
    ) -> None:
        seen.append(prepared)
        prepared.run.add(_kunit(old=Status.FAIL, same=Status.PASS))

    monkeypatch.setattr(pipeline, "_after_apply", fake_after_apply)
    patched = RunDir.create(tmp_path, "s", [])
    patched.add(_kunit(old=Status.FAIL, same=Status.FAIL, added=Status.PASS))
    slot = slots.Slot(tmp_path / "slot", open(tmp_path / "lock", "w"))
    prepared = pipeline.Prepared(patched, slot, wt, True)
    plan = series_tests.Plan(Discovery(), ("smoke",), tmp_path / "f.config")
    series = Series("s", tmp_path, (), None, SeriesConfig(), "")
    opts = pipeline.TestOptions(argv=[], out=tmp_path, cache=tmp_path)
    pipeline._compare_base(series, opts, prepared, plan)
    slot.release()
    assert seen[0].owner == "base" and seen[0].run.path.parent == patched.path
    summary = patched.suites[-1]
    assert summary.name == "compare-base"
    assert {c.name: c.properties["verdict"] for c in summary.children} == {
        "kunit.demo.old": "still-failing",
        "kunit.demo.same": "regressed",
        "kunit.demo.added": "new",
    }
    leaves = {leaf.name: leaf.status for leaf in patched.suites[0].leaves()}
    assert leaves == {"old": Status.XFAIL, "same": Status.FAIL, "added": Status.PASS}


def _kunit(**leaves: Status) -> Case:
    suite = Case("demo", children=[Case(n, s) for n, s in leaves.items()])
    return Case("kunit", children=[suite])


def test_a_base_that_never_ran_a_test_gives_no_verdicts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen for real: the base boot died ("VFS: Unable to mount root fs") and every
    patched test came out `new`. Without base results there is nothing to compare."""
    wt = worktree.Worktree(tmp_path / "wt", "b" * 40)
    monkeypatch.setattr(worktree, "prepare_worktree", lambda spec, where, log: wt)
    panic = "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"

    def fake_after_apply(
        series: Series, opts: pipeline.TestOptions, prepared: pipeline.Prepared, plan: object
    ) -> None:
        prepared.run.add(Case("boot smoke", Status.FAIL, panic))
        never = Case("(not run)", Status.ERROR, f"suite never started: {panic}", placeholder=True)
        prepared.run.add(Case("smoke", Status.ERROR, children=[never]))

    monkeypatch.setattr(pipeline, "_after_apply", fake_after_apply)
    patched = RunDir.create(tmp_path, "s", [])
    patched.add(Case("smoke", children=[Case("kernel_version", Status.PASS)]))
    slot = slots.Slot(tmp_path / "slot", open(tmp_path / "lock", "w"))
    prepared = pipeline.Prepared(patched, slot, wt, True)
    plan = series_tests.Plan(Discovery(), ("smoke",))
    series = Series("s", tmp_path, (), None, SeriesConfig(), "")
    opts = pipeline.TestOptions(argv=[], out=tmp_path, cache=tmp_path)
    pipeline._compare_base(series, opts, prepared, plan)
    slot.release()
    summary = patched.suites[-1]
    assert (summary.name, summary.status) == ("compare-base", Status.ERROR)
    assert summary.message == f"the base run tested nothing: boot smoke: {panic}"
    assert summary.children == []


def test_the_command_line_wins_over_series_yaml_for_every_boot_setting(tmp_path: Path) -> None:
    """--timeout follows the rule --memory and --cpus follow: given, it wins; else series.yaml."""
    yaml_says = SeriesConfig(timeout=1200, memory="4G", cpus=4)
    series = Series("s", tmp_path, (), None, yaml_says, "")
    plan = series_tests.Plan(Discovery(), ())
    run = RunDir.create(tmp_path, "s", [])

    def spec(opts: pipeline.TestOptions, s: Series = series) -> vm.VmSpec:
        boots = pipeline.GuestRun(s, opts, run, tmp_path / "bzImage", False, plan)
        return pipeline.vm_spec(boots, tmp_path / "console.log", "true")

    given = pipeline.TestOptions([], tmp_path, tmp_path, timeout=60, memory="2G", cpus=1)
    assert (spec(given).timeout, spec(given).memory, spec(given).cpus) == (60, "2G", 1)
    unset = pipeline.TestOptions([], tmp_path, tmp_path)
    assert (spec(unset).timeout, spec(unset).memory, spec(unset).cpus) == (1200, "4G", 4)
    bare = Series("s", tmp_path, (), None, SeriesConfig(), "")
    assert spec(unset, bare).timeout == vm.DEFAULT_TIMEOUT


def test_the_pipeline_boots_qemu_through_the_wrapper_that_reports_a_kill(tmp_path: Path) -> None:
    series = Series("s", tmp_path, (), None, SeriesConfig(), "")
    boots = pipeline.GuestRun(
        series,
        pipeline.TestOptions([], tmp_path, tmp_path),
        RunDir.create(tmp_path, "s", []),
        tmp_path / "bzImage",
        False,
        series_tests.Plan(Discovery(), ()),
    )
    spec = pipeline.vm_spec(boots, tmp_path / "console.log", "true")
    assert spec.qemu_wrapper
    assert vm.vng_argv(spec)[-4:-2] == ["--qemu", str(tmp_path / "console.qemu.sh")]


def test_a_base_boot_may_read_the_patched_runs_kselftest_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The series' kselftest build lives in the patched run, outside the base run's dir:
    the sandboxed guest must be given it, or `cd` fails there (run.sh exits 2, no KTAP)."""
    specs: list[vm.VmSpec] = []

    def fake_boot(
        spec: vm.VmSpec, phases: Phases | None = None, stop: object = None
    ) -> vm.BootResult:
        specs.append(spec)
        return vm.BootResult(Status.PASS, "guest command exited 0", 0, 1.0, "", "", False)

    monkeypatch.setattr(vm, "boot", fake_boot)
    monkeypatch.setattr(kvm, "verdict", lambda cache: kvm.KvmVerdict(True, "ok"))
    patched_build = tmp_path / "patched-run" / "guest" / "kselftest"
    patched_build.mkdir(parents=True)
    (patched_build / "run.sh").write_text("echo 'TAP version 13'\necho 1..0\n")
    base_run = RunDir.create(tmp_path / "patched-run", "base", [])
    prebuilt = (guest.BuiltSuite(series_tests.ON_BASE, patched_build, ()),)
    plan = series_tests.Plan(Discovery(), (), None, prebuilt=prebuilt)
    series = Series("s", tmp_path, (), None, SeriesConfig(), "")
    opts = pipeline.TestOptions(argv=[], out=tmp_path, cache=tmp_path)
    build = make.BuildSpec(tmp_path, tmp_path, 1)
    pipeline._guest_stage(series, opts, base_run, build, tmp_path / "bzImage", plan)
    assert len(specs) == 1
    assert patched_build in specs[0].shares
    box = guest_box.guest_box(specs[0].kernel, (base_run.path, *specs[0].shares), False)
    assert patched_build in box.readable and base_run.path in box.readable
