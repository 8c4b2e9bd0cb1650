"""The build robots' matrix for real: `harness check` of series the kernel test robot
reported build errors on (tests/fixtures/robot-cases), in the cells that reproduce them:
i386 allmodconfig cross-compiled with gcc, and x86_64 with an option the patch depends on
turned off. The robot's own words must come out, on the patch it named."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT

pytestmark = pytest.mark.real

CASES = PROJECT / "tests" / "fixtures" / "robot-cases"


def check(case: str, cells: str, tmp_path: Path) -> tuple[int, dict[str, dict], Path]:  # type: ignore[type-arg]
    series = tmp_path / case
    series.mkdir()
    for patch in sorted((CASES / case).glob("0*.patch")):  # not the robot's own mail
        shutil.copy(patch, series)
    out = tmp_path / "runs"
    argv = [sys.executable, "-m", "harness.cli", "check", str(series), "--matrix", cells]
    done = subprocess.run([*argv, "--out", str(out)], cwd=PROJECT, timeout=3600)
    (run_dir,) = out.iterdir()
    data = json.loads((run_dir / "results.json").read_text())
    return done.returncode, {s["name"][:4]: s for s in data["suites"]}, run_dir


def cells(suite: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    (matrix,) = [c for c in suite["children"] if c["name"] == "matrix"]
    return {c["name"]: c for c in matrix["children"]}


def test_i386_finds_the_64_bit_division_the_robot_found(tmp_path: Path) -> None:
    rc, suites, run_dir = check("ina233-divdi3-modpost", "i386", tmp_path)
    assert rc == 1
    found = cells(suites["0002"])["i386"]
    assert found["status"] == "fail", found
    robot = 'ERROR: modpost: "__divdi3" [drivers/hwmon/pmbus/ina233.ko] undefined!'
    assert f">> {robot}" in found["details"]
    props = found["properties"]
    assert props["arch"] == "i386" and "i686-linux-gnu-gcc" in props["compiler"]
    assert (run_dir / "config-i386").is_file()
    # the bindings patch: nothing to compile
    assert cells(suites["0001"])["i386"]["status"] == "pass"


def test_an_option_turned_off_finds_the_robot_s_unused_table(tmp_path: Path) -> None:
    rc, suites, _ = check("lt3074-of-match-unused", "options-off", tmp_path)
    assert rc == 1
    off = cells(suites["0002"])
    assert off["x86_64-no-CONFIG_OF"]["status"] == "fail", off
    assert "'lt3074_of_match' defined but not used" in off["x86_64-no-CONFIG_OF"]["details"]
    assert "(only with CONFIG_OF=n)" in off["x86_64-no-CONFIG_OF"]["message"]
