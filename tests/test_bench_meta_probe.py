"""The metadata probe (guest-tests/bench/src/meta.c) settles memory before each reading,
so its baseline does not depend on the benchmarks that ran before it; it still compiles
as the bench Makefile builds it (-Wall -Wextra -Werror). No kernel."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "guest-tests" / "bench"
META = BENCH / "src" / "meta.c"


def _body(source: str, function: str) -> str:
    match = re.search(rf"\n(static )?\w+ \**{function}\([^)]*\)\n\{{\n(.*?)\n\}}\n", source, re.S)
    assert match, function
    return match.group(2)


def test_every_reading_drops_caches_and_compacts_before_the_slabs_settle() -> None:
    source = META.read_text()
    settle = _body(source, "settle_memory")
    assert settle.index("sync()") < settle.index('"/proc/sys/vm/drop_caches", "3"')
    assert settle.index("drop_caches") < settle.index('"/proc/sys/vm/compact_memory", "1"')
    take = _body(source, "take")
    assert take.index("settle_memory();") < take.index("slab_settled(")
    # The baselines are readings like the others: every snapshot goes through take().
    code = re.sub(r"/\*.*?\*/", "", source.replace(take, ""), flags=re.S)
    assert "take(&s0)" in source and "slab_settled(" not in code


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no gcc")
def test_the_probe_compiles_as_the_bench_makefile_builds_it() -> None:
    flags = ["-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-pthread"]
    includes = [f"-I{BENCH / 'src'}", f"-I{BENCH.parent / 'gmem'}"]
    done = subprocess.run(["gcc", *flags, *includes, str(META)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
