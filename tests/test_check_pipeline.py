"""The per-patch loop of `harness check` on a tiny real git repo, with make faked at the
build/warnings seam (no kernel builds here; see test_real.py for the real thing)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git, make_series

from harness.build import compiler_warnings, kconfig, make
from harness.cases import Case, Status
from harness.intake import series
from harness.results.rundir import RunDir
from harness.review import check
from harness.tree import worktree

ERROR_LINE = "mm/mmap.c:4:1: error: expected ';' before 'int'"


class FakeMake:
    """Builds fail while mm/mmap.c has 'broken' in it; W=1 warns once per 'long'."""

    def __init__(self) -> None:
        self.builds = 0

    def build(self, spec: make.BuildSpec, log: Path, name: str = "build") -> make.BuildResult:
        self.builds += 1
        if "broken" in (spec.src / "mm/mmap.c").read_text():
            case = Case(name, Status.FAIL, ERROR_LINE, details=ERROR_LINE, seconds=2.0)
            return make.BuildResult(case, None, [], 2.0)
        case = Case(name, Status.PASS, "built in 1s", seconds=1.0, properties={"seconds": "1.0"})
        return make.BuildResult(case, spec.build / "bzImage", [], 1.0)

    def objects(
        self, spec: make.BuildSpec, objects: list[str], log: Path
    ) -> compiler_warnings.ObjectBuild:
        text = (spec.src / "mm/mmap.c").read_text()
        lines = [
            f"mm/mmap.c:{i}:1: warning: long is long [-Wlong]"
            for i, line in enumerate(text.splitlines())
            if line.startswith("long")
        ]
        return compiler_warnings.ObjectBuild(tuple(objects), (), tuple(lines), "make W=1 mm/mmap.o")


@pytest.fixture
def fake_make(monkeypatch: pytest.MonkeyPatch) -> FakeMake:
    fake = FakeMake()
    monkeypatch.setattr(make, "build", fake.build)
    monkeypatch.setattr(compiler_warnings, "build_objects", fake.objects)
    return fake


def run_loop(repo: Path, tmp: Path, out: Path) -> list[Case]:
    (s,) = series.load(out)
    wt = worktree.prepare_worktree(worktree.TreeSpec(repo, "main", "tiny"), tmp / "wt", tmp / "log")
    run = RunDir.create(tmp / "runs", "tiny", ["check", str(out)])
    spec = make.BuildSpec(wt.path, tmp / "build", 1)
    loop = check.PatchLoop(run, wt, spec=spec)
    return [check.patch_suite(p, loop) for p in s.patches]


def statuses(suite: Case) -> dict[str, Status]:
    return {c.name: c.status for c in suite.children}


def test_every_patch_is_built_and_checked(
    tiny_repo: Path, tmp_path: Path, fake_make: FakeMake
) -> None:
    out = make_series(
        tiny_repo,
        tmp_path / "s",
        [("mm/mmap.c", "int line3;", "long line3;"), ("mm/mmap.c", "int line9;", "int line9;;")],
    )
    first, second = run_loop(tiny_repo, tmp_path, out)
    assert first.name == "0001 mm: change mm/mmap.c long line3;"
    assert list(statuses(first)) == [
        "apply", "build", "warnings", "checkpatch", "uapi", "api", "kconfig", "hygiene"
    ]  # fmt: skip
    assert statuses(first)["warnings"] is Status.FAIL  # 'long' appeared
    assert ">> mm/mmap.c:3:1: warning: long is long" in first.children[2].details
    assert statuses(second)["warnings"] is Status.PASS  # same warning, not new
    assert statuses(first)["checkpatch"] is Status.SKIP  # the tiny tree has no checkpatch.pl
    assert first.properties["subject"].startswith("[PATCH 1/2]")
    assert fake_make.builds == 2


def test_build_break_is_named_and_later_patches_still_build(
    tiny_repo: Path, tmp_path: Path, fake_make: FakeMake
) -> None:
    out = make_series(
        tiny_repo,
        tmp_path / "s",
        [("mm/mmap.c", "int line3;", "broken line3;"), ("mm/mmap.c", "broken", "int")],
    )
    first, second = run_loop(tiny_repo, tmp_path, out)
    assert statuses(first)["build"] is Status.FAIL
    assert first.children[1].details == ERROR_LINE
    assert statuses(second)["build"] is Status.PASS  # the series is not bisectable at 1
    assert first.status is Status.FAIL and second.status is Status.PASS


def test_after_a_conflict_only_static_checks_run(
    tiny_repo: Path, tmp_path: Path, fake_make: FakeMake
) -> None:
    out = make_series(
        tiny_repo,
        tmp_path / "s",
        [("mm/mmap.c", "int line20;", "long line20;"), ("mm/mmap.c", "int line30;", "long l;")],
    )
    (tiny_repo / "mm/mmap.c").write_text(
        (tiny_repo / "mm/mmap.c").read_text().replace("int line20;", "short line20;")
    )
    git(tiny_repo, "commit", "-q", "-am", "base moved")
    first, second = run_loop(tiny_repo, tmp_path, out)
    assert statuses(first)["apply"] is Status.FAIL
    assert statuses(first)["build"] is Status.SKIP
    assert {n: s for n, s in statuses(second).items() if s is Status.SKIP} == {
        "apply": Status.SKIP,
        "build": Status.SKIP,
        "warnings": Status.SKIP,
        "checkpatch": Status.SKIP,  # no checkpatch.pl in the tiny tree, not the conflict
    }
    assert second.children[0].message == "patch 1 did not apply"
    assert statuses(second)["hygiene"] is not Status.SKIP
    assert fake_make.builds == 0


def test_without_a_base_build_patches_are_applied_but_not_built(
    tiny_repo: Path, tmp_path: Path, fake_make: FakeMake
) -> None:
    out = make_series(tiny_repo, tmp_path / "s", [("mm/mmap.c", "int line3;", "long line3;")])
    (s,) = series.load(out)
    wt = worktree.prepare_worktree(
        worktree.TreeSpec(tiny_repo, "main", "t"), tmp_path / "wt", tmp_path / "l"
    )
    run = RunDir.create(tmp_path / "runs", "tiny", ["check"])
    loop = check.PatchLoop(run, wt, no_build="the base does not build")
    suite = check.patch_suite(s.patches[0], loop)
    assert statuses(suite)["apply"] is Status.PASS
    assert suite.children[1].message == "the base does not build"
    assert statuses(suite)["warnings"] is Status.SKIP


@pytest.mark.real
def test_real_check_of_the_demo_series(tmp_path: Path) -> None:
    """Builds the minimal kernel (incremental once the cache is warm); today's config only:
    the matrix's cells have a real test of their own (test_real_matrix.py)."""
    from harness import cli
    from harness.results import rundir

    fixture = Path(__file__).parent / "fixtures" / "check-demo"
    argv = ["check", str(fixture), "--matrix", "kernel", "--out", str(tmp_path)]
    assert cli.main(argv) == 1
    (run_dir,) = tmp_path.iterdir()
    meta, suites = rundir.load(run_dir)
    by_name = {s.name[:4]: {c.name: c for c in s.children} for s in suites}
    assert [s.name for s in suites][0] == "base"
    assert all(by_name[n]["build"].status is Status.PASS for n in ("0001", "0002", "0003"))
    assert by_name["0001"]["warnings"].status is Status.PASS
    assert "-Wunused-but-set-variable" in by_name["0003"]["warnings"].details
    assert by_name["0003"]["checkpatch"].status is Status.FAIL
    assert (run_dir / "review.eml").exists() and (run_dir / "review.md").exists()
    assert meta["compiler"].startswith("gcc")
    # a clean patch gets a clean report: every check passes, nothing is written under it
    assert all(c.status is Status.PASS for c in by_name["0002"].values())
    review = (run_dir / "review.md").read_text()
    assert "1 of 3 patches need attention: patch 3." in review
    assert "\n## [PATCH 2/3]" not in review


