#!/usr/bin/env python3
"""Benchmark: every warm-loop figure of harness against its anchor, in one run.

Prints, on the machine it runs on and the Debian 6.12 tree:
  1. cold build time (ccache off) of harness's config vs vng's default (what `vng --kconfig`
     runs: virtme-configkernel --defconfig)                       [--cold]
  2. warm rebuild after touching one mm file (harness config)    [--cold]
  3. boot-to-first-test time (vng start -> first guest output line), harness's kernel
     booted as harness boots it vs vng's default kernel booted the way vng does;
  4. warm overhead: `harness test` on the demo fixture with nothing changed, the share of
     its wall time spent outside the kernel build, guest-tests build, boot and tests
     (results.json stage_seconds), n runs after one warm-up: as a new process each time, and
     as a rerun (Enter) of a resident `harness test --loop`, in turn;
  5. `harness --help` and `harness parse` wall times (median of n);
  6. isolated boots serial vs side by side, when asked (--isolated SERIES): `harness test
     SERIES --no-kvm` with --jobs 1 and --jobs 2 in turn (A B A B ...), whole-run wall time
     and the boot loop's (boot + tests stage seconds), each pair's ratio, the load;
  7. with --isolated too: two 1-vCPU guests at once against one 2-vCPU guest after another
     (both with kconfigs/acpi.config, so that the guest sees its second CPU), in turn.
Usage: python3 bench/bench.py [--cold] [--skip-vng-build] [--boots N] [--runs N]
       [--isolated SERIES [--pairs N]] [--only cli,boot,warm,isolated,vcpus]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import proc  # noqa: E402
from harness.boot import kvm, vm  # noqa: E402
from harness.build import kconfig, make  # noqa: E402
from harness.tree import worktree  # noqa: E402

CACHE = Path(os.environ.get("HARNESS_CACHE", Path.home() / ".cache/harness"))
WORK = CACHE / "bench"
HARNESS = [sys.executable, "-m", "harness.cli"]
DEMO = ROOT / "patches/fixtures/demo"
CONSOLE = ROOT / "tests/fixtures/console/warning_oops_panic.log"


def timed(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> float:
    started = time.monotonic()
    subprocess.run(
        argv,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.monotonic() - started


def median_of(samples: list[float]) -> str:
    return f"median {statistics.median(samples):.2f} s of {[round(s, 2) for s in samples]}"


def cold_build(src: Path, out: Path, configure: list[list[str]]) -> tuple[float, int]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for argv in configure:
        subprocess.run(argv, cwd=src, check=True, stdout=subprocess.DEVNULL)
    enabled = sum(
        1 for v in kconfig.parse_options((out / ".config").read_text()).values() if v in ("y", "m")
    )
    # The harness's own make line, with ccache told to stand aside: a cold build, and
    # the same command line the warm rebuild uses (else Kbuild would rebuild it all).
    spec = make.BuildSpec(src, out, os.cpu_count() or 1, targets=("bzImage",))
    seconds = timed(make.make_argv(spec), env={**make.make_env(spec), "CCACHE_DISABLE": "1"})
    return seconds, enabled


def harness_configure(src: Path, ours: Path) -> list[list[str]]:
    """harness's minimal config on the bare base: merge_config.sh, then olddefconfig."""
    base_fragment = kconfig.find_fragment(kconfig.BASE_FRAGMENT, None)
    merge = [str(src / "scripts/kconfig/merge_config.sh"), "-n", "-O", str(ours)]
    return [[*merge, str(base_fragment)], ["make", f"O={ours}", "olddefconfig"]]


