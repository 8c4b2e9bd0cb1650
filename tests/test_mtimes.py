from __future__ import annotations

import os
from pathlib import Path

from conftest import git

from harness.tree import mtimes, slots


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
    assert not (slots.state_dir(build) / mtimes.MANIFEST).exists()
    # The next run: the interrupted make may have seen newer files; nothing is restored.
    (tiny_repo / "Makefile").write_text((tiny_repo / "Makefile").read_text())
    assert mtimes.restore(tiny_repo, build) == 0
    assert (tiny_repo / "Makefile").stat().st_mtime_ns != old
    mtimes.save(tiny_repo, build)  # after make returns: written again
    assert (slots.state_dir(build) / mtimes.MANIFEST).exists()


def test_what_harness_keeps_of_a_build_dir_is_beside_it_not_in_it(tmp_path: Path) -> None:
    """The tree's code writes the build dir: a link it planted there where harness keeps a
    record would aim harness's next write at a host file."""
    build = tmp_path / "builds" / "abc-s1"
    build.mkdir(parents=True)
    target = tmp_path / "host-file"
    target.write_text("host\n")
    for name in (mtimes.MANIFEST, f".{mtimes.MANIFEST}.tmp"):
        os.symlink(target, build / name)
    kept = slots.state_dir(build)
    assert kept == tmp_path / "builds" / ".harness-state" / "abc-s1" and kept.is_dir()
    (kept / mtimes.MANIFEST).write_text("{}\n{}\n")
    assert target.read_text() == "host\n"


def test_a_file_the_tree_s_code_wrote_is_read_only_if_it_is_a_plain_file(tmp_path: Path) -> None:
    from harness.readfiles import copy_untrusted, read_untrusted

    secret = tmp_path / "secret"
    secret.write_text("root only\n")
    build = tmp_path / "build"
    build.mkdir()
    os.symlink(secret, build / ".config")
    assert read_untrusted(build / ".config") is None
    assert not copy_untrusted(build / ".config", tmp_path / "config")
    assert not (tmp_path / "config").exists()
    os.mkfifo(build / "fifo")
    assert read_untrusted(build / "fifo") is None  # no hang on a FIFO
    (build / "plain").write_text("CONFIG_X=y\n")
    assert read_untrusted(build / "plain") == b"CONFIG_X=y\n"
