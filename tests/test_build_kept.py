"""Build dirs kept by their git tree: the build of a tree made once (check's prefixes) is
put back in place for a later build of the same tree (a bisection's candidate)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.build import kept, make
from harness.build.kernel import KernelRequest, build_kernel
from harness.cases import Case, Status
from harness.tree import slots

T1, T2 = "1" * 40, "2" * 40


def built(build: Path, image: bytes, manifest: str) -> None:
    """A build dir as a passed build leaves it, and what harness knows of it beside it."""
    shutil.rmtree(build, ignore_errors=True)
    (build / "arch/x86/boot").mkdir(parents=True)
    (build / "arch/x86/boot/bzImage").write_bytes(image)
    (build / "mm").mkdir()
    (build / "mm/mmap.o").write_bytes(image + b".o")
    (slots.state_dir(build) / ".harness-sources.json").write_text(manifest)


@pytest.fixture
def build(tmp_path: Path) -> Path:
    return tmp_path / "slot" / "builds" / "cfg-sabc"


def test_a_kept_tree_is_put_back_whole_with_what_harness_knew_of_it(build: Path) -> None:
    built(build, b"kernel 1", "manifest 1")
    kept.keep(build, T1)
    built(build, b"kernel 2", "manifest 2")
    (build / "only-in-2").write_text("stale")
    kept.keep(build, T2)
    assert kept.take(build, T1)
    assert (build / "arch/x86/boot/bzImage").read_bytes() == b"kernel 1"
    assert (build / "mm/mmap.o").read_bytes() == b"kernel 1.o"
    assert not (build / "only-in-2").exists()
    assert (slots.state_dir(build) / ".harness-sources.json").read_text() == "manifest 1"
    assert kept.held(build) == T1
    assert not kept.take(build, T1)  # it holds that tree already


def test_a_tree_never_kept_or_unknown_leaves_the_build_dir_alone(build: Path) -> None:
    built(build, b"kernel 1", "manifest 1")
    kept.keep(build, T1)
    assert not kept.take(build, T2)
    assert not kept.take(build, "")
    assert (build / "arch/x86/boot/bzImage").read_bytes() == b"kernel 1"


def test_a_build_dir_make_has_started_in_holds_no_tree(build: Path) -> None:
    built(build, b"kernel 1", "manifest 1")
    kept.keep(build, T1)
    kept.forget(build)  # make runs now: what it leaves is not T1's kept build
    assert kept.held(build) == ""
    assert kept.take(build, T1)  # so T1 is put back, not assumed


def test_only_the_newest_builds_are_kept(build: Path) -> None:
    for k in range(kept.KEEP + 2):
        built(build, f"kernel {k}".encode(), "m")
        kept.keep(build, f"{k:040d}")
    root = build.parent / ".harness-kept" / build.name
    assert len(list(root.iterdir())) == kept.KEEP
    assert not kept.take(build, f"{0:040d}")


def test_a_copy_that_fails_keeps_nothing_half_and_leaves_the_build_dir_as_it_was(
    build: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built(build, b"kernel 1", "manifest 1")
    kept.keep(build, T1)
    built(build, b"kernel 2", "manifest 2")

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copytree", full)
    kept.keep(build, T2)
    assert not kept.take(build, T1)
    assert (build / "arch/x86/boot/bzImage").read_bytes() == b"kernel 2"
    assert sorted(p.name for p in build.parent.iterdir()) == [
        ".harness-kept",
        ".harness-state",
        build.name,
    ]
    assert sorted(p.name for p in (build.parent / ".harness-kept" / build.name).iterdir()) == [T1]


def test_the_build_stage_keeps_a_passed_build_only_when_asked(
    tiny_repo: Path, build: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake_make(spec: make.BuildSpec, log: Path, name: str = "build") -> make.BuildResult:
        built(spec.build, b"kernel", "m")
        return make.BuildResult(Case(name, Status.PASS, "built"), make.kernel_image(spec))

    monkeypatch.setattr(make, "build", fake_make)
    build.mkdir(parents=True)
    request = KernelRequest(tiny_repo, build, (), 2, "sabc", build.parent / "log", tree=T1)
    build_kernel(request)
    assert kept.held(build) == T1
    assert not (build.parent / ".harness-kept" / build.name / T1).exists()
    second = KernelRequest(
        tiny_repo, build, (), 2, "sabc", build.parent / "log", tree=T2, keep=True
    )
    assert "tree_held" not in build_kernel(second).built.case.properties
    assert (build.parent / ".harness-kept" / build.name / T2).is_dir()
    # make over a dir that holds this tree's build already: the Case says so
    assert build_kernel(second).built.case.properties["tree_held"] == T2[:12]
