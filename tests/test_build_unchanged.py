"""make is skipped only when nothing it reads changed since its last passed build there."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import pytest

from harness.build import make, unchanged
from harness.cases import Case, Status


@pytest.fixture
def built(tiny_repo: Path, tmp_path: Path) -> make.BuildSpec:
    """A build dir as a passed build leaves it, recorded."""
    build = tmp_path / "build"
    (build / "arch/x86/boot").mkdir(parents=True)
    (build / "arch/x86/boot/bzImage").write_bytes(b"kernel")
    (build / ".config").write_text("CONFIG_MMU=y\n")
    spec = make.BuildSpec(tiny_repo, build, 2)
    passed = make.BuildResult(
        Case("build", Status.PASS, "built"), None, ["mm/mmap.c:3: warning: x"]
    )
    unchanged.remember(spec, passed)
    return spec


def test_nothing_changed_gives_the_last_build_back_with_its_warnings(
    built: make.BuildSpec,
) -> None:
    result = unchanged.unchanged(built, checked_clean=True)
    assert result is not None and result.case.status is Status.PASS
    assert result.kernel == built.build / "arch/x86/boot/bzImage"
    assert result.warnings == ["mm/mmap.c:3: warning: x"]
    assert "make not run" in result.case.message
    assert unchanged.unchanged(dataclasses.replace(built, jobs=8), True)  # -j: how, not what


def test_a_worktree_not_checked_clean_this_run_is_built(built: make.BuildSpec) -> None:
    assert unchanged.unchanged(built, checked_clean=False) is None


def test_another_config_is_built(built: make.BuildSpec) -> None:
    (built.build / ".config").write_text("CONFIG_MMU=y\nCONFIG_GMEM=y\n")
    assert unchanged.unchanged(built, checked_clean=True) is None


def test_a_touched_tracked_file_is_built(built: make.BuildSpec) -> None:
    """git rewrites the index when --refresh (reuse.clean) sees a file's stat change."""
    os.utime(built.src / "mm/mmap.c", ns=(1, 1))
    subprocess.run(["git", "-C", str(built.src), "update-index", "-q", "--refresh"], check=False)
    assert unchanged.unchanged(built, checked_clean=True) is None


def test_a_kernel_image_replaced_or_gone_is_built(built: make.BuildSpec) -> None:
    image = built.build / "arch/x86/boot/bzImage"
    image.write_bytes(b"another kernel")
    assert unchanged.unchanged(built, checked_clean=True) is None
    image.unlink()
    assert unchanged.unchanged(built, checked_clean=True) is None


def test_a_build_started_after_the_record_leaves_none(built: make.BuildSpec) -> None:
    unchanged.forget(built)  # make runs now, and is interrupted or fails
    failed = make.BuildResult(Case("build", Status.FAIL, "error"), None)
    unchanged.remember(built, failed)
    assert unchanged.unchanged(built, checked_clean=True) is None
