"""Range mode: the first bad commit between --good and --bad of a git tree.

Input: a BisectRequest with --tree, --good, --bad (and --first-parent). Output: the
Bisection whose candidates are the commits of the range (0 the good end, or the merge
base when good is not an ancestor of bad), each tested as an empty series on that commit;
after the search, RUN/bisect.log in `git bisect log` form and the revert check: the bad
end with the culprit reverted must pass (skipped when the revert does not apply).
Every git command goes through worktree.git (proc.run). Raises UserError for a revision
the tree does not have or an empty range.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.bisection import summary
from harness.bisection.candidates import Candidates, SeriesOracle
from harness.bisection.parts import Bisection, test_options
from harness.bisection.request import BisectRequest
from harness.bisection.search import Kind, SearchResult, evaluate, flag_unreliable
from harness.bisection.signature import parse_predicate
from harness.errors import UserError
from harness.intake import series as intake
from harness.intake.series import Patch, Series, SeriesConfig
from harness.results.rundir import RunDir
from harness.tree.worktree import git

LOG_FILE = "bisect.log"


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str
    author: str


@dataclass(frozen=True)
class GitRange:
    tree: Path
    commits: tuple[Commit, ...]  # [0] the good end (or merge base), [-1] the bad end
    note: str = ""


def _rev(tree: Path, rev: str, flag: str) -> str:
    found = git(tree, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if not found.ok:
        raise UserError(f"{flag} {rev}: not a commit in {tree}")
    return found.output.strip()


def commit_info(tree: Path, sha: str) -> Commit:
    shown = git(tree, "show", "-s", "--format=%s%n%an <%ae>", sha).output.splitlines()
    return Commit(sha, *(shown + ["", ""])[:2])


def resolve_range(tree: Path, good: str, bad: str, first_parent: bool) -> GitRange:
    """The commits good..bad, oldest first; the merge base stands for a good end that is
    not an ancestor of bad (git bisect tests it first for the same reason)."""
    good_sha, bad_sha = _rev(tree, good, "--good"), _rev(tree, bad, "--bad")
    note = ""
    if not git(tree, "merge-base", "--is-ancestor", good_sha, bad_sha).ok:
        base = git(tree, "merge-base", good_sha, bad_sha)
        if not base.ok:
            raise UserError(f"--good {good} and --bad {bad} share no history")
        note = f"--good {good} is not an ancestor of --bad {bad}: starting from their merge base"
        good_sha = base.output.strip()
    listing = ["rev-list", "--reverse", *(["--first-parent"] if first_parent else [])]
    shas = git(tree, *listing, f"{good_sha}..{bad_sha}").output.split()
    if not shas:
        raise UserError(f"--good {good} .. --bad {bad}: no commits between them")
    commits = tuple(commit_info(tree, sha) for sha in [good_sha, *shas])
    return GitRange(tree, commits, note)


def commit_series(tree: Path, commit: Commit) -> Series:
    """`harness test` of a commit: no patches, the commit as the base (base-commit)."""
    stand_in = Patch(0, commit.subject, commit.author, "", commit.sha, "", b"", "", ())
    return Series(f"{tree.name}-{commit.sha[:12]}", tree, (), stand_in, SeriesConfig(), commit.sha)


def range_candidates(found: GitRange) -> Candidates:
    commits = found.commits

    def label(k: int) -> str:
        return f"{commits[k].sha[:12]} {commits[k].subject}"

    return Candidates(len(commits) - 1, lambda k: commit_series(found.tree, commits[k]), label)


def range_bisection(
    request: BisectRequest,
    open_run: Callable[[BisectRequest, str], tuple[RunDir, dict[str, Any]]],
    note: Callable[[str], None],
) -> Bisection:
    assert request.tree is not None
    found = resolve_range(request.tree, request.good, request.bad, request.first_parent)
    if found.note:
        note(found.note)
    predicate = parse_predicate(request.bad_when)
    run, state = open_run(request, request.tree.name)
    predicate.target = state["target"]
    candidates = range_candidates(found)
    oracle = SeriesOracle(candidates, test_options(request, run, request.tree), predicate, note)
    run.meta.update(range=[c.sha for c in (found.commits[0], found.commits[-1])])

    def culprit_of(k: int, excerpt: str) -> summary.Culprit:
        commit = found.commits[k]
        files = git(found.tree, "show", "--format=", "--name-only", commit.sha).output.split()
        label = candidates.label(k)
        return summary.Culprit(
            label, commit.subject, commit.author, commit.sha, tuple(files), excerpt
        )

    bisection = Bisection(request, run, state, candidates, predicate, oracle, culprit_of)
    state["range"] = [dataclasses.asdict(c) for c in found.commits]
    return bisection


def after_search(b: Bisection, result: SearchResult, note: Callable[[str], None]) -> None:
    """RUN/bisect.log, then the culprit reverted on top of the bad end must pass."""
    commits = [Commit(**c) for c in b.state["range"]]
    log = summary.bisect_log(result, [c.sha for c in commits], [c.subject for c in commits])
    (b.run.path / LOG_FILE).write_text(log)
    if result.culprit is None:
        return
    revert = revert_series(b, commits[result.culprit], commits[-1])
    single = Candidates(0, lambda k: revert, lambda k: f"{commits[-1].sha[:12]} + revert")
    assert isinstance(b.oracle, SeriesOracle)  # perf mode is series mode only (request.py)
    oracle = SeriesOracle(single, b.oracle.opts, b.predicate, note)
    try:
        step = evaluate(oracle, 0, result.runs_for_good, b.request.search)
    finally:
        oracle.close()
    if step.kind is Kind.SKIP:
        note(f"revert check skipped: {step.signature}")
        b.state["revert"] = f"skipped: {step.signature}"
    elif step.kind is Kind.BAD:
        flag_unreliable(
            result, f"the bad end with the culprit reverted still fails: {step.signature}"
        )
        b.state["revert"] = "still fails"
    else:
        note(f"revert check: the bad end passes {step.runs}/{step.runs} runs without the culprit")
        b.state["revert"] = f"passes {step.runs}/{step.runs}"


def revert_series(b: Bisection, culprit: Commit, bad: Commit) -> Series:
    """The culprit's inverse diff (against its first parent) as a one-patch series on bad."""
    assert b.request.tree is not None
    diff = git(b.request.tree, "diff", culprit.sha, f"{culprit.sha}^1").output
    where = b.run.path / "revert"
    where.mkdir(exist_ok=True)
    mail = (
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
        "From: harness <harness@localhost>\n"
        "Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
        f'Subject: [PATCH] Revert "{culprit.subject}"\n\n'
        f"This reverts commit {culprit.sha}.\n---\n{diff}"
    )
    (where / "0001-revert.patch").write_text(mail)
    loaded = intake.load_one(where)
    return dataclasses.replace(loaded, base_commit=bad.sha, name=f"revert-{culprit.sha[:12]}")


def commit_mail(tree: Path, sha: str) -> bytes:
    """The commit as a mail with a base-commit: trailer naming its parent, so `harness
    test culprit/ --tree TREE` applies it where it was made."""
    mail = git(tree, "format-patch", "-1", "--stdout", f"--base={sha}^1", sha)
    return mail.output.encode()
