"""Builds shared across CI runners through ccache's redis remote storage, for real: a real
redis-server on 127.0.0.1, two tinyconfig builds of lib/ (with the prepare steps and host
tools it needs) of the harness's base tree, each from an empty local ccache
(bench/ccache_remote.sh; the same script builds a whole vmlinux by default). The second
runner must get at least 90 % of its objects from redis. Scratch build and ccache dirs only.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import PROJECT

from harness.cli import default_cache

pytestmark = pytest.mark.real

BASE_TREE = default_cache() / "trees" / "debian-6.12"  # made by the earlier real tests


def test_a_runner_with_an_empty_ccache_gets_its_objects_from_redis(tmp_path: Path) -> None:
    assert (BASE_TREE / "Makefile").is_file(), f"{BASE_TREE}: no base tree (run harness once)"
    script = PROJECT / "bench" / "ccache_remote.sh"
    done = subprocess.run(
        ["sh", str(script), str(BASE_TREE), str(tmp_path / "scratch"), "tinyconfig", "2", "lib/"],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    print(done.stdout)
    shares = [float(s) for s in re.findall(r"objects from redis: ([\d.]+) %", done.stdout)]
    assert len(shares) == 2, done.stdout
    assert shares[0] < 10  # the first runner filled redis: it found nothing there
    assert shares[1] >= 90, done.stdout