def cold_builds(src: Path, ours: Path, vng_out: Path, args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    t, n = cold_build(src, ours, harness_configure(src, ours))
    results.update(harness_cold_build_s=round(t, 1), harness_options=n)
    print(f"cold build, harness minimal config: {t:7.1f} s  ({n} options y/m)", flush=True)
    if not args.skip_vng_build:
        configure = [["virtme-configkernel", "--defconfig", f"O={vng_out}"]]
        t2, n2 = cold_build(src, vng_out, configure)
        results.update(vng_cold_build_s=round(t2, 1), vng_options=n2, cold_ratio=round(t / t2, 3))
        print(f"cold build, vng --kconfig default:  {t2:7.1f} s  ({n2} options y/m)")
        print(f"  ratio harness/vng: {t / t2:.2f} (target <= 0.35)", flush=True)
    (src / "mm/mmap.c").touch()
    spec = make.BuildSpec(src, ours, os.cpu_count() or 1, targets=("bzImage",))
    t3 = timed(make.make_argv(spec), env=make.make_env(spec))
    results["warm_rebuild_touch_mm_mmap_s"] = round(t3, 1)
    print(f"warm rebuild after touching mm/mmap.c: {t3:.1f} s", flush=True)
    return results


def first_output_seconds(kernel: Path, use_kvm: bool) -> float:
    """vng's default kernel booted the way vng boots it: `vng --run K --exec`."""
    argv = ["vng", "--run", str(kernel), "--memory", "1G", "--exec", "echo first-test"]
    if not use_kvm:
        argv.insert(1, "--disable-kvm")
    started = time.monotonic()
    popen = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True
    )
    assert popen.stdout is not None
    try:
        for line in popen.stdout:
            if "first-test" in line:
                return time.monotonic() - started
        raise RuntimeError(f"{kernel}: guest never printed")
    finally:
        proc.kill_group(popen)


def harness_first_output_seconds(kernel: Path, use_kvm: bool) -> float:
    """harness's kernel booted as harness boots it: vm.vng_argv's command line (--verbose,
    --force-9p) in vm.guest_sandbox (with guest_init's replacements), the guest's stdout
    in a file, the console on a pipe (drained)."""
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        boot_dir = Path(tmp)
        spec = vm.VmSpec(
            kernel,
            "echo first-test",
            boot_dir / "console.log",
            boot_dir / "guest.log",
            memory="1G",
            kvm=use_kvm,
        )
        started = time.monotonic()
        box = vm.guest_sandbox(spec)
        with open(spec.guest_log, "wb") as out, proc.watched(vm.vng_argv(spec), out, box) as popen:
            assert popen.stderr is not None
            stderr, console = popen.stderr, []
            drain = threading.Thread(target=lambda: console.append(stderr.read()), daemon=True)
            drain.start()
            while b"first-test" not in spec.guest_log.read_bytes():
                if popen.poll() is not None or time.monotonic() - started > 300:
                    drain.join(5)
                    tail = b"".join(console).decode(errors="replace")[-2000:]
                    raise RuntimeError(f"{kernel}: guest never printed:\n{tail}")
                time.sleep(0.01)
            return time.monotonic() - started


def harness_kernel(src: Path, ours: Path) -> Path:
    """The bench's own build of the bare base with harness's config (ccache on, untimed,
    when --cold did not make it): a slot's build dir holds whatever series ran last."""
    kernel = ours / "arch/x86/boot/bzImage"
    if not kernel.exists():
        ours.mkdir(parents=True, exist_ok=True)
        for argv in harness_configure(src, ours):
            subprocess.run(argv, cwd=src, check=True, stdout=subprocess.DEVNULL)
        spec = make.BuildSpec(src, ours, os.cpu_count() or 1, targets=("bzImage",))
        subprocess.run(make.make_argv(spec), env={**os.environ, **make.make_env(spec)}, check=True)
    return kernel


def boots(src: Path, ours: Path, vng_out: Path, n: int) -> dict[str, Any]:
    use_kvm = kvm.verdict(CACHE).usable
    results: dict[str, Any] = {"accel": "kvm" if use_kvm else "tcg"}
    kernels: dict[str, tuple[Path | None, Callable[[Path, bool], float]]] = {
        "harness": (harness_kernel(src, ours), harness_first_output_seconds),
        "vng": (vng_out / "arch/x86/boot/bzImage", first_output_seconds),
    }
    # Alternate the two kernels boot by boot: a load change on the shared host hits both.
    samples: dict[str, list[float]] = {label: [] for label in kernels}
    present = {k: v for k, v in kernels.items() if v[0] is not None and v[0].exists()}
    for label in set(kernels) - set(present):
        print(f"boot to first test, {label} kernel: not built (run with --cold)")
    for _ in range(n):
        for label, (kernel, boot) in present.items():
            assert kernel is not None
            samples[label].append(boot(kernel, use_kvm))
    for label in present:
        results[f"{label}_boot_to_first_test_s"] = round(statistics.median(samples[label]), 2)
        print(
            f"boot to first test ({results['accel']}), {label} kernel: {median_of(samples[label])}"
        )
    if len(present) == 2:
        ratio = results["harness_boot_to_first_test_s"] / results["vng_boot_to_first_test_s"]
        results["boot_ratio"] = round(ratio, 3)
        print(f"  ratio harness/vng: {ratio:.2f} (target <= 0.5)")
    return results


