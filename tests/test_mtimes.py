from __future__ import annotations

import os
from pathlib import Path

from conftest import git

from harness.tree import mtimes


def test_unchanged_files_get_their_build_time_mtime_back(tiny_repo: Path, tmp_path: Path) -> None:
    build = tmp_path / "build"
    build.mkdir()
    old = 1_000_000_000 * 10**9
    for name in ("Makefile", "mm/mmap.c"):
        os.utime(tiny_repo / name, ns=(old, old))
    mtimes.save(tiny_repo, build)
    # A re-apply rewrites both files; only mm/mmap.c really changes.
    (tiny_repo / "Makefile").write_text((tiny_repo / "Makefile").read_text())
    (tiny_repo / "mm/mmap.c").write_text("int changed;\n")
    git(tiny_repo, "add", "-A")
    assert mtimes.restore(tiny_repo, build) == 1
    assert (tiny_repo / "Makefile").stat().st_mtime_ns == old
    assert (tiny_repo / "mm/mmap.c").stat().st_mtime_ns != old


def test_no_manifest_changes_nothing(tiny_repo: Path, tmp_path: Path) -> None:
    assert mtimes.restore(tiny_repo, tmp_path) == 0


def test_an_interrupted_build_leaves_no_manifest_to_restore(
    tiny_repo: Path, tmp_path: Path
) -> None:
    build = tmp_path / "build"
    build.mkdir()
    old = 1_000_000_000 * 10**9
    os.utime(tiny_repo / "Makefile", ns=(old, old))
    mtimes.save(tiny_repo, build)
    (tiny_repo / "Makefile").write_text((tiny_repo / "Makefile").read_text())
    git(tiny_repo, "add", "-A")  # a re-apply: git rewrites the file and the index
    assert mtimes.restore(tiny_repo, build) == 1  # make starts here ... and is killed
    assert not (build / mtimes.MANIFEST).exists()
    # The next run: the interrupted make may have seen newer files; nothing is restored.
    (tiny_repo / "Makefile").write_text((tiny_repo / "Makefile").read_text())
    assert mtimes.restore(tiny_repo, build) == 0
    assert (tiny_repo / "Makefile").stat().st_mtime_ns != old
    mtimes.save(tiny_repo, build)  # after make returns: written again
    assert (build / mtimes.MANIFEST).exists()
