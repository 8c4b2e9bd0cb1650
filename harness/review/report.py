"""Review report: results.json of a `harness check` run -> a reply mail and a Markdown summary.

Input: a run directory (its results.json, read back with junit.case_from_dict).
Output: review.eml, a plain-text reply to the series' cover letter in the style of the
kernel test robot, ready for `git send-email`; review.md for CI job summaries.
Rendering is pure (meta, suites) -> text. Raises UserError for a missing or bad results.json.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from harness.cases import Case, Status
from harness.errors import UserError
from harness.results.junit import write_atomic
from harness.results.rundir import load
from harness.review import defect_report, defect_table

PATCH_SUITE = re.compile(r"^(\d{4}) (.*)$")
WORD = {
    Status.PASS: "ok",
    Status.FAIL: "FAIL",
    Status.ERROR: "ERROR",
    Status.SKIP: "skipped",
    Status.XFAIL: "xfail",
}
ICON = {
    Status.PASS: "✅",
    Status.FAIL: "❌",
    Status.ERROR: "💥",
    Status.SKIP: "⏭️",
    Status.XFAIL: "☑️",
}
WARNED = "⚠️"  # passed, with findings a reviewer should read
BY_HAND = (
    "mkdir build_dir && cp config build_dir/.config   # config: saved in the run directory",
    "make O=build_dir olddefconfig",
)


def patch_suites(suites: list[Case]) -> list[Case]:
    return [s for s in suites if PATCH_SUITE.match(s.name)]


def patch_title(suite: Case, total: int) -> str:
    m = PATCH_SUITE.match(suite.name)
    number, subject = (int(m[1]), m[2]) if m else (0, suite.name)
    return f"[PATCH {number}/{total}] {subject}"


def _first_name(author: str) -> str:
    name = re.sub(r"\s*<[^>]*>", "", author).strip().strip('"')
    return name.split()[0] if name else "there"


def headers(meta: dict[str, Any]) -> list[str]:
    subject = re.sub(r"^(Re:\s*)+", "", str(meta.get("subject", "your series")))
    lines = [f"Subject: Re: {subject}"]
    if meta.get("author"):
        lines.append(f"To: {meta['author']}")
    if meta.get("message_id"):
        lines += [f"In-Reply-To: {meta['message_id']}", f"References: {meta['message_id']}"]
    return lines


def setting(meta: dict[str, Any]) -> list[str]:
    config = ", ".join(meta.get("config", [])) or "(unknown)"
    commit = str(meta.get("base_commit", ""))[:12]
    base = f"{meta.get('base', '?')}" + (f" (commit {commit})" if commit else "")
    if meta.get("kind") == "review":
        what = f"reviewed your series ({', '.join(meta.get('stages', []))}) on"
    elif "compare" in meta:
        what = "measured what your series costs against"
    else:
        what = "reviewed your series patch by patch on"
    lines = [
        f"harness {what} base {base}",
        f"with config {config} and compiler {meta.get('compiler', 'gcc')}.",
    ]
    return lines + ([f"Note: {meta['base_note']}."] if meta.get("base_note") else [])


def case_line(case: Case) -> str:
    text = f"  {case.name + ':':12}{WORD[case.status]}"
    if case.name == "build" and case.status is Status.PASS:
        count = case.properties.get("warnings", "0")
        config = f"; config: {case.properties['config']}" if "config" in case.properties else ""
        return f"{text}, built in {case.seconds:.1f}s ({count} warnings){config}"
    message = case.message or _bad_children(case)
    if message:
        text += f", {message}" if case.status is Status.PASS else f": {message}"
    if case.name == "build" and case.status is not Status.SKIP:
        text += f" (after {case.seconds:.1f}s)"
    return text


def _bad_children(case: Case, most: int = 3) -> str:
    """A finding that says nothing of itself (the matrix): its failing parts, named."""
    bad = [c for c in case.children if c.status.is_bad]
    named = "; ".join(f"{c.name}: {c.message}" if c.message else c.name for c in bad[:most])
    return named + (f" (+{len(bad) - most} more)" if len(bad) > most else "")


def case_details(case: Case) -> list[str]:
    """The exact lines behind a finding; a passing build's warnings are not findings."""
    if not case.details and case.status.is_bad:
        parts = [c for c in case.children if c.status.is_bad and c.details]
        lines = [line for c in parts for line in (f"{c.name}:", *c.details.splitlines(), "")]
        return ["", *[f"    {line}".rstrip() for line in lines]] if lines else []
    if not case.details or case.status is Status.SKIP:
        return []
    if case.name == "build" and case.status is Status.PASS:
        return []
    if case.status is Status.PASS and case.properties.get("worst") == "info":
        return []  # context (e.g. only the catch-all list) is not a finding
    return ["", *[f"    {line}".rstrip() for line in case.details.splitlines()], ""]


