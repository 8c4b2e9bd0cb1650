"""Tree: find the base, make a throwaway worktree, apply the series patch by patch.

Input: a TreeSpec and a Series. Output: a Worktree and an ApplyReport (one Case
per patch). The base repository is never modified: all work is in a git worktree.
Raises UserError for a bad --tree/--base, EnvError when the Debian source is missing
or a worktree cannot be reset to exactly the base (a stale index.lock is removed first).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness import git as gitcmd
from harness import proc
from harness.cases import Case, Status
from harness.errors import EnvError, UserError
from harness.intake.series import Patch, Series
from harness.progress import Ticker
from harness.tree import slots

DEBIAN_TARBALL = "/usr/src/linux-source-{version}.tar.xz"
GIT_IDENTITY = ["-c", "user.name=harness", "-c", "user.email=harness@localhost"]


DEFAULT_BASE = "debian:6.12"  # when neither --base nor series.yaml names one


@dataclass(frozen=True)
class TreeSpec:
    repo: Path  # a git repository holding the base
    rev: str  # what to check out before applying
    label: str  # how to name the base in reports
    note: str = ""  # e.g. "base-commit abc123 not in tree; using debian-6.12"


@dataclass(frozen=True)
class Worktree:
    path: Path
    base_rev: str  # resolved commit id of the base


# Fixed dates: the same tarball gives the same base commit id on every machine.
FIXED_DATES = {
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
}


def git(repo: Path, *args: str, log: Path | None = None, timeout: float = 600) -> proc.Completed:
    return gitcmd.run(repo, *GIT_IDENTITY, *args, log=log, timeout=timeout, env=FIXED_DATES)


def tree_id(where: Path) -> str:
    """The git tree a worktree harness applied holds (its HEAD's), '' when git cannot say."""
    result = git(where, "rev-parse", "HEAD^{tree}", timeout=60)
    tree = result.output.strip()
    return tree if result.ok and re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", tree) else ""


def resolve(
    base: str, tree: Path | None, series: Series, cache: Path, explicit: bool = False
) -> TreeSpec:
    """Which repository and revision to start from, honoring series.yaml/base-commit.
    An explicit --base wins over series.yaml's `base: debian:X`."""
    if tree is not None:
        if not (tree / ".git").exists():
            raise UserError(f"--tree {tree}: not a git repository")
        repo, default_rev, label = tree, "HEAD", str(tree)
    else:
        from_yaml = series.config.base.startswith("debian:") and not explicit
        spec = series.config.base if from_yaml else base
        repo = debian_repo(spec, cache)
        default_rev, label = repo_tag(spec), spec
    wanted = series.base_commit or (series.config.base if ":" not in series.config.base else "")
    if not wanted:
        return TreeSpec(repo, default_rev, label)
    if git(repo, "cat-file", "-e", f"{wanted}^{{commit}}").ok:
        return TreeSpec(repo, wanted, f"{label} @ {wanted}")
    note = f"base {wanted} is not in {label}; applying on {default_rev} instead"
    return TreeSpec(repo, default_rev, label, note)


def slot_name(spec: TreeSpec) -> str:
    """Worktrees and build dirs are named after the repository they come from."""
    if spec.repo.parent.name == "trees":  # one of our cached bases: debian-6.12
        return spec.repo.name
    digest = hashlib.sha256(str(spec.repo.resolve()).encode()).hexdigest()[:10]
    return f"tree-{spec.repo.name}-{digest}"


def repo_tag(spec: str) -> str:
    return spec.replace(":", "-")


def debian_repo(spec: str, cache: Path) -> Path:
    """Debian's linux-source-X tarball, unpacked once into a cached git repo."""
    kind, _, version = spec.partition(":")
    if kind != "debian" or not re.fullmatch(r"\d+\.\d+", version):
        raise UserError(f"--base {spec}: expected debian:MAJOR.MINOR, e.g. debian:6.12")
    repo = cache / "trees" / repo_tag(spec)
    if (repo / ".git").exists():
        return repo
    tarball = Path(DEBIAN_TARBALL.format(version=version))
    if not tarball.exists():
        raise EnvError(f"{tarball} missing: apt-get install linux-source-{version}")
    # One staging dir per tree: two first runs at once would unpack into each other.
    with slots.exclusive(repo.with_name(repo.name + ".unpack.lock"), f"unpacking {spec}"):
        if not (repo / ".git").exists():  # the run we waited for may have unpacked it
            _unpack_as_git(tarball, repo, repo_tag(spec))
    return repo


def _unpack_as_git(tarball: Path, repo: Path, tag: str) -> None:
    staging = repo.with_name(repo.name + ".partial")
    proc.run(["rm", "-rf", str(staging)])
    staging.mkdir(parents=True)
    _extract(tarball, staging)
    (top,) = list(staging.iterdir())
    # Debian's tarball has a packaging .gitignore with `/*`: add everything by force.
    steps = [
        ["init", "-q", "-b", "base"],
        ["add", "-f", "-A"],
        ["commit", "-q", "-m", f"{tarball.name} as shipped"],
        ["tag", tag],
    ]
    for step in steps:
        proc.note(f"unpacking {tarball.name}: git {step[0]} (the first run only)")
        result = git(top, *step)
        if not result.ok:
            raise EnvError(f"git {step[0]} in {top} failed: {result.output.strip()[:200]}")
    top.rename(repo)
    staging.rmdir()


def _extract(tarball: Path, into: Path) -> None:
    """Unpack with a progress line (files and MB so far): the first run waits minutes here."""
    proc.note(f"unpacking {tarball} into {into} (the first run only)")
    ticker = Ticker(f"unpacking {tarball.name}")
    files = size = 0
    with tarfile.open(tarball) as tar:
        for member in tar:
            tar.extract(member, into, filter="data")
            files += 1
            size += member.size
            ticker.update(f"{files} files, {size / 1e6:.0f} MB")
    ticker.done()
    proc.note(f"unpacked {files} files, {size / 1e6:.0f} MB")


def prepare_worktree(spec: TreeSpec, where: Path, log: Path) -> Worktree:
    """A clean detached worktree at spec.rev; reused (and reset) between runs. Every git
    step is checked and the result verified (HEAD, `git status`), else EnvError."""
    rev = git(spec.repo, "rev-parse", f"{spec.rev}^{{commit}}")
    if not rev.ok:
        raise UserError(f"{spec.label}: cannot resolve {spec.rev}")
    commit = rev.output.strip()
    _discard_if_tampered(where, spec.repo, log)
    if (where / ".git").exists():
        gitdir = Path(_git_checked(where, ["rev-parse", "--absolute-git-dir"], log).strip())
        if (gitdir / "rebase-apply").exists():  # a `git am` a killed run left half done
            _git_checked(where, ["am", "--abort"], log, gitdir)
        for step in (
            ["checkout", "-q", "-f", "--detach", commit],
            ["reset", "-q", "--hard"],
            ["clean", "-q", "-fdx"],
        ):
            _git_checked(where, step, log, gitdir)
    else:
        _git_checked(spec.repo, ["worktree", "prune"], log)
        _git_checked(spec.repo, ["worktree", "add", "-f", "--detach", str(where), commit], log)
    _verify_checkout(where, commit, log)
    return Worktree(where, commit)


def _discard_if_tampered(where: Path, repo: Path, log: Path) -> None:
    """A worktree whose .git was rewritten is thrown away, to be made again from `repo`:
    git never runs in it, and the slot is not lost to it."""
    try:
        gitcmd.check_worktree(where)
    except gitcmd.WorktreeTampered as err:
        proc.note(f"{err}; making the worktree again")
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"harness: {err}; the worktree is made again\n")
        shutil.rmtree(where)
        _git_checked(repo, ["worktree", "prune"], log)


