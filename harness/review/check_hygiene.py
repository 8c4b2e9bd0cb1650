"""Static hygiene check of one patch mail: sign-off, subject, SPDX, file headers, maintainers.

Input: the whole mail text and the base kernel tree. Output: Findings (check "hygiene").
get_maintainer.pl runs through an injectable Runner (default: proc.run; tests pass recorded
output); it is the only side effect, and its failure becomes an INFO finding. Never raises.
"""

from __future__ import annotations

import email.utils
import re
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path

from harness import proc, sandbox
from harness.errors import HarnessError
from harness.intake import mail
from harness.intake.diffparse import FileDiff, parse_diff
from harness.review.checker_findings import Finding, Severity
from harness.sandbox import Step

CHECK = "hygiene"
MAX_SUMMARY = 75
SOB_RE = re.compile(r"^Signed-off-by:\s*(.*?)\s*<([^>]+)>", re.MULTILINE | re.IGNORECASE)
BRACKETS_RE = re.compile(r"^(\s*\[[^\]]*\]\s*)+")
PREFIX_RE = re.compile(r"^([A-Za-z0-9_./,+-]+(?: [A-Za-z0-9_./,+-]+)?:\s)+(\S.*)$")
PATH_RE = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.(?:c|h|S|rs|py|sh|pl|lds))\b")
MAINTAINER_ARGS = ("--no-git", "--no-git-fallback")
SCRIPT_SUFFIXES = (".sh", ".py", ".pl", ".awk", ".bash")

# (argv, cwd) -> stdout. Raises OSError or HarnessError when it cannot run.
Runner = Callable[[Sequence[str], Path], str]


class SandboxStopped(OSError):
    """The tree's script tried to write, read or connect outside its sandbox."""


def run_command(argv: Sequence[str], cwd: Path) -> str:
    """The default Runner: proc.run, with a non-zero exit turned into OSError."""
    done = proc.run(
        argv, cwd=cwd, timeout=120, box=sandbox.for_step(Step.TREE_SCRIPT, reads=(cwd,))
    )
    if done.denied:
        raise SandboxStopped(sandbox.stopped(done.denied))
    if not done.ok:
        raise OSError(f"{shlex.join(argv)} exited with {done.returncode}")
    return done.output


def split_mail(mail_text: str) -> tuple[str, str, str]:
    """(From, Subject, body) of a mail; a leading `From:` line in the body names the author."""
    msg = mail.read(mail_text)
    sender, subject = mail.header(msg, "From"), mail.header(msg, "Subject")
    body = mail.body_text(msg)
    first = body.lstrip("\n").split("\n", 1)[0]
    if first.startswith("From:"):
        sender = first[5:].strip()
    return sender, subject, body


def signoff_findings(sender: str, body: str) -> list[Finding]:
    message = body.split("\n---\n", 1)[0]
    sobs = SOB_RE.findall(message)
    if not sobs:
        return [Finding(CHECK, Severity.ERROR, "no Signed-off-by")]
    name, addr = email.utils.parseaddr(sender)
    if not any(a.lower() == addr.lower() or (name and n.strip('"') == name) for n, a in sobs):
        lines = tuple(f"Signed-off-by: {n} <{a}>" for n, a in sobs)
        return [
            Finding(CHECK, Severity.ERROR, f"no Signed-off-by from the author {sender}", "", lines)
        ]
    return []


def subject_findings(subject: str) -> list[Finding]:
    summary = BRACKETS_RE.sub("", subject).strip()
    out = []
    prefixed = PREFIX_RE.match(summary)
    if not prefixed:
        out.append(
            Finding(CHECK, Severity.WARNING, "subject has no `subsystem: ` prefix", "", (summary,))
        )
    else:
        first = prefixed.group(2).split()[0]
        if first[:1].isupper() and not first.isupper():
            out.append(
                Finding(
                    CHECK,
                    Severity.WARNING,
                    "summary after the prefix starts upper-case",
                    "",
                    (summary,),
                )
            )
    if summary.endswith("."):
        out.append(Finding(CHECK, Severity.WARNING, "subject ends with a period", "", (summary,)))
    if len(summary) > MAX_SUMMARY:
        out.append(
            Finding(
                CHECK,
                Severity.WARNING,
                f"subject is {len(summary)} characters (max {MAX_SUMMARY})",
                "",
                (summary,),
            )
        )
    return out


def header_comment(lines: list[str]) -> list[str]:
    """The first comment block of a new file (after an SPDX line or shebang)."""
    out: list[str] = []
    for text in lines[:40]:
        stripped = text.strip()
        if out and not stripped.startswith(("*", "/*", "//", "#")):
            break
        if stripped.startswith(("/*", "*", "//", "#")) or out:
            out.append(text)
        if out and stripped.endswith("*/"):
            break
    return out


