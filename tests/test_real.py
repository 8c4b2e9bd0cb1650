"""The whole thing for real: apply -> build the minimal kernel -> boot under
virtme-ng (KVM where it works, TCG here) -> guest suites -> JUnit.

Selected with `-m real` (ci/test.sh runs them after the unit tests). They share
the harness cache, so after the first cold build each costs an incremental build
plus a boot. HARNESS_REAL_OUT keeps the run directories for inspection.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import PROJECT

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    kept = os.environ.get("HARNESS_REAL_OUT")
    return Path(kept) if kept else tmp_path_factory.mktemp("real")


def run_harness(series: str, out: Path, *extra: str, command: str = "test") -> tuple[int, Path]:
    before = set(out.glob("*"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            command,
            str(PROJECT / series),
            "--out",
            str(out),
            *extra,
        ],
        cwd=PROJECT,
        timeout=3600,
    )
    (run_dir,) = set(out.glob("*")) - before
    return result.returncode, run_dir


def results(run_dir: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    ET.parse(run_dir / "junit.xml")  # must be valid XML whatever happened
    data = json.loads((run_dir / "results.json").read_text())
    return {suite["name"]: suite for suite in data["suites"]}


def test_demo_series_passes_end_to_end(out: Path) -> None:
    rc, run_dir = run_harness("patches/fixtures/demo", out)
    suites = results(run_dir)
    assert rc == 0, (run_dir / "summary.md").read_text()
    assert suites["apply"]["status"] == "pass"
    demo = {c["name"]: c["status"] for c in suites["demo"]["children"]}
    assert demo == {"proc_file_exists": "pass", "proc_format_v2": "pass", "read_counter": "pass"}
    assert suites["smoke"]["status"] == "pass"
    assert (run_dir / "console.log").stat().st_size > 0
    assert "CONFIG_TRANSPARENT_HUGEPAGE=y" in (run_dir / "config").read_text()


def test_build_break_is_a_build_failure_with_the_compiler_line(out: Path) -> None:
    rc, run_dir = run_harness("patches/fixtures/build-break", out)
    build = results(run_dir)["build"]
    assert rc == 1
    assert build["status"] == "fail"
    assert "mm/mmap.c" in build["message"] and "harness_undeclared_identifier" in build["message"]
    assert "error:" in build["details"]


def test_boot_panic_is_a_kernel_panic_not_a_qemu_failure(out: Path) -> None:
    rc, run_dir = run_harness("patches/fixtures/boot-panic", out, "--timeout", "300")
    suites = results(run_dir)
    boot = next(s for name, s in suites.items() if name.startswith("boot"))
    assert rc == 1
    assert boot["status"] == "fail"
    assert (
        boot["message"] == "Kernel panic - not syncing: harness fixture: deliberate panic at boot"
    )
    console = next(s for name, s in suites.items() if name.startswith("console"))
    assert any(c["properties"]["kind"] == "PANIC" for c in console["children"])


def test_the_tests_a_series_brings_against_the_base(out: Path) -> None:
    """Discovery, the generated KUnit fragment, built-in KTAP from the console, a
    kselftest built on the host and run in the guest, and base-vs-patched verdicts."""
    rc, run_dir = run_harness(
        "patches/fixtures/kunit-demo", out, "--suite", "kselftest:size", "--compare-base"
    )
    suites = results(run_dir)
    assert rc == 0, (run_dir / "summary.md").read_text()
    assert "CONFIG_HARNESS_DEMO_KUNIT_TEST=y" in (run_dir / "config").read_text()
    (demo,) = [c for c in suites["kunit"]["children"] if c["name"] == "harness_demo"]
    cases = {c["name"]: c["status"] for c in demo["children"]}
    assert cases == {"harness_demo_add": "pass", "harness_demo_skip": "skip"}, demo
    assert suites["kselftest"]["status"] == "pass", suites["kselftest"]
    verdicts = suites["compare-base"]["properties"]
    assert int(verdicts["new"]) >= 1 and verdicts["regressed"] == "0", verdicts
    # the series' kselftest build also ran on the base kernel: get_size passes there too
    shown = suites["shows-the-change"]["children"]
    assert [c["properties"]["shows_change"] for c in shown] == ["does not show"], shown


def test_verbatim_gmem_series_reports_hunks_on_6_12(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "apply",
            str(PROJECT / "patches/gmem-rfc-v1"),
            "--out",
            str(tmp_path),
        ],
        cwd=PROJECT,
        timeout=600,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "base v6.7-rc3 is not in debian:6.12" in result.stderr
    (run_dir,) = tmp_path.glob("gmem-rfc-v1-*")
    apply = results(run_dir)["apply"]["children"]
    assert [c["status"] for c in apply] == ["fail"] + ["skip"] * 5
    assert "could not build fake ancestor; hunks rejected in: mm/Makefile" == apply[0]["message"]
    # The shared assessment: 77 hunks, 24 rejected, when applied in order with fuzz.
    rejected = sum(int(c["properties"]["hunks_rejected"]) for c in apply)
    total = rejected + sum(int(c["properties"]["hunks_applied"]) for c in apply)
    assert (total, rejected) == (77, 24)


@pytest.mark.long
def test_gmem_port_end_to_end(out: Path) -> None:
    # 120 s a boot, not series.yaml's 240: a silent hang (lifetime's, zap_device's, now and
    # then as_lifecycle's) costs half. Most workloads end within a minute beside another
    # test's guests (vma_ops once took 111 s); a timeout is still that workload's verdict.
    rc, run_dir = run_harness("patches/gmem-rfc-v1-6.12", out, "--timeout", "120")
    suites = results(run_dir)
    assert rc in (0, 1)
    assert suites["apply"]["status"] == "pass"
    assert suites["kconfig"]["status"] == "pass"
    assert "CONFIG_GMEM=y" in (run_dir / "config").read_text()
    assert suites["build"]["status"] == "pass", suites["build"]["message"]
    workloads = (PROJECT / "guest-tests/gmem/workloads").read_text().split()
    ran = [c["name"] for c in suites["gmem"]["children"]]
    assert ran == workloads
    # Every workload reached a verdict of its own: none lost to another's crash.
    assert all(not c["name"].startswith("(") for c in suites["gmem"]["children"])
    # gmem=on reached the guest: no workload skipped for the lack of it, and the
    # feature really ran (the kernel's printed command line is truncated by vng's).
    messages = [c.get("message", "") for c in suites["gmem"]["children"]]
    assert not any("gmem=on" in m for m in messages)
    assert any(c["status"] == "pass" for c in suites["gmem"]["children"])


# The serialization tests on one worker, the planted lock first: the others then find
# the base's lock-statistics kernel built (two workers would build it cold at once), and
# its boots kept (compare keeps the bare base's boots under icount).
LOCKSTAT = pytest.mark.xdist_group("lockstat")
KEPT_BASE_BOOTS: list[Path] = []  # the planted lock's run, once it kept them


@pytest.mark.long
@LOCKSTAT
def test_compare_serialization_finds_the_planted_global_lock(out: Path) -> None:
    """Every anonymous fault under one mutex: anon4k is more serialized for threads and
    for processes, and that mutex is named. (That the timing pass does not call pf1's 4 KiB
    fault rate slower is judged on its recorded boots: test_compare_serial.py.)"""
    rc, run_dir = run_harness(
        "patches/fixtures/planted-lock-global",
        out,
        *("--serialization-only", "--serial-scenario", "anon4k"),
        command="compare",
    )
    data = json.loads((run_dir / "results.json").read_text())
    lock = data["serialization"]
    verdicts = {m["name"]: m for m in lock["metrics"]}
    for mode in ("threads", "procs"):
        assert verdicts[f"lock.anon4k.{mode}.serial_pct"]["verdict"] == "worse"
    culprits = {(c["scenario"], c["side"]): c["class"] for c in lock["culprits"]}
    assert culprits[("anon4k.threads", "B")] == "harness_planted_fault_lock"
    assert rc == 1  # more serialized fails its testcase
    junit = ET.parse(run_dir / "junit.xml").getroot()
    failed = {c.get("name") for c in junit.iter("testcase") if c.find("failure") is not None}
    assert "lock.anon4k.threads.serial_pct" in failed
    assert "more serialized" in (run_dir / "table.txt").read_text()
    if "serial_a_kept" not in data:  # the first run on this cache: it booted A and kept it
        KEPT_BASE_BOOTS.append(run_dir)


@pytest.mark.long
@LOCKSTAT
def test_compare_serialization_flips_nothing_on_the_base_against_itself(out: Path) -> None:
    """The A/A of the serialization pass: the base's lock-statistics kernel booted as both
    sides, and nothing else (--serialization-only). No lock metric may come out more or
    less serialized."""
    rc, run_dir = run_harness(
        "patches/fixtures/planted-lock-global",
        out,
        *("--aa", "--serialization-only", "--serial-scenario", "anon4k"),
        command="compare",
    )
    data = json.loads((run_dir / "results.json").read_text())
    lock = data["serialization"]
    # A boot that failed (under icount a two-vCPU boot now and then stalls) is named, is
    # never green, and is booted once more: every figure still stands on the fixed n.
    boots = [json.loads(line) for line in (run_dir / "serial/boots.jsonl").open()]
    failed = {f"{b['side']}{b['index']}" for b in boots if not b["ok"]}
    named = set()
    for why in lock["invalid"]:
        boot = re.search(r"\(serial boot (\w+)\)", why)
        assert boot, why  # nothing but a failed boot may spoil the pass
        named.add(boot[1])
    assert named == failed, lock["invalid"]
    for metric in lock["metrics"]:
        assert metric["n_a"] == metric["n_b"] == data["serial_boots_per_side"], metric
    verdicts = {m["name"]: m["verdict"] for m in lock["metrics"]}
    assert set(verdicts) == {
        f"lock.anon4k.{mode}.{what}"
        for mode in ("threads", "procs")
        for what in ("serial_pct", "shared_acq_per_op")
    }
    assert not {v for v in verdicts.values()} & {"worse", "better"}, verdicts
    assert "compare" not in {s["name"] for s in data["suites"]}  # no timing pass
    assert rc == (1 if failed else 0)
    # After the planted lock's run, side A is its base boots, kept: the A/A of kept
    # against fresh base boots.
    if KEPT_BASE_BOOTS:
        assert data["serial_a_kept"].startswith("A side: 5 boot(s) kept"), data
        kept = [b["console"] for b in boots if b["side"] == "A"]
        assert all(c.startswith(f"{KEPT_BASE_BOOTS[0]}/serial/boots/") for c in kept), kept


@pytest.mark.long
@LOCKSTAT
@pytest.mark.parametrize(
    ("fixture", "worse"),
    [("planted-lock-mm", {"threads"}), ("planted-lock-pt", set())],
    ids=["per-mm", "per-page"],
)
def test_compare_serialization_tells_a_per_mm_lock_from_a_per_page_one(
    out: Path, fixture: str, worse: set[str]
) -> None:
    """A mutex chosen by the mm: more serialized for threads (one mm), not for processes.
    One chosen by the page table page: not more serialized at all (disjoint memory takes
    another instance). Side A: the base boots the planted lock's run kept."""
    rc, run_dir = run_harness(
        f"patches/fixtures/{fixture}",
        out,
        *("--serialization-only", "--serial-scenario", "anon4k"),
        command="compare",
    )
    data = json.loads((run_dir / "results.json").read_text())
    lock = data["serialization"]
    verdicts = {m["name"]: m["verdict"] for m in lock["metrics"]}
    assert all(m["n_b"] == data["serial_boots_per_side"] for m in lock["metrics"]), lock
    for mode in ("threads", "procs"):
        verdict = verdicts[f"lock.anon4k.{mode}.serial_pct"]
        assert (verdict == "worse") == (mode in worse), verdicts
    assert rc == (1 if worse else 0) or lock["invalid"], lock["invalid"]


