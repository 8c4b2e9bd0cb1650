#!/usr/bin/env python3
"""Benchmark: every warm-loop figure of harness against its anchor, in one run.

Prints, on this machine and the Debian 6.12 tree:
  1. cold build time (ccache off) of harness's config vs vng's default (what `vng --kconfig`
     runs: virtme-configkernel --defconfig)                       [--cold]
  2. warm rebuild after touching one mm file (harness config)    [--cold]
  3. boot-to-first-test time (vng start -> first guest output line), harness's kernel
     booted as harness boots it vs vng's default kernel booted the way vng does;
  4. warm overhead: `harness test` on the demo fixture with nothing changed, the share of
     its wall time spent outside the kernel build, guest-tests build, boot and tests
     (results.json stage_seconds), n runs after one warm-up;
  5. `harness --help` and `harness parse` wall times (median of n);
  6. isolated boots serial vs side by side, when asked (--isolated SERIES): `harness test
     SERIES --no-kvm` with --jobs 1 and --jobs 2 in turn (A B A B ...), whole-run wall time
     and the boot loop's (boot + tests stage seconds), each pair's ratio, the load.
Usage: python3 bench/bench.py [--cold] [--skip-vng-build] [--boots N] [--runs N]
       [--isolated SERIES [--pairs N]] [--only cli,boot,warm,isolated]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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


def warm_overhead(runs: int) -> dict[str, Any]:
    """`harness test` on the demo fixture, nothing changed: one warm-up, then `runs` runs."""
    shares, walls = [], []
    with tempfile.TemporaryDirectory() as out:
        for i in range(runs + 1):
            wall = timed([*HARNESS, "test", str(DEMO), "--out", out, "-q"], cwd=ROOT)
            newest = max(Path(out).glob("*/results.json"), key=lambda p: p.stat().st_mtime)
            stages = json.loads(newest.read_text()).get("stage_seconds", {})
            if i == 0:
                continue  # the warm-up: whatever the previous run on this slot left
            inside = sum(
                stages.get(s, 0.0) for s in ("build", "guest-tests build", "boot", "tests")
            )
            walls.append(wall)
            shares.append(100 * (wall - inside) / wall)
            print(f"  warm run {i}: {wall:.1f} s, stages {stages}", flush=True)
    results = {
        "warm_run_s": round(statistics.median(walls), 2),
        "warm_overhead_pct": round(statistics.median(shares), 2),
    }
    print(
        f"warm overhead (demo, nothing changed, n={runs}): median {results['warm_overhead_pct']}%"
        f" of {results['warm_run_s']} s outside build and boot (target <= 2 %)"
    )
    return results


def isolated_boots(series: Path, pairs: int) -> dict[str, Any]:
    """--jobs 1 against --jobs 2 on a warm slot, in turn; the first pair's order A B."""
    rows: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as out:
        for pair in range(pairs):
            for jobs in (1, 2):
                load = os.getloadavg()[0]
                wall = timed(
                    [*HARNESS, "test", str(series), "--no-kvm", "--jobs", str(jobs)]
                    + ["--out", f"{out}/{pair}-{jobs}", "-q"],
                    cwd=ROOT,
                )
                (result,) = Path(out, f"{pair}-{jobs}").glob("*/results.json")
                stages = json.loads(result.read_text()).get("stage_seconds", {})
                loop = stages.get("boot", 0.0) + stages.get("tests", 0.0)
                rows[jobs].append((wall, loop))
                row = f"{wall:.1f} s, boots {loop:.1f} s, load {load:.1f}"
                print(f"  pair {pair + 1} --jobs {jobs}: {row}", flush=True)
    results: dict[str, Any] = {}
    for jobs, runs in rows.items():
        results[f"isolated_jobs{jobs}_s"] = round(statistics.median(w for w, _ in runs), 1)
        results[f"isolated_jobs{jobs}_boots_s"] = round(statistics.median(b for _, b in runs), 1)
    ratios = [a[0] / b[0] for a, b in zip(rows[2], rows[1], strict=True)]
    results["isolated_ratio"] = round(statistics.median(ratios), 3)
    print(
        f"isolated boots ({series.name}, n={pairs} pairs):"
        f" --jobs 1 {results['isolated_jobs1_s']} s, --jobs 2 {results['isolated_jobs2_s']} s;"
        f" ratio 2/1 {results['isolated_ratio']}"
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
    parser.add_argument("--only", default="cli,boot,warm,isolated", help="figures to take")
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
        results.update(isolated_boots(args.isolated, args.pairs))
    results["load_after"] = os.getloadavg()[0]
    print(
        f"host load (1 min) before/after: {results['load_before']:.1f}/{results['load_after']:.1f}"
    )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
