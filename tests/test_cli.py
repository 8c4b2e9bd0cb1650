"""The exit-status contract, through the real entry point (a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT


def harness(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or PROJECT,
        timeout=60,
    )


def _bad_series(tmp_path: Path, kind: str) -> Path:
    good = next((PROJECT / "patches/fixtures/build-break").glob("*.patch")).read_text()
    if kind == "escape":
        good = good.replace("a/mm/mmap.c b/mm/mmap.c", "a/../../x b/../../x")
    elif kind == "yaml":
        (tmp_path / "series.yaml").write_text("suites: [smoke\n")
    elif kind == "unknown-key":
        (tmp_path / "series.yaml").write_text("colour: red\n")
    elif kind == "binary":
        (tmp_path / "blob.bin").write_bytes(b"\x00\x01")
    (tmp_path / "0001-x.patch").write_text(good)
    return tmp_path


@pytest.mark.parametrize("kind", ["escape", "yaml", "unknown-key", "binary"])
def test_bad_input_exits_2_with_one_line(tmp_path: Path, kind: str) -> None:
    result = harness("apply", str(_bad_series(tmp_path, kind)), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()  # refused before any tree or run dir


def test_usage_error_exits_2() -> None:
    result = harness("test")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_unknown_base_exits_2(tmp_path: Path) -> None:
    result = harness(
        "apply",
        str(PROJECT / "patches/fixtures/demo"),
        "--base",
        "fedora:40",
        "--out",
        str(tmp_path),
    )
    assert result.returncode == 2
    assert "expected debian:MAJOR.MINOR" in result.stderr


def test_tree_that_is_not_git_exits_2(tmp_path: Path) -> None:
    result = harness(
        "apply",
        str(PROJECT / "patches/fixtures/demo"),
        "--tree",
        str(tmp_path),
        "--out",
        str(tmp_path / "o"),
    )
    assert result.returncode == 2 and "not a git repository" in result.stderr


def test_apply_on_a_tree_reports_conflict_exit_1(tiny_repo: Path, tmp_path: Path) -> None:
    result = harness(
        "apply",
        str(PROJECT / "patches/fixtures/demo"),
        "--tree",
        str(tiny_repo),
        "--out",
        str(tmp_path),
        "--cache",
        str(tmp_path / "cache"),
    )
    assert result.returncode == 1, result.stderr
    (run,) = tmp_path.glob("fixture-demo-*")
    assert "0001 proc: add /proc/harness_demo" in (run / "apply-report.txt").read_text()


def test_parse_missing_log_exits_2(tmp_path: Path) -> None:
    result = harness("parse", str(tmp_path / "none.log"))
    assert result.returncode == 2 and "No such file" in result.stderr


def test_help_says_what_harness_is_with_an_example_per_command() -> None:
    import argparse

    from harness.cli import build_parser

    parser = build_parser()
    text = parser.format_help()
    assert text.split("\n\n")[1].startswith("harness applies a Linux kernel patch series")
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, sub in commands.choices.items():
        assert f"\n  harness {name} " in text, f"no example for `harness {name}`"
        unexplained = [a.dest for a in sub._actions if not a.help]
        assert unexplained == [], f"harness {name}: arguments without help"


def test_a_missing_host_tool_exits_3_naming_its_package(tmp_path: Path) -> None:
    """A PATH with everything `harness test` runs except rsync (make headers_install)."""
    import shutil

    from harness import proc

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in [*proc.BOOT_TOOLS, "sh"]:
        found = shutil.which(tool)
        if tool != "rsync" and found:
            (bin_dir / tool).symlink_to(found)
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "test", str(PROJECT / "patches/fixtures/demo")]
        + ["--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        timeout=60,
        env={**os.environ, "PATH": str(bin_dir)},
    )
    assert result.returncode == 3, result.stderr
    assert "rsync: apt-get install rsync" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()  # refused before any tree or run dir


@pytest.mark.parametrize("command", ["test", "compare", "bisect", "review"])
def test_results_where_the_guest_mounts_its_own_tmpfs_are_exit_2(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """virtme-ng's init mounts a tmpfs on /var/tmp: a run dir there is empty in the guest,
    and every suite would read "never started"."""
    from harness import cli

    series = str(PROJECT / "patches/fixtures/demo")
    assert cli.main([command, series, "--out", "/var/tmp/harness-results"]) == 2
    assert "the guest mounts its own /var/tmp" in capsys.readouterr().err
    assert not Path("/var/tmp/harness-results").exists()