@pytest.mark.long
def test_compare_finds_the_planted_fault_path_regression(out: Path) -> None:
    """The planted series adds work to do_anonymous_page only, outside any lock: the 4 KiB
    anonymous fault rate must come out worse, the THP fault rate (another path) must not,
    and anon4k must not come out more serialized (the timing and serialization passes in
    one run; its timing pass takes long enough that the planted lock's run, first on the
    other worker, has by then built the lock-statistics base and kept its boots)."""
    rc, run_dir = run_harness(
        "patches/fixtures/planted-slow",
        out,
        *("--bench", "pf1", "--reps", "3"),
        *("--serialization", "--serial-scenario", "anon4k"),
        command="compare",
    )
    data = json.loads((run_dir / "results.json").read_text())
    verdicts = {m["name"]: m for m in data["compare"]["metrics"]}
    assert rc == 1
    assert verdicts["pf1.thp_never.pages_per_s"]["verdict"] == "worse"
    assert verdicts["pf1.thp_always.pages_per_s"]["verdict"] != "worse"
    assert verdicts["pf1.thp_never.pages_per_s"]["n_a"] >= 5  # fixed up front from the family
    assert len((run_dir / "boots.jsonl").read_text().splitlines()) == 2 * data["boots_per_side"]
    lock = {m["name"]: m["verdict"] for m in data["serialization"]["metrics"]}
    for mode in ("threads", "procs"):
        assert lock[f"lock.anon4k.{mode}.serial_pct"] != "worse", lock
    junit = ET.parse(run_dir / "junit.xml").getroot()
    failed = [c.get("name") for c in junit.iter("testcase") if c.find("failure") is not None]
    assert failed == ["pf1.thp_never.pages_per_s"]
    assert "data:image/png;base64," in (run_dir / "report.html").read_text()


