"""`--suite SUITE:W1,W2`: only those workloads of a guest suite, refused before any build
when the suite does not list them, and named on a shared boot's run.sh line."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import pipeline
from harness.errors import UserError
from harness.suites import guest, series_tests


def test_workloads_after_the_suite_are_chosen_in_order_without_repeats() -> None:
    chosen = series_tests.select(("gmem:thp_race,mmap_retry", "gmem:thp_race", "smoke"))
    assert chosen.guest == ("gmem", "smoke")  # one gmem suite, not one per selector
    assert chosen.workloads == {"gmem": ("thp_race", "mmap_retry")}
    assert series_tests.select(("gmem",)).workloads == {}


@pytest.mark.parametrize("bad", ["gmem:mmap_retyr", "gmem:,", "smoke:anything"])
def test_a_workload_the_suite_does_not_list_is_refused(bad: str) -> None:
    # smoke has no workloads list at all: nothing can be chosen from it
    with pytest.raises(UserError, match="no workload"):
        series_tests.select((bad,))


def test_comment_lines_of_the_list_are_not_workloads(tmp_path: Path, monkeypatch) -> None:
    suite = tmp_path / "mine"
    suite.mkdir()
    (suite / "Makefile").write_text("all:\n")
    (suite / "workloads").write_text("# slow ones last\none\n\ntwo\n")
    monkeypatch.setattr(guest, "GUEST_TESTS", tmp_path)
    assert guest.known_workloads("mine", "two,one") == ("two", "one")
    with pytest.raises(UserError, match="no workload slow"):
        guest.known_workloads("mine", "slow")


def test_isolated_boots_only_for_the_chosen_and_shared_boots_name_them() -> None:
    gmem = guest.BuiltSuite("gmem", Path("/out/gmem"), ("mmap_flags", "mmap_retry", "thp_race"))
    smoke = guest.BuiltSuite("smoke", Path("/out/smoke"), ())
    cut = guest.only(gmem, ("thp_race", "mmap_retry"))
    batches = pipeline.boot_batches([smoke, cut], ("gmem",))
    assert batches == [[(smoke, ())], [(cut, ("thp_race",))], [(cut, ("mmap_retry",))]]
    # not isolated: one boot, and run.sh is told which workloads (none given = all of them)
    shared = pipeline.boot_batches([cut], ())
    assert shared == [[(cut, ("thp_race", "mmap_retry"))]]
    assert "run.sh thp_race mmap_retry" in guest.guest_command(shared[0])
    assert guest.only(gmem, ()) is gmem
    assert pipeline.boot_batches([gmem], ()) == [[(gmem, ())]]


def test_a_wedged_workload_is_its_own_error_and_the_others_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One boot per workload: as_lifecycle's boot times out after printing only its plan,
    mmap_retry's and thp_race's boots still run, and the run names as_lifecycle."""
    from harness.boot import kvm, vm
    from harness.boot.phases import Phases
    from harness.build import make
    from harness.cases import Status
    from harness.intake.series import Series, SeriesConfig
    from harness.results.rundir import RunDir
    from harness.suites.discover import Discovery

    booted: list[str] = []

    def fake_boot(
        spec: vm.VmSpec, phases: Phases | None = None, stop: object = None
    ) -> vm.BootResult:
        script = Path(spec.command.split()[-1]).read_text()
        workload = script.split("run.sh ")[1].split(")")[0]
        booted.append(workload)
        begin = "# harness: suite gmem begin\nKTAP version 1\n1..1\n"
        console = "[    0.9] Run /init as init process\n"
        if workload == "as_lifecycle":  # the plan, then nothing: the guest wedged
            console += "[  321.1] note: as_lifecycle[182] exited with preempt_count 3\n"
            out, reason = begin + "    KTAP version 1\n    1..7\n", "timed out after 1500s"
            return vm.BootResult(Status.ERROR, reason, None, 1500.0, out, console, False)
        out = begin + f"ok 1 {workload}\n# harness: suite gmem end rc=0\n"
        return vm.BootResult(Status.PASS, "guest command exited 0", 0, 9.0, out, console, False)

    monkeypatch.setattr(vm, "boot", fake_boot)
    monkeypatch.setattr(kvm, "verdict", lambda cache: kvm.KvmVerdict(True, "ok"))
    series = Series("s", tmp_path, (), None, SeriesConfig(isolate=("gmem",)), "")
    opts = pipeline.TestOptions(argv=[], out=tmp_path, cache=tmp_path)
    run = RunDir.create(tmp_path, "s", [])
    built = guest.BuiltSuite("gmem", tmp_path / "gmem", ("mmap_flags", "mmap_retry"))
    chosen = ("mmap_retry", "as_lifecycle", "thp_race")
    plan = series_tests.Plan(Discovery(), (), prebuilt=(guest.only(built, chosen),))
    build = make.BuildSpec(tmp_path, tmp_path, 1)
    pipeline._guest_stage(series, opts, run, build, tmp_path / "bzImage", plan)
    assert booted == list(chosen)
    (gmem,) = [s for s in run.suites if s.name == "gmem"]
    assert [(c.name, c.status) for c in gmem.children] == [
        ("mmap_retry", Status.PASS),
        ("as_lifecycle", Status.ERROR),
        ("thp_race", Status.PASS),
    ]
    wedged = gmem.children[1]
    assert "timed out after 1500s" in wedged.message
    # its KTAP plan said 7 subtests: the first is the one it hung in, the rest never ran
    assert wedged.children[0].crashed and len(wedged.children) == 7
    boots = [(s.name, s.status) for s in run.suites if s.name.startswith("boot ")]
    assert boots == [
        ("boot gmem:mmap_retry", Status.PASS),
        ("boot gmem:as_lifecycle", Status.ERROR),
        ("boot gmem:thp_race", Status.PASS),
    ]