def test_the_first_patch_that_applies_builds_the_base_on_its_parent(
    tiny_repo: Path, tmp_path: Path, fake_make: FakeMake, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured: list[str] = []

    def fake_configure(src: Path, bdir: Path, fragments: list[Path], log: Path) -> Case:
        configured.append((src / "mm/mmap.c").read_text().splitlines()[3])
        return Case("kconfig", Status.PASS, "ok")

    monkeypatch.setattr(check.kconfig, "configure", fake_configure)
    out = make_series(tiny_repo, tmp_path / "s", [("mm/mmap.c", "int line3;", "long line3;")])
    (s,) = series.load(out)
    wt = worktree.prepare_worktree(
        worktree.TreeSpec(tiny_repo, "main", "t"), tmp_path / "wt", tmp_path / "l"
    )
    run = RunDir.create(tmp_path / "runs", "tiny", ["check"])
    plan = check.BasePlan((), make.BuildSpec(wt.path, tmp_path / "build", 1))
    loop = check.PatchLoop(run, wt, base=plan)
    suite = check.patch_suite(s.patches[0], loop)
    assert configured == ["int line3;"]  # the base was configured without the patch
    assert [c.name for c in run.suites] == ["base"] and loop.base is None
    assert statuses(suite)["warnings"] is Status.FAIL  # 'long' is new against the parent
    assert "long line3;" in (wt.path / "mm/mmap.c").read_text()  # back on the patch
    assert fake_make.builds == 2  # the base, then the patch


def test_options_the_series_adds_do_not_stop_the_base_build(
    tiny_repo: Path, tmp_path: Path, fake_make: FakeMake, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bool] = []

    def fake_configure(src: Path, bdir: Path, fragments: list[Path], log: Path) -> Case:
        added = (src / "mm/Kconfig").exists()
        calls.append(added)
        if added:
            return kconfig.ConfigCase("kconfig", Status.PASS, "all requested kept")
        return kconfig.ConfigCase(
            "kconfig", Status.FAIL, "1 requested option(s) dropped: CONFIG_FROB",
            dropped=("CONFIG_FROB",),
        )  # fmt: skip

    monkeypatch.setattr(check.kconfig, "configure", fake_configure)
    out = make_series(tiny_repo, tmp_path / "s", [("mm/Kconfig", "", "config FROB\n")])
    (s,) = series.load(out)
    wt = worktree.prepare_worktree(
        worktree.TreeSpec(tiny_repo, "main", "t"), tmp_path / "wt", tmp_path / "l"
    )
    run = RunDir.create(tmp_path / "runs", "tiny", ["check"])
    plan = check.BasePlan((tmp_path / "frob.config",), make.BuildSpec(wt.path, tmp_path / "b", 1))
    loop = check.PatchLoop(run, wt, base=plan, fragments=plan.fragments)
    suite = check.patch_suite(s.patches[0], loop)
    (base,) = run.suites
    assert base.status is Status.PASS and "the series may add them" in base.children[0].message
    assert calls == [False, True]  # merged again after the patch that adds the Kconfig entry
    assert suite.children[1].properties["config"] == "all requested kept"
    assert loop.dropped == ()  # the patch that adds FROB brought it back: nothing to fail
