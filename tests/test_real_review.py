"""harness review for real, on the hidden-culprit fixture (bisect-boot-warn: patch 3 of 5
makes the boot WARN): check per patch, the full series booted beside the base, and the
WARN, which the base does not have, bisected to patch 3. The cost table is compare's own
real tests' (tests/test_real.py); here the review runs its first three stages, on the
default config's warm builds.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import PROJECT

pytestmark = pytest.mark.real


def test_review_names_the_patch_that_makes_the_boot_warn(tmp_path: Path) -> None:
    # Two failing runs bound p from below by 0.5 at --min-confidence 0.5 (a quarter of the
    # budget): a good candidate takes 4 clean runs.
    argv = [sys.executable, "-m", "harness.cli", "review"]
    argv += [str(PROJECT / "patches/fixtures/bisect-boot-warn"), "--out", str(tmp_path)]
    argv += ["--stages", "check,test,bisect", "--matrix", "kernel"]
    argv += ["--repeats", "2", "--min-confidence", "0.5"]
    rc = subprocess.run(argv, cwd=PROJECT, timeout=3600).returncode
    (run_dir,) = tmp_path.glob("review-*")
    ET.parse(run_dir / "junit.xml")
    data = json.loads((run_dir / "results.json").read_text())
    assert rc == 1  # a new WARN is a failure of the reply
    suites = {s["name"]: s for s in data["suites"]}
    patches = [name for name in suites if name[:4].isdigit()]
    assert len(patches) == 5
    for name in patches:  # every patch builds: the WARN is a runtime failure, not check's
        builds = [c["status"] for c in suites[name]["children"] if c["name"] == "build"]
        assert builds == ["pass"], suites[name]
    (warn,) = suites["runtime"]["children"]
    assert warn["name"].startswith("warning: WARNING: CPU: N PID: N at fs/proc/harness_bisect.c")
    assert warn["properties"]["first_bad_patch"] == "3", warn
    assert warn["properties"]["verdict"] == "confirmed"
    bisection = json.loads((run_dir / warn["properties"]["bisection"] / "bisect.json").read_text())
    assert bisection["result"]["builds"] <= 2 + math.ceil(math.log2(5 + 1))
    assert set(data["stage_seconds"]) >= {"check", "test", "bisect", "total"}
    mail = (run_dir / "review.eml").read_text()
    assert "first seen at patch 3/5 proc: harness_bisect: check the boot state" in mail
    assert "reproduce: harness bisect" in mail and "| Reported-by: " in mail