def _git_checked(where: Path, step: list[str], log: Path, gitdir: Path | None = None) -> str:
    """Run one git step; a stale index.lock in `gitdir` is removed and the step retried
    once. Any other failure raises EnvError: a half-reset tree is never tested."""
    result = git(where, *step, log=log)
    if not result.ok and gitdir is not None and "index.lock" in result.output:
        if clear_stale_lock(gitdir / "index.lock", where):
            result = git(where, *step, log=log)
    if not result.ok:
        raise EnvError(f"git {step[0]} in {where} failed: {result.output.strip()[-300:]}")
    return result.output


def clear_stale_lock(lock: Path, where: Path) -> bool:
    """Remove `lock` if no live git process works in `where` (the slot's flock keeps
    other harness runs out, so such a lock was left by a killed git). False if none."""
    if not lock.exists():
        return False
    holders = _git_processes_in(where)
    if holders:
        raise EnvError(f"{lock} is held by git (pid {', '.join(map(str, holders))}); retry later")
    proc.note(f"removing stale {lock} (no git process is running in {where})")
    lock.unlink(missing_ok=True)
    return True


def _git_processes_in(where: Path) -> list[int]:
    """Live git processes whose working directory is `where` or below it (git -C)."""
    here = where.resolve()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "git":
                continue
            cwd = (entry / "cwd").resolve(strict=True)
        except OSError:
            continue
        if cwd == here or here in cwd.parents:
            pids.append(int(entry.name))
    return pids


