"""harness.boot.console on console logs in the kernel's real report formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.boot.console import EXCERPT_LINES, Incident, Kind, classify, scan_console, workload_at

FIXTURES = Path(__file__).parent / "fixtures" / "console"


def scan(name: str) -> tuple[str, list[Incident]]:
    text = (FIXTURES / name).read_text()
    return text, scan_console(text)


def test_kasan_report_runs_between_the_rulers() -> None:
    text, [kasan] = scan("kasan_use_after_free.log")
    assert kasan.kind is Kind.KASAN
    assert kasan.title == "BUG: KASAN: slab-use-after-free in vm_object_erase+0x3c/0x90"
    excerpt = kasan.excerpt.splitlines()
    assert excerpt[0].endswith(kasan.title)
    assert excerpt[-1].endswith("=" * 66)
    assert "Freed by task 412:" in kasan.excerpt
    assert "Disabling lock debugging" not in kasan.excerpt
    assert text.splitlines()[kasan.line - 1] == excerpt[0]
    assert workload_at(text, kasan.line) == "smoke/anon_mmap"


def test_warning_oops_and_panic_are_separate_incidents() -> None:
    text, incidents = scan("warning_oops_panic.log")
    assert [i.kind for i in incidents] == [Kind.WARNING, Kind.KMEMLEAK, Kind.OOPS, Kind.PANIC]
    warning, leak, oops, panic = incidents
    assert warning.title == "WARNING: CPU: 0 PID: 87 at mm/mmap.c:1423 do_vmi_munmap+0x1a2/0x1c0"
    assert warning.excerpt.splitlines()[-1].endswith("---[ end trace 0000000000000000 ]---")
    assert oops.title == "BUG: kernel NULL pointer dereference, address: 0000000000000008"
    assert "Oops: Oops: 0000 [#1] PREEMPT SMP NOPTI" in oops.excerpt  # one report, not two
    assert oops.excerpt.splitlines()[-1].endswith("---[ end trace 0000000000000000 ]---")
    assert panic.title == "Kernel panic - not syncing: Fatal exception"
    assert panic.excerpt.splitlines()[-1].endswith(
        "---[ end Kernel panic - not syncing: Fatal exception ]---"
    )
    assert leak.excerpt.count("\n") == 0
    assert [workload_at(text, i.line) for i in incidents] == [
        "demo/proc_format_v2",
        "demo",
        "smoke/anon_mmap",
        "smoke/anon_mmap",
    ]


def test_reports_without_end_marker_end_with_their_stack() -> None:
    text, incidents = scan("lockdep_lockup_stall_hung.log")
    assert [i.kind for i in incidents] == [
        Kind.LOCKDEP,
        Kind.SOFT_LOCKUP,
        Kind.RCU_STALL,
        Kind.HUNG_TASK,
    ]
    lockdep, soft, rcu, hung = incidents
    assert lockdep.title == "WARNING: possible circular locking dependency detected"
    assert " *** DEADLOCK ***" in lockdep.excerpt
    assert soft.title == "watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [thp_split:240]"
    assert rcu.title == "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:"
    assert hung.title == "INFO: task khugepaged:41 blocked for more than 122 seconds."
    for incident in incidents:
        assert incident.excerpt.splitlines()[-1].endswith(" </TASK>")
        assert workload_at(text, incident.line) == "thp_split"


def test_sanitizers_and_bugs_between_ktap_lines() -> None:
    text, incidents = scan("ubsan_sleeping_bug.log")
    assert [(i.kind, i.title) for i in incidents] == [
        (Kind.UBSAN, "UBSAN: array-index-out-of-bounds in mm/vm_object.c:212:17"),
        (
            Kind.BUG,
            "BUG: sleeping function called from invalid context at include/linux/sched/mm.h:337",
        ),
        (Kind.BUG, "kernel BUG at mm/huge_memory.c:3301!"),
    ]
    ubsan, sleeping, bug = incidents
    assert ubsan.excerpt.splitlines()[-1].endswith("---[ end trace ]---")
    assert sleeping.excerpt.splitlines()[-1].endswith(" </TASK>")
    assert "Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI" in bug.excerpt
    assert "not ok 1 read_counter" not in "".join(i.excerpt for i in incidents)


def test_real_uml_warning_without_timestamps() -> None:
    _, [warning] = scan("kunit_uml_warning.log")
    assert warning.kind is Kind.WARNING and warning.line == 11
    assert warning.excerpt.splitlines()[-1] == "---[ end trace c83434852b3702d3 ]---"


def test_signature_drops_what_changes_between_runs() -> None:
    _, incidents = scan("warning_oops_panic.log")
    assert incidents[0].signature == "WARNING: CPU: N PID: N at mm/mmap.c:1423 do_vmi_munmap"
    assert incidents[2].signature == "BUG: kernel NULL pointer dereference, address: ADDR"
    _, incidents = scan("lockdep_lockup_stall_hung.log")
    assert (
        incidents[1].signature == "watchdog: BUG: soft lockup - CPU#N stuck for Ns! [thp_split:N]"
    )


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (
            "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)",
            Kind.PANIC,
        ),
        ("BUG: KFENCE: use-after-free read in test_use_after_free_read+0xb3/0x143", Kind.KFENCE),
        ("Watchdog detected hard LOCKUP on cpu 1", Kind.HARD_LOCKUP),
        ("rcu: INFO: rcu_sched self-detected stall on CPU", Kind.RCU_STALL),
        ("rcu: INFO: rcu_preempt detected expedited stalls on CPUs/tasks: {", Kind.RCU_STALL),
        ("WARNING: suspicious RCU usage", Kind.LOCKDEP),
        ("WARNING: possible recursive locking detected", Kind.LOCKDEP),
        ("WARNING: inconsistent lock state", Kind.LOCKDEP),
        ("WARNING: bad unlock balance detected!", Kind.LOCKDEP),
        ("BUG: unable to handle page fault for address: ffffc90000d4f000", Kind.OOPS),
        (
            "Oops: general protection fault, probably for non-canonical address"
            " 0xdffffc0000000001: 0000 [#1] PREEMPT SMP KASAN NOPTI",
            Kind.OOPS,
        ),
        (
            "Unable to handle kernel NULL pointer dereference at virtual address 0000000000000008",
            Kind.OOPS,
        ),
        ("Internal error: Oops: 0000000096000004 [#1] PREEMPT SMP", Kind.OOPS),
        ("BUG: scheduling while atomic: swapper/0/1/0x00000002", Kind.BUG),
        ("BUG kmalloc-64 (Not tainted): Poison overwritten", Kind.BUG),
        ("BUG: Bad page state in process anon_mmap  pfn:104a3c", Kind.BUG),
        ("# BUG: this is test output, not the kernel", None),
        ("WARNING: Flushing system-wide workqueues will be prohibited in near future.", None),
        ("ok 1 kasan_test # SKIP", None),
    ],
)
def test_classify_headlines(line: str, kind: Kind | None) -> None:
    assert classify(line) is kind


def test_excerpt_is_bounded() -> None:
    text = "WARNING: possible recursive locking detected\n" + "x\n" * 500
    [incident] = scan_console(text)
    assert incident.excerpt.count("\n") + 1 == EXCERPT_LINES


def test_report_without_end_stops_at_the_next_headline() -> None:
    text = (
        "[    1.0] WARNING: CPU: 0 PID: 1 at a.c:1 f+0x1/0x2\n"
        "[    1.1] Modules linked in:\n"
        "[    1.2] Kernel panic - not syncing: panic_on_warn set ...\n"
    )
    assert [(i.kind, i.line) for i in scan_console(text)] == [(Kind.WARNING, 1), (Kind.PANIC, 3)]


def test_no_reports_and_bad_input() -> None:
    assert scan_console("") == []
    assert scan_console("Linux version 6.12\n\x00\xff\nreboot: Power down\n") == []


def test_workload_markers() -> None:
    text = "\n".join(
        [
            "[    1.0] boot",  # 1
            "[    2.0] # harness: suite smoke begin",  # 2
            "[    2.1] # harness: start a",  # 3
            "[    2.2] inside a",  # 4
            "[    2.3] # harness: end a",  # 5
            "[    2.4] between",  # 6
            "[    2.5] # harness: start b",  # 7
            "[    2.6] b crashed, no end marker",  # 8
            "[    2.7] # harness: start c",  # 9
            "[    2.8] inside c",  # 10
            "[    2.9] # harness: suite smoke end rc=1",  # 11
            "[    3.0] after",  # 12
        ]
    )
    expected = [None, None, "smoke", "smoke/a", "smoke/a", "smoke", "smoke", "smoke/b"]
    expected += ["smoke/b", "smoke/c", "smoke/c", None]
    assert [workload_at(text, line) for line in range(1, 13)] == expected
    assert workload_at("# harness: start w\nsplat\n", 2) == "w"
    assert workload_at(text, 0) is None and workload_at(text, 999) is None
