#!/usr/bin/env python3
"""Benchmark: harness's minimal kernel vs virtme-ng's default kernel, one run.

Prints, on this machine and the Debian 6.12 tree:
  1. cold build time (ccache off) of harness's config vs vng's default (what `vng --kconfig`
     runs: virtme-configkernel --defconfig);
  2. warm rebuild after touching one mm file (harness config);
  3. boot-to-first-test time (vng start -> first guest output line), both kernels.
Usage: python3 bench/bench.py [--skip-vng-build] [--boots N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import build, kconfig, kvm, tree  # noqa: E402
from harness.proc import kill_group  # noqa: E402

CACHE = Path(os.environ.get("HARNESS_CACHE", Path.home() / ".cache/harness"))
WORK = CACHE / "bench"


def timed(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> float:
    started = time.monotonic()
    subprocess.run(
        argv,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.monotonic() - started


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
    spec = build.BuildSpec(src, out, os.cpu_count() or 1, targets=("bzImage",))
    seconds = timed(build.make_argv(spec), env={**build.make_env(spec), "CCACHE_DISABLE": "1"})
    return seconds, enabled


def first_output_seconds(kernel: Path, use_kvm: bool) -> float:
    argv = ["vng", "--run", str(kernel), "--memory", "1G", "--exec", "echo first-test"]
    if not use_kvm:
        argv.insert(1, "--disable-kvm")
    started = time.monotonic()
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True
    )
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if "first-test" in line:
                return time.monotonic() - started
        raise RuntimeError(f"{kernel}: guest never printed")
    finally:
        # Without ACPI our kernel halts instead of powering off: stop QEMU ourselves.
        kill_group(proc)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-vng-build", action="store_true")
    parser.add_argument("--boots", type=int, default=3)
    parser.add_argument("--boots-only", action="store_true", help="reuse the built kernels")
    args = parser.parse_args()
    src = tree.debian_repo("debian:6.12", CACHE)
    ours = WORK / "harness-min"
    base_fragment = kconfig.find_fragment(kconfig.BASE_FRAGMENT, None)
    merge = [
        str(src / "scripts/kconfig/merge_config.sh"),
        "-n",
        "-O",
        str(ours),
        str(base_fragment),
    ]
    results: dict[str, float | int | str] = {}
    vng_out = WORK / "vng-default"
    if not args.boots_only:
        t, n = cold_build(src, ours, [merge, ["make", f"O={ours}", "olddefconfig"]])
        results.update(harness_cold_build_s=round(t, 1), harness_options=n)
        print(f"cold build, harness minimal config: {t:7.1f} s  ({n} options y/m)", flush=True)
        if not args.skip_vng_build:
            t2, n2 = cold_build(
                src, vng_out, [["virtme-configkernel", "--defconfig", f"O={vng_out}"]]
            )
            results.update(
                vng_cold_build_s=round(t2, 1), vng_options=n2, cold_ratio=round(t / t2, 3)
            )
            print(f"cold build, vng --kconfig default:  {t2:7.1f} s  ({n2} options y/m)")
            print(f"  ratio harness/vng: {t / t2:.2f} (target <= 0.35)", flush=True)
        (src / "mm/mmap.c").touch()
        spec = build.BuildSpec(src, ours, os.cpu_count() or 1, targets=("bzImage",))
        t3 = timed(build.make_argv(spec), env=build.make_env(spec))
        results["warm_rebuild_touch_mm_mmap_s"] = round(t3, 1)
        print(f"warm rebuild after touching mm/mmap.c: {t3:.1f} s", flush=True)
    use_kvm = kvm.verdict(CACHE).usable
    results["accel"] = "kvm" if use_kvm else "tcg"
    kernels = {"harness": ours / "arch/x86/boot/bzImage"}
    if (vng_out / "arch/x86/boot/bzImage").exists():
        kernels["vng"] = vng_out / "arch/x86/boot/bzImage"
    for label, kernel in kernels.items():
        samples = [first_output_seconds(kernel, use_kvm) for _ in range(args.boots)]
        results[f"{label}_boot_to_first_test_s"] = round(statistics.median(samples), 2)
        print(
            f"boot to first test ({results['accel']}), {label} kernel: median "
            f"{statistics.median(samples):.2f} s of {[round(s, 2) for s in samples]}"
        )
    if "vng_boot_to_first_test_s" in results:
        ratio = float(results["harness_boot_to_first_test_s"]) / float(
            results["vng_boot_to_first_test_s"]
        )
        results["boot_ratio"] = round(ratio, 3)
        print(f"  ratio harness/vng: {ratio:.2f} (target <= 0.5)")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