def test_a_workload_the_guest_took_with_it_gets_its_verdicts_from_the_kernel_log() -> None:
    """The debug run's mmap_retry boot (recorded): all six subtests ran and logged their
    verdicts, then the guest wedged before run.sh printed the workload's KTAP."""
    from conftest import FIXTURES

    from harness.cases import Status

    recorded = FIXTURES / "findings" / "test-gmem-port-debug-full"
    console = (recorded / "console-mmap_retry.log").read_text()
    out = (recorded / "console-mmap_retry.out").read_text()
    death = "guest wedged, boot ended"
    (suite,) = guest.suite_results(out, ["gmem"], death)
    guest.name_isolated(suite, "mmap_retry", death)
    guest.verdicts_from_console(suite, "mmap_retry", console)
    (workload,) = suite.children
    assert workload.name == "mmap_retry" and workload.status is Status.ERROR
    assert [(c.name, c.status) for c in workload.children] == [
        ("first_candidate_refused", Status.FAIL),
        ("window_of_five_refused", Status.FAIL),
        ("window_full_enomem", Status.PASS),
        ("noreplace_refused", Status.FAIL),
        ("second_device_refuses", Status.FAIL),
        ("both_devices_asked_again", Status.PASS),
    ]
    # the workload itself never finished: its own result, worse than its subtests'
    assert workload.own is Status.ERROR and workload.fails_on_its_own
    assert workload.leaves()[-1] is workload
    assert all(c.properties.get(guest.FROM_CONSOLE) for c in workload.children[:6])


def test_the_subtest_a_workload_died_in_is_crashed_and_other_suites_lines_are_ignored() -> None:
    from harness.cases import Status

    console = (
        "[  1.0] # harness: start as_lifecycle\n"
        "[  1.1] # gmem: subtest as_lifecycle/attach_detach_loop\n"
        "[  2.0] # gmem: as_lifecycle/attach_detach_loop: not ok\n"
        "[  2.1] # other: as_lifecycle/two_devices_every_order: ok\n"
        "[  2.2] # gmem: subtest as_lifecycle/two_devices_every_order\n"
    )
    out = "# harness: suite gmem begin\nKTAP version 1\n1..1\n    KTAP version 1\n    1..6\n"
    (suite,) = guest.suite_results(out, ["gmem"], "timed out")
    guest.name_isolated(suite, "as_lifecycle", "timed out")
    guest.verdicts_from_console(suite, "as_lifecycle", console)
    subtests = suite.children[0].children
    assert [(c.name, c.status, c.crashed) for c in subtests] == [
        ("attach_detach_loop", Status.FAIL, False),
        ("two_devices_every_order", Status.ERROR, True),
    ]


def test_boots_side_by_side_learn_from_the_first_that_kvm_fails_the_guest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--jobs 2 with a KVM the probe passed: the first boot goes alone, KVM fails it (vm.boot
    booted it again under TCG), so the verdict is recorded and the others boot TCG, side by
    side, instead of each paying for KVM's failure."""
    import threading

    from harness.boot import kvm, pool, vm
    from harness.boot.phases import Phases
    from harness.build import make
    from harness.cases import Status
    from harness.intake.series import Series, SeriesConfig
    from harness.results.rundir import RunDir
    from harness.suites.discover import Discovery

    kvm_of: list[bool] = []
    lock = threading.Lock()

    def fake_boot(
        spec: vm.VmSpec, phases: Phases | None = None, stop: object = None
    ) -> vm.BootResult:
        with lock:
            kvm_of.append(spec.kvm)
        workload = Path(spec.command.split()[-1]).read_text().split("run.sh ")[1].split(")")[0]
        out = f"# harness: suite gmem begin\nKTAP version 1\n1..1\nok 1 {workload}\n"
        result = vm.BootResult(Status.PASS, "guest command exited 0", 0, 1.0, out, "", False)
        return vm.dataclasses.replace(result, kvm_failed="KVM internal error." if spec.kvm else "")

    monkeypatch.setattr(vm, "boot", fake_boot)
    monkeypatch.setattr(vm, "modules_ready", lambda kernel: True)
    monkeypatch.setattr(pool, "at_once", lambda jobs, boots, memory: 2)
    monkeypatch.setattr(kvm, "probe", lambda: kvm.KvmVerdict(True, "firmware ran under KVM"))
    series = Series("s", tmp_path, (), None, SeriesConfig(isolate=("gmem",)), "")
    opts = pipeline.TestOptions(argv=[], out=tmp_path, cache=tmp_path, boots=2)
    run = RunDir.create(tmp_path, "s", [])
    built = guest.BuiltSuite("gmem", tmp_path / "gmem", ("a", "b", "c"))
    plan = series_tests.Plan(Discovery(), (), prebuilt=(built,))
    build = make.BuildSpec(tmp_path, tmp_path, 1)
    pipeline._guest_stage(series, opts, run, build, tmp_path / "bzImage", plan)
    assert kvm_of == [True, False, False]
    assert not kvm.verdict(tmp_path).usable
    assert run.meta["accel"] == "tcg"
    accels = [c.properties["accel"] for c in run.suites if c.name.startswith("boot ")]
    assert accels == ["tcg", "tcg", "tcg"]