INSIDE = ("build", "guest-tests build", "boot", "tests")  # what the share is outside of


def _stages(run_dir: Path) -> dict[str, float]:
    stages: dict[str, float] = json.loads((run_dir / "results.json").read_text())["stage_seconds"]
    return stages


class Resident:
    """`harness test DEMO --loop`: Enter on its stdin is a rerun; the summary's `results:`
    line on its stdout is the end of one."""

    def __init__(self, out: str) -> None:
        argv = [*HARNESS, "test", str(DEMO), "--loop", "--out", out, "-q"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.child = subprocess.Popen(
            argv, cwd=ROOT, env=env, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def finished(self) -> Path:
        assert self.child.stdout is not None
        for line in self.child.stdout:
            if line.startswith("  results: "):
                return Path(line.removeprefix("  results: ").strip())
        raise RuntimeError(f"harness test --loop ended: status {self.child.wait()}")

    def rerun(self) -> tuple[float, Path]:
        assert self.child.stdin is not None
        started = time.monotonic()
        self.child.stdin.write("\n")
        self.child.stdin.flush()
        run_dir = self.finished()
        return time.monotonic() - started, run_dir

    def close(self) -> None:
        self.child.send_signal(signal.SIGINT)  # Ctrl-C while it waits: the loop ends
        self.child.wait(timeout=30)


def warm_overhead(runs: int) -> dict[str, Any]:
    """`harness test` on the demo fixture, nothing changed: a new process each time, and a
    rerun of a resident `--loop`, in turn; each after a warm-up; `runs` of each."""
    shares: dict[str, list[float]] = {"process": [], "resident": []}
    walls: dict[str, list[float]] = {"process": [], "resident": []}
    with tempfile.TemporaryDirectory() as out:
        resident = Resident(f"{out}/resident")
        try:
            resident.finished()  # its first run: the warm-up of the resident process
            for i in range(runs + 1):
                wall = timed([*HARNESS, "test", str(DEMO), "--out", f"{out}/process", "-q"], ROOT)
                newest = max(Path(out, "process").glob("*/results.json"), key=os.path.getmtime)
                measured = {"process": (wall, newest.parent), "resident": resident.rerun()}
                if i == 0:
                    continue  # the warm-up: whatever the previous run on this slot left
                for how, (took, run_dir) in measured.items():
                    stages = _stages(run_dir)
                    inside = sum(stages.get(s, 0.0) for s in INSIDE)
                    walls[how].append(took)
                    shares[how].append(100 * (took - inside) / took)
                    print(f"  warm run {i}, {how}: {took:.2f} s, stages {stages}", flush=True)
        finally:
            resident.close()
    results: dict[str, Any] = {}
    for how, suffix in (("process", ""), ("resident", "_resident")):
        results[f"warm_run{suffix}_s"] = round(statistics.median(walls[how]), 2)
        results[f"warm_overhead{suffix}_pct"] = round(statistics.median(shares[how]), 2)
        print(
            f"warm overhead (demo, nothing changed, n={runs}, {how}): median"
            f" {results[f'warm_overhead{suffix}_pct']}% of {results[f'warm_run{suffix}_s']} s"
            " outside build and boot (target <= 2 %)"
        )
    return results


JOBS_VARIANTS = {"jobs1": ["--jobs", "1"], "jobs2": ["--jobs", "2"]}
# The question: on 2 cores, two 1-vCPU guests at once against one 2-vCPU guest after
# another. Both with ACPI: without it the guest finds one CPU whatever --cpus says.
VCPU_VARIANTS = {
    "two_1vcpu_guests": ["--kconfig", "acpi", "--jobs", "2", "--cpus", "1"],
    "one_2vcpu_guest": ["--kconfig", "acpi", "--jobs", "1", "--cpus", "2"],
}


def isolated_boots(series: Path, pairs: int, variants: dict[str, list[str]]) -> dict[str, Any]:
    """Each variant's `harness test SERIES` on a warm slot, in turn (A B, A B, ...): the
    whole run's wall time and its boot loop's (boot + tests stage seconds)."""
    rows: dict[str, list[tuple[float, float]]] = {label: [] for label in variants}
    with tempfile.TemporaryDirectory() as out:
        for pair in range(pairs):
            for label, extra in variants.items():
                load = os.getloadavg()[0]
                where = f"{out}/{pair}-{label}"
                wall = timed(
                    [*HARNESS, "test", str(series), "--no-kvm", *extra, "--out", where, "-q"],
                    cwd=ROOT,
                )
                (result,) = Path(where).glob("*/results.json")
                stages = json.loads(result.read_text()).get("stage_seconds", {})
                loop = stages.get("boot", 0.0) + stages.get("tests", 0.0)
                rows[label].append((wall, loop))
                row = f"{wall:.1f} s, boots {loop:.1f} s, load {load:.1f}"
                print(f"  pair {pair + 1} {' '.join(extra)}: {row}", flush=True)
    results: dict[str, Any] = {}
    for label, runs in rows.items():
        results[f"isolated_{label}_s"] = round(statistics.median(w for w, _ in runs), 1)
        results[f"isolated_{label}_boots_s"] = round(statistics.median(b for _, b in runs), 1)
    (a, b) = variants
    ratios = [x[0] / y[0] for x, y in zip(rows[b], rows[a], strict=True)]
    results[f"isolated_ratio_{b}_{a}"] = round(statistics.median(ratios), 3)
    print(
        f"isolated boots ({series.name}, n={pairs} pairs): {a} {results[f'isolated_{a}_s']} s,"
        f" {b} {results[f'isolated_{b}_s']} s; ratio {b}/{a} {results[f'isolated_ratio_{b}_{a}']}"
    )
    return results


def cli_times(n: int) -> dict[str, Any]:
    helps = [timed([*HARNESS, "--help"], cwd=ROOT) for _ in range(n)]
    parses = [timed([*HARNESS, "parse", str(CONSOLE)], cwd=ROOT) for _ in range(n)]
    print(f"harness --help: {median_of(helps)} (target <= 0.2)")
    print(f"harness parse (recorded console): {median_of(parses)} (target <= 0.3)")
    return {
        "help_s": round(statistics.median(helps), 3),
        "parse_s": round(statistics.median(parses), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold", action="store_true", help="also the cold builds (minutes)")
    parser.add_argument("--skip-vng-build", action="store_true")
    parser.add_argument("--boots", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3, help="warm demo runs")
    parser.add_argument("--cli-runs", type=int, default=10)
    parser.add_argument("--isolated", type=Path, help="a series with isolated suites")
    parser.add_argument("--pairs", type=int, default=2, help="--isolated: A/B pairs")
    parser.add_argument("--only", default="cli,boot,warm,isolated,vcpus", help="figures to take")
    args = parser.parse_args()
    only = set(args.only.split(","))
    src = worktree.debian_repo("debian:6.12", CACHE)
    ours, vng_out = WORK / "harness-min", WORK / "vng-default"
    results: dict[str, Any] = {"load_before": os.getloadavg()[0]}
    if args.cold:
        results.update(cold_builds(src, ours, vng_out, args))
    if "cli" in only:
        results.update(cli_times(args.cli_runs))
    if "boot" in only:
        results.update(boots(src, ours, vng_out, args.boots))
    if "warm" in only:
        results.update(warm_overhead(args.runs))
    if args.isolated and "isolated" in only:
        results.update(isolated_boots(args.isolated, args.pairs, JOBS_VARIANTS))
    if args.isolated and "vcpus" in only:
        results.update(isolated_boots(args.isolated, args.pairs, VCPU_VARIANTS))
    results["load_after"] = os.getloadavg()[0]
    print(
        f"host load (1 min) before/after: {results['load_before']:.1f}/{results['load_after']:.1f}"
    )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