def test_a_resident_loop_reruns_on_enter_and_stops_walking_the_tree(out: Path) -> None:
    """harness test --loop on the demo: the first run that reuses the worktree checks it
    with git (the first run, on a warm slot; else the first rerun), and proves it clean;
    after that, inotify's word is taken. Ctrl-C ends it with the last status."""
    where = out / "loop"
    child = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "test", str(PROJECT / "patches/fixtures/demo")]
        + ["--loop", "--out", str(where)],
        cwd=PROJECT, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # the progress lines say when the loop waits
    )  # fmt: skip
    assert child.stdin is not None and child.stdout is not None
    runs = []
    try:
        for rerun in (True, True, False):
            line = ""
            while not line.startswith("  results: "):
                line = child.stdout.readline()
                assert line, "the loop ended before its run did"
            runs.append(Path(line.removeprefix("  results: ").strip()))
            while "--loop: waiting for a change" not in line:
                line = child.stdout.readline()
                assert line, "the loop ended instead of waiting"
            if rerun:  # not after the last: the Ctrl-C must find the loop waiting
                child.stdin.write("\n")
                child.stdin.flush()
    finally:
        child.send_signal(signal.SIGINT)
        status = child.wait(timeout=120)
    assert status == 0
    applied = [results(run)["apply"].get("properties") or {} for run in runs]
    assert "checked" not in applied[0]  # walked, or applied afresh
    assert "reused" in applied[1] and "inotify" in applied[2]["checked"]
