"""What a bisection tells: the culprit, every step, the verdict, as text and as Cases.

Input: a SearchResult and what names the candidates (a Culprit, the labels). Output: pure
text (summary.md, the terminal, the `git bisect log`-form log, the mail's sentence) and
the Cases of junit.xml: one testcase per step, plus the verdict. Writes nothing itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.bisection.search import Kind, SearchResult, Step, Verdict
from harness.cases import Case, Status

STEP_STATUS = {Kind.GOOD: Status.PASS, Kind.BAD: Status.FAIL, Kind.SKIP: Status.SKIP}


@dataclass(frozen=True)
class Culprit:
    """Who to tell: the patch (series mode) or the commit (range mode)."""

    label: str  # "4/6 mm: ..." or "abc123def456 mm: ..."
    subject: str
    author: str
    ref: str  # Message-ID, or the commit id
    files: tuple[str, ...]
    excerpt: str = ""  # the culprit's build error or console report


def sentence(result: SearchResult, culprit: Culprit | None, mode: str) -> str:
    """The one line a review mail carries: "first bad patch: 4/6 ... (confirmed, ...)"."""
    what = "first bad patch" if mode == "series" else "first bad commit"
    how = (
        f"{result.verdict.value}, right with probability ≥ {result.confidence:.3f}, "
        f"{result.builds} builds"
    )
    if culprit is None:
        return f"{what}: not found ({how}); still possible: {len(result.remaining)} candidates"
    return f"{what}: {culprit.label} ({how})"


def step_line(step: Step, label: str) -> str:
    return (
        f"{label[:48]:48}  {step.kind.value:5}  {step.failed}/{step.runs} failed  "
        f"{step.seconds:6.0f}s  {(step.detail or step.signature)[:110]}"
    )


def step_table(result: SearchResult, label: Callable[[int], str]) -> list[str]:
    rows = ["| candidate | role | verdict | runs failed/total | error ≤ | time | signature |"]
    rows.append("|---|---|---|---|---|---|---|")
    for step in result.steps:
        rows.append(
            f"| {label(step.candidate)} | {step.role or 'step'} | {step.kind.value} | "
            f"{step.failed}/{step.runs} | {step.error:.3g} | {step.seconds:.0f}s | "
            f"{_cell(_measured(step))} |"
        )
    return rows


def _measured(step: Step) -> str:
    """The signature, and what the oracle measured (perf mode: n, medians, change, p)."""
    return "; ".join(t for t in (step.signature, step.detail) if t)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")[:160]


def repeat_method(result: SearchResult) -> list[str]:
    """How the repeats decided (the failure modes): p, its bound, k, the bound, the cost."""
    return [
        f"Reproduction rate of the bad end p = {result.p:.2f} "
        f"({result.steps[0].failed}/{result.steps[0].runs} runs); {_p_bound(result)}; "
        f"a candidate is good after {result.runs_for_good} clean run(s). The answer is right with "
        f"probability ≥ {result.confidence:.3f} (1 - the steps' error bounds"
        f"{' - the bound of p' if 0 < result.p_low < 1 else ''}).",
        f"{result.builds} builds, {result.total_runs} runs, "
        f"{sum(s.seconds for s in result.steps):.0f}s in the steps.",
    ]


def _p_bound(result: SearchResult) -> str:
    if result.p_low >= 1:
        return "the failure repeats exactly (the build decides it): one run decides"
    return f"its Clopper-Pearson lower bound {result.p_low:.3f}"


def summary_markdown(
    result: SearchResult,
    culprit: Culprit | None,
    label: Callable[[int], str],
    mode: str,
    method: list[str] | None = None,
) -> str:
    lines = [f"# harness bisect: {result.verdict.value}", "", sentence(result, culprit, mode), ""]
    if culprit is not None:
        lines += [
            f"- subject: {culprit.subject}",
            f"- author: {culprit.author}",
            f"- {'Message-ID' if mode == 'series' else 'commit'}: {culprit.ref}",
            f"- files: {', '.join(culprit.files) or '(none)'}",
        ]
    else:
        lines.append("Still possible: " + ", ".join(label(c) for c in result.remaining))
    lines += ["", *(method or repeat_method(result))]
    lines += [f"- unreliable: {why}" for why in result.flags]
    lines += ["", "## Steps", "", *step_table(result, label)]
    if culprit is not None and culprit.excerpt:
        lines += ["", "## The culprit's failure", "", "```", culprit.excerpt.strip(), "```"]
    return "\n".join(lines) + "\n"


def step_cases(result: SearchResult, label: Callable[[int], str]) -> list[Case]:
    steps = Case("bisect steps")
    for index, step in enumerate(result.steps):
        steps.children.append(
            Case(
                f"{index:02d} {label(step.candidate)}",
                STEP_STATUS[step.kind],
                f"{step.role or 'step'}: {step.kind.value}, {step.failed}/{step.runs} runs "
                f"failed{': ' + _measured(step) if _measured(step) else ''}",
                seconds=step.seconds,
                properties={"candidate": str(step.candidate), "runs": str(step.runs)},
            )
        )
    return [steps]


def verdict_case(result: SearchResult, culprit: Culprit | None, mode: str) -> Case:
    """PASS only for a confirmed culprit: a CI job then fails on an unreliable answer."""
    status = Status.PASS if result.verdict is Verdict.CONFIRMED else Status.FAIL
    case = Case("bisect verdict", status, sentence(result, culprit, mode))
    case.details = "\n".join(result.flags)
    case.properties = {"verdict": result.verdict.value, "confidence": f"{result.confidence:.4f}"}
    case.properties["confidence_is"] = "a lower bound of the chance that the culprit is right"
    return case


def bisect_log(result: SearchResult, commits: list[str], subjects: list[str]) -> str:
    """The search as `git bisect log` writes it (commits[k] is candidate k; 0 the good end)."""
    bad, good = commits[result.n], commits[0]
    lines = [f"git bisect start '{bad}' '{good}'"]
    for step in result.steps:
        word = {Kind.GOOD: "good", Kind.BAD: "bad", Kind.SKIP: "skip"}[step.kind]
        sha = commits[step.candidate]
        lines += [f"# {word}: [{sha}] {subjects[step.candidate]}", f"git bisect {word} {sha}"]
    if result.culprit is not None:
        lines.append(f"# first bad commit: [{commits[result.culprit]}] {subjects[result.culprit]}")
    else:
        lines.append("# only skipped commits left to test")
        lines += [f"# possible first bad commit: [{commits[c]}]" for c in result.remaining]
    return "\n".join(lines) + "\n"
