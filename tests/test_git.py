"""harness's one git function: no config runs a program, and a rewritten worktree .git is
caught before git runs (real git, in throwaway repositories)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness import git
from harness.tree import worktree


def sh(*argv: str | Path) -> None:
    subprocess.run([str(a) for a in argv], check=True, capture_output=True)


@pytest.fixture
def repo_and_tree(tmp_path: Path) -> tuple[Path, Path]:
    repo, tree = tmp_path / "repo", tmp_path / "slot-0"
    sh("git", "init", "-q", repo)
    (repo / "a").write_text("a\n")
    sh("git", "-C", repo, "add", "a")
    sh("git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a")
    sh("git", "-C", repo, "worktree", "add", "-q", "--detach", tree)
    return repo, tree


def test_every_program_running_setting_is_overridden() -> None:
    argv = git.argv(Path("/w"), "status")
    assert argv[0] == "git" and argv[-3:] == ["-C", "/w", "status"]
    for setting in ("core.fsmonitor=false", "core.hooksPath=/dev/null", "core.pager=cat"):
        assert argv[argv.index(setting) - 1] == "-c"


def test_a_repository_s_fsmonitor_and_hooks_never_run(
    repo_and_tree: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, tree = repo_and_tree
    marker = tmp_path / "ran"
    hook = f"#!/bin/sh\ntouch {marker}\n"
    sh("git", "-C", repo, "config", "core.fsmonitor", f"touch {marker}; false")
    (repo / ".git" / "hooks" / "post-checkout").write_text(hook)
    (repo / ".git" / "hooks" / "post-checkout").chmod(0o755)
    assert git.run(tree, "update-index", "-q", "--refresh").ok
    assert git.run(tree, "ls-files", "-s").ok
    assert git.run(tree, "checkout", "-q", "--detach", "HEAD").ok
    assert not marker.exists()


def test_a_worktree_harness_made_passes(repo_and_tree: tuple[Path, Path]) -> None:
    git.check_worktree(repo_and_tree[1])
    git.check_worktree(repo_and_tree[0])  # a repository of its own


def test_a_gitdir_of_its_own_making_is_caught_before_git_runs(
    repo_and_tree: tuple[Path, Path], tmp_path: Path
) -> None:
    _, tree = repo_and_tree
    evil = tmp_path / "evil"
    sh("git", "init", "-q", evil)
    marker = tmp_path / "ran"
    sh("git", "-C", evil, "config", "core.fsmonitor", f"touch {marker}")
    (tree / ".git").write_text(f"gitdir: {evil / '.git'}\n")
    with pytest.raises(git.WorktreeTampered, match="not this worktree's gitdir"):
        git.run(tree, "ls-files")
    assert not marker.exists()


def test_another_slot_s_gitdir_a_symlink_or_garbage_is_caught(
    repo_and_tree: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, tree = repo_and_tree
    other = tmp_path / "slot-1"
    sh("git", "-C", repo, "worktree", "add", "-q", "--detach", other)
    (tree / ".git").write_text((other / ".git").read_text())
    with pytest.raises(git.WorktreeTampered):
        git.check_worktree(tree)
    (tree / ".git").unlink()
    (tree / ".git").symlink_to(other / ".git")
    with pytest.raises(git.WorktreeTampered, match="not a regular file"):
        git.check_worktree(tree)
    (tree / ".git").unlink()
    (tree / ".git").write_text("[core]\n\tfsmonitor = x\n")
    with pytest.raises(git.WorktreeTampered):
        git.check_worktree(tree)


def test_a_group_writable_repository_is_not_trusted(repo_and_tree: tuple[Path, Path]) -> None:
    repo, tree = repo_and_tree
    (repo / ".git" / "config").chmod(0o664)
    with pytest.raises(git.WorktreeTampered, match="not in a repository harness made"):
        git.check_worktree(tree)


def test_a_rewritten_worktree_is_made_again(
    repo_and_tree: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, tree = repo_and_tree
    (tree / ".git").write_text(f"gitdir: {tmp_path}\n")
    spec = worktree.TreeSpec(repo, "HEAD", "repo")
    made = worktree.prepare_worktree(spec, tree, tmp_path / "apply.log")
    git.check_worktree(tree)
    assert (tree / "a").read_text() == "a\n" and made.path == tree
    assert ".git was rewritten" in (tmp_path / "apply.log").read_text()