def new_file_findings(f: FileDiff) -> list[Finding]:
    lines = [line.text for line in f.added]
    if not lines:
        return []
    out = []
    spdx_at = (
        1
        if lines[0].startswith("#!")
        or f.path.endswith(SCRIPT_SUFFIXES)
        and lines[0].startswith("#")
        else 0
    )
    spdx_line = lines[spdx_at] if len(lines) > spdx_at else ""
    if "SPDX-License-Identifier:" not in spdx_line:
        out.append(
            Finding(
                CHECK,
                Severity.ERROR,
                f"new file has no SPDX-License-Identifier on line {spdx_at + 1}",
                f.path,
                (spdx_line,),
            )
        )
    elif f.path.endswith(".c") and not spdx_line.startswith("//"):
        out.append(
            Finding(
                CHECK,
                Severity.WARNING,
                "SPDX line of a .c file should use a // comment",
                f.path,
                (spdx_line,),
            )
        )
    elif f.path.endswith(".h") and not spdx_line.startswith("/*"):
        out.append(
            Finding(
                CHECK,
                Severity.WARNING,
                "SPDX line of a .h file should use a /* */ comment",
                f.path,
                (spdx_line,),
            )
        )
    header = header_comment(
        [t for t in lines if "SPDX-License-Identifier" not in t and not t.startswith("#!")]
    )
    own = f.path.rsplit("/", 1)[-1]
    named = [p for text in header for p in PATH_RE.findall(text) if p.rsplit("/", 1)[-1] != own]
    if named:
        out.append(
            Finding(
                CHECK,
                Severity.WARNING,
                f"header comment names {', '.join(dict.fromkeys(named))}, not {f.path}:"
                " copied from another file?",
                f.path,
                tuple(header),
            )
        )
    return out


def maintainer_target(path: str, tree: Path) -> str | None:
    """The file itself if the tree has it, else its nearest existing directory."""
    candidate = Path(path)
    while not (tree / candidate).exists():
        if candidate.parent == candidate:
            return None
        candidate = candidate.parent
    return candidate.as_posix() + ("/" if (tree / candidate).is_dir() else "")


def parse_maintainers(output: str) -> list[str]:
    """The mailing lists among get_maintainer.pl lines like `list@host (open list:MM)`."""
    lists = []
    for line in output.splitlines():
        m = re.match(r"^\s*(\S+@\S+)\s+\(([^)]*)\)", line)
        if m and "list" in m.group(2).lower():
            lists.append(f"{m.group(1)} ({m.group(2)})")
    return lists


def maintainer_findings(files: list[FileDiff], tree: Path, runner: Runner) -> list[Finding]:
    out = []
    script = tree / "scripts" / "get_maintainer.pl"
    if not script.is_file():
        return [
            Finding(
                CHECK,
                Severity.INFO,
                "get_maintainer.pl not found in the tree: maintainers not checked",
            )
        ]
    for f in files:
        target = maintainer_target(f.path, tree)
        if target is None:
            continue
        argv = ["perl", "scripts/get_maintainer.pl", *MAINTAINER_ARGS, "-f", target]
        try:
            lists = parse_maintainers(runner(argv, tree))
        except SandboxStopped as err:  # the patch's script is hostile: the check fails
            return [Finding(CHECK, Severity.ERROR, f"get_maintainer.pl: {err}")]
        except (OSError, HarnessError) as err:
            return [Finding(CHECK, Severity.CRASH, f"get_maintainer.pl failed: {err}")]
        if not lists:
            out.append(
                Finding(
                    CHECK,
                    Severity.WARNING,
                    f"get_maintainer.pl finds no mailing list for {target}",
                    f.path,
                )
            )
        elif all(item.endswith("(open list)") for item in lists):
            out.append(
                Finding(
                    CHECK,
                    Severity.INFO,
                    f"no subsystem list for {target}: only the catch-all {lists[0]}",
                    f.path,
                )
            )
    return out


def check_patch(patch_text: str, tree: Path | None, runner: Runner = run_command) -> list[Finding]:
    """Hygiene findings for one whole patch mail (headers and body)."""
    try:
        sender, subject, body = split_mail(patch_text)
        files = parse_diff(body or patch_text)
        if not files:
            return []  # a cover letter or a reply: nothing to sign off or to check
        out = signoff_findings(sender, body) if sender or body else []
        out += subject_findings(subject) if subject else []
        for f in files:
            out += new_file_findings(f) if f.is_new else []
        if tree is not None:
            out += maintainer_findings(files, tree, runner)
        return out
    except (ValueError, TypeError, LookupError) as err:
        return [Finding(CHECK, Severity.CRASH, f"hygiene check could not finish: {err}")]