def _verify_checkout(where: Path, commit: str, log: Path) -> None:
    """Never test the wrong tree: HEAD is the wanted commit and nothing is modified."""
    head = _git_checked(where, ["rev-parse", "HEAD"], log).strip()
    if head != commit:
        raise EnvError(f"{where}: HEAD is {head[:12]} after the reset, not {commit[:12]}")
    dirty = _git_checked(where, ["status", "--porcelain"], log)
    if dirty.strip():
        first = dirty.strip().splitlines()[0]
        raise EnvError(f"{where} is not clean after the reset: {first}")


@dataclass
class PatchCase(Case):
    """One patch's Case in the `apply` suite, with what the later stages ask of it."""

    reason: str = ""  # why it did not apply: "conflict", "could not build fake ancestor"
    hunks: tuple[HunkOutcome, ...] = ()  # after a conflict: each hunk's fate with GNU patch


def apply_series(wt: Worktree, series: Series, log: Path) -> Case:
    """git am -3 each patch; after the first conflict, the rest are skipped."""
    cases: list[PatchCase] = []
    failed_at = 0
    for patch in series.patches:
        if failed_at:
            message = f"not applied: patch {failed_at} did not apply"
            cases.append(PatchCase(patch_case_name(patch), Status.SKIP, message))
            continue
        case = apply_patch(wt, patch, log)
        cases.append(case)
        if case.status is Status.FAIL:
            failed_at = patch.number
    if failed_at:
        analyse_rejects(wt, series, cases, log)
    suite = Case("apply", children=list(cases))
    return suite


def patch_case_name(patch: Patch) -> str:
    return f"{patch.number:04d} {patch.short_subject}"


def apply_patch(wt: Worktree, patch: Patch, log: Path) -> PatchCase:
    name = patch_case_name(patch)
    with tempfile.NamedTemporaryFile(suffix=".patch") as mail:
        mail.write(patch.mail)
        mail.flush()
        before = git(wt.path, "rev-parse", "HEAD").output.strip()
        result = git(wt.path, "am", "-3", "--keep-non-patch", mail.name, log=log)
    if result.ok:
        unchanged = _no_change(wt, before, result.output)
        if unchanged:
            return PatchCase(
                name,
                Status.FAIL,
                f"{unchanged}: the base already has this change",
                details=result.output.strip(),
                properties={"apply": "already-applied"},
                reason=unchanged,
            )
        how = "3-way" if "3-way merge" in result.output else "clean"
        return PatchCase(name, Status.PASS, f"applied {how}", properties={"apply": how})
    conflicted = git(wt.path, "diff", "--name-only", "--diff-filter=U").output.split()
    git(wt.path, "am", "--abort", log=log)
    failed_files = conflicted or re.findall(r"^error: patch failed: ([^:]+):", result.output, re.M)
    reason = "could not build fake ancestor" if "fake ancestor" in result.output else "conflict"
    files = ", ".join(dict.fromkeys(failed_files)) or "(see details)"
    return PatchCase(
        name,
        Status.FAIL,
        f"{reason}: {files}",
        details=result.output.strip(),
        properties={"apply": "conflict"},
        reason=reason,
    )