def patch_section(suite: Case, total: int) -> list[str]:
    lines = [patch_title(suite, total)]
    for case in suite.children:
        lines.append(case_line(case))
        lines += case_details(case)
    return [*lines, ""]


def verdict(suites: list[Case], total: int) -> str:
    """The patches that need attention, then every other result that failed (a build, a
    boot, a cost beyond its threshold): a run with no per-patch results is never "all
    passed" when something in it failed."""
    patches = patch_suites(suites)
    bad = [s for s in patches if s.status.is_bad]
    others = [_failed(s) for s in suites if s.status.is_bad and not PATCH_SUITE.match(s.name)]
    partial = f" (run incomplete: {len(patches)} checked)" if len(patches) < total else ""
    failed = f"failed: {', '.join(others)}" if others else ""
    if bad:
        numbers = ", ".join(str(int(s.name[:4])) for s in bad)
        head = f"{len(bad)} of {total} patches need attention: patch {numbers}{partial}"
        return f"{head}; {failed}." if failed else f"{head}."
    if failed:
        return (
            f"All {total} patches passed every check{partial}; {failed}."
            if total
            else (f"{failed[0].upper()}{failed[1:]}.")
        )
    if not total:
        return "Every result passed; findings below are warnings."
    return f"All {total} patches passed every check{partial}; findings below are warnings."


def _failed(suite: Case, most: int = 4) -> str:
    """A failed suite by name, with its first failed results."""
    names = [c.name for c in suite.leaves() if c.status.is_bad and c is not suite]
    more = f", +{len(names) - most} more" if len(names) > most else ""
    return f"{suite.name} ({', '.join(names[:most])}{more})" if names else suite.name


def costs(run_dir: Path, meta: dict[str, Any]) -> list[str]:
    """A compare run's cost table (slower · more serialized · more metadata), as compare
    wrote it, indented for the mail; nothing for other runs."""
    table = run_dir / "table.txt"
    if "compare" not in meta or not table.is_file():
        return []
    return [
        "Costs (harness compare):",
        "",
        *(f"  {ln}" if ln else "" for ln in table.read_text().splitlines()),
        "",
    ]


def reproduce(meta: dict[str, Any], suites: list[Case]) -> list[str]:
    argv = [str(a) for a in meta.get("argv", [])]
    jobs = meta.get("jobs", 2)
    lines = ["To reproduce:", "", f"        harness {shlex.join(argv)}", ""]
    lines += ["        # by hand, in a kernel tree with the series applied up to patch N:"]
    lines += [f"        {c}" for c in BY_HAND]
    lines.append(f"        make O=build_dir -j{jobs} bzImage modules")
    return lines + [f"        {make}   # patch {', '.join(n)}" for make, n in w1_lines(suites)]


def w1_lines(suites: list[Case]) -> list[tuple[str, list[str]]]:
    """Each W=1 object build once, with the patches it was run for."""
    found: dict[str, list[str]] = {}
    for suite in patch_suites(suites):
        for case in suite.children:
            if case.name == "warnings" and case.properties.get("make"):
                found.setdefault(case.properties["make"], []).append(str(int(suite.name[:4])))
    return list(found.items())


def base_lines(suites: list[Case]) -> list[str]:
    base = next((s for s in suites if s.name == "base"), None)
    if base is None:
        return []
    return ["base", *(case_line(c) for c in base.children or [base]), ""]


