"""The build stage test, bisect and compare share: a build dir that already holds this
tree's kernel is taken as it is, and a build that rewrote the worktree's .git gives no
kernel and leaves git alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.build import kernel, make, unchanged
from harness.build.kernel import KernelRequest
from harness.cases import Case, Status
from harness.tree import mtimes, slots


class FakeMake:
    """make.build at its seam: writes the kernel image; `tamper` first swaps the
    worktree's .git for a file naming another gitdir, as a hostile Makefile would."""

    def __init__(self, tamper: bool = False) -> None:
        self.tamper, self.calls = tamper, 0

    def __call__(self, spec: make.BuildSpec, log: Path, name: str = "build") -> make.BuildResult:
        self.calls += 1
        if self.tamper:
            (spec.src / ".git").rename(spec.src.parent / "moved-git")
            (spec.src / ".git").write_text("gitdir: /tmp/elsewhere\n")
        image = make.kernel_image(spec)
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(b"kernel")
        (spec.build / ".config").write_text("CONFIG_MMU=y\n")
        return make.BuildResult(Case(name, Status.PASS, "built"), image, ["w: x"], 1.0)


def request(tiny_repo: Path, tmp_path: Path, checked_clean: bool = True) -> KernelRequest:
    build = tmp_path / "builds" / "b"
    build.mkdir(parents=True, exist_ok=True)
    return KernelRequest(tiny_repo, build, (), 2, "sabc", tmp_path / "build.log", checked_clean)


def test_the_second_build_of_the_same_tree_and_config_takes_the_first(
    tiny_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeMake()
    monkeypatch.setattr(make, "build", fake)
    wanted = request(tiny_repo, tmp_path)
    first = kernel.build_kernel(wanted)
    assert first.tampered is None and first.image == make.kernel_image(wanted.spec)
    again = kernel.build_kernel(request(tiny_repo, tmp_path))
    assert fake.calls == 1, "make ran again on an unchanged tree"
    assert "make not run" in again.built.case.message and again.built.warnings == ["w: x"]
    # a worktree nobody checked clean this run is built: its files may have been edited
    kernel.build_kernel(request(tiny_repo, tmp_path, checked_clean=False))
    assert fake.calls == 2


def test_a_build_that_rewrote_git_gives_no_kernel_and_runs_no_git_there(
    tiny_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(make, "build", FakeMake(tamper=True))
    ran: list[Path] = []
    monkeypatch.setattr(mtimes, "save", lambda src, build: ran.append(src))
    wanted = request(tiny_repo, tmp_path)
    made = kernel.build_kernel(wanted)
    assert made.image is None
    assert made.tampered is not None and made.tampered.status is Status.FAIL
    assert "rewrote .git" in made.tampered.message
    assert ran == []  # mtimes.save runs git in the worktree
    assert not (slots.state_dir(wanted.build) / unchanged.RECORD).exists()