def _no_change(wt: Worktree, before: str, am_output: str) -> str:
    """Why a `git am` that succeeded changed nothing ('' when it did change the tree):
    git says "No changes -- Patch already applied" and makes no commit, or the 3-way
    merge left an empty commit. Either way the series was not tested as sent."""
    if "Patch already applied" in am_output:
        return "already applied"
    head = git(wt.path, "rev-parse", "HEAD").output.strip()
    if head == before:
        return "already applied"
    if git(wt.path, "diff", "--quiet", before, head).ok:
        return "empty commit"
    return ""


HUNK_RESULT = re.compile(
    r"^Hunk #(\d+) (succeeded|FAILED) at (\d+)(?: with fuzz (\d+))?(?: \(offset (-?\d+) lines?\))?"
)


@dataclass(frozen=True)
class HunkOutcome:
    file: str
    hunk: int
    applied: bool
    line: int
    offset: int
    fuzz: int

    def describe(self) -> str:
        if not self.applied:
            return f"{self.file} hunk #{self.hunk}: REJECTED (at line {self.line})"
        extra = [f"offset {self.offset}" for _ in [0] if self.offset]
        extra += [f"fuzz {self.fuzz}" for _ in [0] if self.fuzz]
        how = ", ".join(extra) or "exact"
        return f"{self.file} hunk #{self.hunk}: applies at {self.line} ({how})"


def parse_patch_output(output: str) -> list[HunkOutcome]:
    """GNU patch --verbose output -> one outcome per hunk."""
    outcomes: list[HunkOutcome] = []
    current = ""
    for line in output.splitlines():
        if line.startswith(("patching file ", "checking file ")):
            current = line.split(" ", 2)[2].strip("'")
            continue
        m = HUNK_RESULT.match(line)
        if m:
            outcomes.append(
                HunkOutcome(
                    current,
                    int(m[1]),
                    m[2] == "succeeded",
                    int(m[3]),
                    int(m[5] or 0),
                    int(m[4] or 0),
                )
            )
    return outcomes


def analyse_rejects(wt: Worktree, series: Series, cases: list[PatchCase], log: Path) -> None:
    """Apply every patch with GNU patch (fuzz allowed) in a scratch worktree, in order,
    keeping partial results, so the reviewer sees which hunks land and which do not."""
    scratch = wt.path.with_name(wt.path.name + ".rejects")
    spec = TreeSpec(repo=_main_repo(wt.path), rev=wt.base_rev, label="scratch")
    scratch_wt = prepare_worktree(spec, scratch, log)
    for patch, case in zip(series.patches, cases, strict=True):
        with tempfile.NamedTemporaryFile("w", suffix=".diff") as diff:
            diff.write(patch.diff)
            diff.flush()
            result = proc.run(
                [
                    "patch",
                    "-p1",
                    "-N",
                    "-f",
                    "--verbose",
                    "--no-backup-if-mismatch",
                    "-r",
                    "-",
                    "-i",
                    diff.name,
                ],
                cwd=scratch_wt.path,
                log=log,
                timeout=120,
            )
        outcomes = parse_patch_output(result.output)
        case.hunks = tuple(outcomes)
        rejected = [o for o in outcomes if not o.applied]
        summary = (
            f"dry-run with fuzz: {len(outcomes) - len(rejected)}/{len(outcomes)} hunks "
            f"apply, {len(rejected)} rejected"
        )
        case.properties["hunks_applied"] = str(len(outcomes) - len(rejected))
        case.properties["hunks_rejected"] = str(len(rejected))
        report = "\n".join(o.describe() for o in outcomes)
        case.details = f"{case.details}\n\n{summary}\n{report}".strip()
        if case.status is Status.SKIP:
            case.message += f"; {summary}"
        elif case.status is Status.FAIL and rejected and case.properties["apply"] == "conflict":
            files = ", ".join(dict.fromkeys(o.file for o in rejected))
            case.message = f"{case.reason}; hunks rejected in: {files}"
        git(scratch_wt.path, "add", "-A", log=log)
        git(scratch_wt.path, "commit", "-q", "--allow-empty", "-m", patch.short_subject, log=log)


def _main_repo(worktree: Path) -> Path:
    common = git(worktree, "rev-parse", "--path-format=absolute", "--git-common-dir")
    return Path(common.output.strip()).parent