def email_text(
    meta: dict[str, Any],
    suites: list[Case],
    findings: tuple[str, ...] = (),
    cost_lines: tuple[str, ...] = (),
) -> str:
    """`findings`: the findings table's lines (defect_report), after the per-patch checks;
    `cost_lines`: a compare run's cost table, right after the verdict."""
    patches = patch_suites(suites)
    total = int(meta.get("patches") or len(patches))
    lines = [*headers(meta), "", f"Hi {_first_name(str(meta.get('author', '')))},", ""]
    lines += [*setting(meta), "", verdict(suites, total), "", *cost_lines]
    if meta.get("bisect"):  # harness bisect's results: "first bad patch: 4/6 ..."
        lines += [str(meta["bisect"]), ""]
    lines += base_lines(suites)
    for suite in patches:
        lines += patch_section(suite, total)
    lines += findings
    lines += reproduce(meta, suites)
    lines += ["", "-- ", "harness: apply, build, check and boot kernel patch series"]
    return "\n".join(lines) + "\n"


def markdown_text(meta: dict[str, Any], suites: list[Case]) -> str:
    patches = patch_suites(suites)
    total = int(meta.get("patches") or len(patches))
    names = [c.name for c in patches[0].children] if patches else []
    lines = [f"# Review: {meta.get('subject', '')}", "", " ".join(setting(meta)), ""]
    lines += [verdict(suites, total), "", "| patch | " + " | ".join(names) + " |"]
    lines.append("|---" * (len(names) + 1) + "|")
    for suite in patches:
        cells = [_cell(c) for c in suite.children]
        lines.append(f"| {patch_title(suite, total)} | " + " | ".join(cells) + " |")
    for suite in patches:
        found = [c for c in suite.children if case_details(c)]
        if found:
            lines += ["", f"## {patch_title(suite, total)}", ""]
        for case in found:
            icon = WARNED if case.status is Status.PASS else ICON[case.status]
            summary = f"{icon} {case.name}: {case.message}"
            lines += [f"<details><summary>{summary}</summary>"]
            lines += ["", "```", case.details, "```", "</details>", ""]
    lines += ["", "```", *(ln.strip() for ln in reproduce(meta, suites)[2:] if ln), "```"]
    return "\n".join(lines) + "\n"


def _cell(case: Case) -> str:
    text = ICON[case.status]
    if case.name == "build" and case.status is not Status.SKIP:
        text += f" {case.seconds:.0f}s"
    elif case.name == "checkpatch" and case.properties:
        p = case.properties
        text += f" {p.get('errors', 0)}E/{p.get('warnings', 0)}W/{p.get('checks', 0)}C"
    elif case.status is Status.PASS and case_details(case):
        text = WARNED
    return text


def write(
    run_dir: Path, email: bool = True, markdown: bool = True, findings: tuple[str, ...] = ()
) -> list[Path]:
    meta, suites = load(run_dir)
    written = []
    if email:
        # a review puts the costs after the runtime failures, in its findings
        cost_lines = () if meta.get("kind") == "review" else tuple(costs(run_dir, meta))
        write_atomic(run_dir / "review.eml", email_text(meta, suites, findings, cost_lines))
        written.append(run_dir / "review.eml")
    if markdown:
        write_atomic(run_dir / "review.md", markdown_text(meta, suites))
        written.append(run_dir / "review.md")
    return written


def report_command(
    run_dir: Path,
    email: bool,
    markdown: bool,
    tests: Path | list[Path] | None = None,
    table: Path | None = None,
) -> int:
    """`tests`: a test run whose defects join the mail's findings table; `table`: write
    that table as Markdown there too (between the findings markers of a README)."""
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: not a run directory")
    findings: tuple[str, ...] = ()
    if tests:
        rows = defect_report.rows(run_dir, tests if isinstance(tests, list) else [tests])
        findings = tuple(defect_table.text(rows))
        if table is not None:
            defect_report.write_markdown(table, defect_table.markdown(rows))
            print(table)
    elif table is not None:
        raise UserError("--findings-md needs --tests TEST_RUN (the defects come from both runs)")
    for path in write(run_dir, email or not markdown, markdown, findings):
        print(path)
    return 0
