"""bisect.json and --resume, the step table and verdict, the git range and its log."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
from pathlib import Path

import pytest

from harness.bisection import command, git_range, request, state, summary
from harness.bisection.search import Kind, Outcome, SearchResult, SearchSpec, Verdict, search
from harness.cases import Status
from harness.errors import EnvError, HarnessError, UserError

SIG = "warning: WARNING: CPU: N PID: N at fs/proc/harness_bisect.c:18 harness_bisect_init"


class Counting:
    """Candidates >= culprit fail, every time (exact: as a build failure repeats); raises
    KeyboardInterrupt at run number `stop_at`."""

    def __init__(self, culprit: int, stop_at: int = 0) -> None:
        self.culprit, self.stop_at, self.calls = culprit, stop_at, 0

    def __call__(self, k: int) -> Outcome:
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        if k >= self.culprit:
            return Outcome(Kind.BAD, SIG, 2.0, exact=True)
        return Outcome(Kind.GOOD, "", 1.0, exact=True)


def test_resume_replays_the_recorded_runs_and_goes_on_live(tmp_path: Path) -> None:
    spec = SearchSpec(end_runs=3)
    first = state.new_state(["bisect", "s"], "series", "")
    state.save(tmp_path, first)
    with pytest.raises(KeyboardInterrupt):
        search(state.Recorder(Counting(5, stop_at=6), tmp_path, first), 8, spec)
    kept = state.load(tmp_path)
    assert len(kept["runs"]) == 5  # 3 of the bad end, the good end, one step
    live = Counting(5)
    recorder = state.Recorder(live, tmp_path, kept)
    resumed = search(recorder, 8, spec)
    assert recorder.replayed == 5
    assert resumed.culprit == 5 and resumed.verdict is Verdict.CONFIRMED
    uninterrupted = search(Counting(5), 8, spec)
    assert live.calls == uninterrupted.total_runs - 5
    assert [s.candidate for s in resumed.steps] == [s.candidate for s in uninterrupted.steps]
    assert len(state.load(tmp_path)["runs"]) == uninterrupted.total_runs


def test_a_missing_state_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot read bisect.json"):
        state.load(tmp_path)


def _result() -> tuple[summary.Culprit, SearchResult]:
    result = search(Counting(3), 5, SearchSpec(end_runs=1))
    culprit = summary.Culprit(
        "3/5 proc: check", "[PATCH 3/5] proc: check", "A <a@b>", "<id@x>", ("fs/proc/x.c",), "WARN"
    )
    return culprit, result


def test_the_summary_names_the_culprit_and_tables_every_step() -> None:
    culprit, result = _result()
    label = {0: "0: the base", 1: "1/5 a", 2: "2/5 b", 3: "3/5 c", 4: "4/5 d", 5: "5/5 e"}.get
    text = summary.summary_markdown(result, culprit, lambda k: label(k) or "", "series")
    assert (
        "first bad patch: 3/5 proc: check (confirmed, right with probability ≥ 1.000, 4 builds)"
        in text
    )
    assert "- Message-ID: <id@x>" in text and "- files: fs/proc/x.c" in text
    assert sum(1 for line in text.splitlines() if line.startswith("| ")) == 1 + len(result.steps)
    assert "| 3/5 c | step | bad | 1/1 | 0 |" in text
    assert "```\nWARN\n```" in text


def test_junit_has_a_testcase_per_step_and_the_verdict() -> None:
    culprit, result = _result()
    [steps] = summary.step_cases(result, str)
    assert len(steps.children) == len(result.steps)
    assert [c.status for c in steps.children][:2] == [Status.FAIL, Status.PASS]
    verdict = summary.verdict_case(result, culprit, "series")
    assert verdict.status is Status.PASS and verdict.properties["verdict"] == "confirmed"


def _git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "T",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "T",
        "GIT_COMMITTER_EMAIL": "t@x",
        "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def _commit(repo: Path, name: str) -> str:
    (repo / name).write_text(name + "\n")
    _git(repo, "add", name)
    _git(repo, "commit", "-q", "-m", f"add {name}")
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """good - a - b - merge(side) - c ; side branches off good."""
    _git(tmp_path, "init", "-q", "-b", "main")
    _commit(tmp_path, "good")
    _git(tmp_path, "tag", "good")
    _git(tmp_path, "checkout", "-q", "-b", "side")
    _commit(tmp_path, "side")
    _git(tmp_path, "checkout", "-q", "main")
    _commit(tmp_path, "a")
    _commit(tmp_path, "b")
    _git(tmp_path, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    _commit(tmp_path, "c")
    return tmp_path


def test_the_range_is_oldest_first_and_first_parent_skips_the_side_branch(repo: Path) -> None:
    found = git_range.resolve_range(repo, "good", "main", first_parent=False)
    subjects = [c.subject for c in found.commits]
    assert subjects[0] == "add good" and subjects[-2:] == ["merge side", "add c"]
    assert sorted(subjects[1:4]) == ["add a", "add b", "add side"]
    assert len(found.commits) == 6
    first = git_range.resolve_range(repo, "good", "main", first_parent=True)
    assert [c.subject for c in first.commits] == [
        "add good",
        "add a",
        "add b",
        "merge side",
        "add c",
    ]


def test_a_good_end_that_is_not_an_ancestor_starts_from_the_merge_base(repo: Path) -> None:
    found = git_range.resolve_range(repo, "side", "main~2", first_parent=True)
    assert "merge base" in found.note
    assert found.commits[0].subject == "add good"


def test_a_bad_revision_is_bad_input(repo: Path) -> None:
    with pytest.raises(UserError, match="--bad nope: not a commit"):
        git_range.resolve_range(repo, "good", "nope", first_parent=False)


def test_the_log_is_in_git_bisect_log_form(repo: Path) -> None:
    found = git_range.resolve_range(repo, "good", "main", first_parent=True)
    result = search(Counting(2), len(found.commits) - 1, SearchSpec(end_runs=1))
    log = summary.bisect_log(
        result, [c.sha for c in found.commits], [c.subject for c in found.commits]
    )
    lines = log.splitlines()
    assert lines[0] == f"git bisect start '{found.commits[-1].sha}' '{found.commits[0].sha}'"
    assert f"git bisect bad {found.commits[-1].sha}" in lines
    assert lines[-1] == f"# first bad commit: [{found.commits[2].sha}] add b"


def _args(**given: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    request.add_arguments(parser)
    args = parser.parse_args([])
    for key, value in given.items():
        setattr(args, key, value)
    return args


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "a series, or a range"),
        ({"series": Path("s"), "good": "x"}, "not both"),
        ({"tree": Path("t"), "good": "x"}, "a series, or a range"),
        ({"series": Path("s"), "repeats": 0}, "--repeats"),
        ({"series": Path("s"), "first_parent": True}, "--first-parent is for a range"),
    ],
)
def test_bad_requests_are_refused_before_anything_runs(
    given: dict[str, object], message: str
) -> None:
    with pytest.raises(UserError, match=message):
        request.from_args(_args(**given), [], Path("/c"))


def test_a_range_request() -> None:
    wanted = request.from_args(_args(tree=Path("t"), good="v1", bad="v2"), ["bisect"], Path("/c"))
    assert wanted.mode == "range" and wanted.search.end_runs == 5


def test_the_review_mail_carries_the_first_bad_patch_sentence() -> None:
    from harness.review import report

    culprit, result = _result()
    meta = {"bisect": summary.sentence(result, culprit, "series"), "subject": "[PATCH 0/5] x"}
    mail = report.email_text(meta, [])
    assert (
        "first bad patch: 3/5 proc: check (confirmed, right with probability ≥ 1.000, 4 builds)"
        in mail
    )
    assert "first bad" not in report.email_text({"subject": "[PATCH 0/5] x"}, [])


class RangeSim:
    """Stands in for SeriesOracle in range mode: commit 3 of the range breaks the build
    elsewhere, commits >= 5 WARN, and the bad end with the culprit reverted is clean."""

    ranks: dict[str, int] = {}

    def __init__(self, candidates: object, opts: object, predicate: object, note: object) -> None:
        self.candidates, self.opts, self.predicate = candidates, opts, predicate
        self.built: dict[int, object] = {}
        self.excerpts: dict[int, str] = {}

    def __call__(self, k: int) -> Outcome:
        series = self.candidates.series_of(k)  # type: ignore[attr-defined]
        if series.patches:  # the revert on top of the bad end
            return Outcome(Kind.GOOD)
        rank = self.ranks[series.base_commit]
        if rank == 3:
            return Outcome(Kind.SKIP, "build: fs/proc/harness_other.c:2: error: 'x' undeclared")
        if rank >= 5:
            self.predicate.target = SIG  # type: ignore[attr-defined]
            self.excerpts[k] = "WARNING: CPU: 0 PID: 1 at fs/proc/harness_bisect.c:18"
            return Outcome(Kind.BAD, SIG)
        return Outcome(Kind.GOOD)

    def close(self) -> None:
        pass


def test_a_range_end_to_end_skips_the_build_break_reverts_and_writes_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """command.bisect in range mode on a real git repo, the oracle simulated: 5/6 named with
    3/6 skipped, bisect.log in git bisect log form, the revert check passes, and the
    culprit is a mail with a base-commit: trailer that reproduce.sh tests on --tree. The
    WARN is a boot's failure: 5 of 5 failing runs bound p from below by 0.55, so a good
    candidate takes 6 clean runs (0.45^6 < 0.0125, the per-step share of the budget)."""
    from harness import proc
    from harness.bisection import command

    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    shas = [_commit(repo, "good")] + [_commit(repo, f"c{i}") for i in range(1, 7)]
    RangeSim.ranks = {sha: rank for rank, sha in enumerate(shas)}
    monkeypatch.setattr(proc, "require", lambda tools: None)
    monkeypatch.setattr(git_range, "SeriesOracle", RangeSim)
    argv = ["bisect", "--tree", str(repo), "--good", shas[0], "--bad", shas[6], "--repeats", "5"]
    args = _args(tree=repo, good=shas[0], bad=shas[6], repeats=5, out=tmp_path / "out")
    rc = command.bisect(request.from_args(args, argv, tmp_path / "cache"))
    (run_dir,) = (tmp_path / "out").glob("bisect-*")
    saved = state.load(run_dir)
    assert rc == 0 and saved["result"]["culprit"] == 5
    assert [s["candidate"] for s in saved["steps"] if s["kind"] == "skip"] == [3]
    log = (run_dir / "bisect.log").read_text()
    assert f"git bisect skip {shas[3]}" in log and f"# first bad commit: [{shas[5]}] add c5" in log
    assert saved["revert"] == "passes 6/6" and saved["result"]["confidence"] >= 0.9
    mail = (run_dir / "culprit" / "0001.patch").read_text()
    assert f"base-commit: {shas[4]}" in mail and "Subject: [PATCH] add c5" in mail
    assert (
        f"harness test {run_dir / 'culprit'} --tree {repo}"
        in (run_dir / "reproduce.sh").read_text()
    )
    assert "does not build: build: fs/proc/harness_other.c" in (run_dir / "summary.md").read_text()


@pytest.mark.parametrize(
    ("raised", "writes", "stopped"),
    [
        (None, True, None),
        (UserError("nothing to bisect: the series' last patch passes"), True, UserError),
        (EnvError("vng: not found"), False, EnvError),
    ],
    ids=["ended", "nothing-to-bisect", "machine-failed"],
)
def test_a_bisection_a_caller_goes_on_after_gives_its_run_dir_and_its_error(
    raised: HarnessError | None,
    writes: bool,
    stopped: type[HarnessError] | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review and watch go on after any bisection: they get the run dir it wrote (not one
    an earlier bisection in the same out dir wrote) and the error it stopped on."""
    (tmp_path / "bisect-earlier").mkdir()

    def fake(req: request.BisectRequest) -> int:
        if writes:
            (req.out / "bisect-this").mkdir()
        if raised is not None:
            raise raised
        return 0

    monkeypatch.setattr(command, "bisect", fake)
    wanted = request.from_args(_args(tree=Path("t"), good="v1", bad="v2"), ["bisect"], Path("/c"))
    made, error = command.bisect_and_go_on(dataclasses.replace(wanted, out=tmp_path))
    assert made == (tmp_path / "bisect-this" if writes else None)
    assert type(error) is stopped if stopped else error is None


def test_every_candidate_is_tested_as_a_point_in_the_series_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bisection's candidates configure with the series' fragments: CONFIG_GMEM, which
    only patch 3 defines, drops from the base's and patch 1's config, and that must not
    make the good end 'fail otherwise' (the pipeline accepts it for partial runs)."""
    from harness import pipeline
    from harness.bisection.candidates import Candidates, SeriesOracle
    from harness.bisection.signature import parse_predicate

    seen: list[pipeline.TestOptions] = []

    class Stop(Exception):
        pass

    def apply_stage(series: object, opts: pipeline.TestOptions) -> object:
        seen.append(opts)
        raise Stop

    monkeypatch.setattr(pipeline, "apply_stage", apply_stage)
    opts = pipeline.TestOptions(argv=["bisect"], out=tmp_path, cache=tmp_path)
    candidates = Candidates(3, lambda k: None, str)  # type: ignore[arg-type,return-value]
    oracle = SeriesOracle(candidates, opts, parse_predicate(f"failure:{SIG}"), lambda _: None)
    with pytest.raises(Stop):
        oracle(0)
    assert [o.partial for o in seen] == [True] and not opts.partial
