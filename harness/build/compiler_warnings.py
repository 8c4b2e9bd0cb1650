"""New compiler warnings: W=1 builds of the objects a patch touches, before and after it.

Input: the worktree, a configured build dir and the .c files a patch touches. Output: an
ObjectBuild per state and a Case "warnings" listing only the warnings the patch adds,
marked `>>` like the kernel test robot does. Warnings are compared by (file, function,
message), never by line or column, so code moving around does not make old warnings new;
a changed message counts as new. Files: make's output goes to the log. Raises EnvError
when make or gcc is missing (from proc.run).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from harness import proc
from harness.build import make
from harness.cases import Case, Status

IN_FUNCTION = re.compile(
    r"^(?P<file>[^\s:][^:]*): In (?:member )?function [‘'](?P<fn>[^’']+)[’']:$"
)
TOP_LEVEL = re.compile(r"^(?P<file>[^\s:][^:]*): At top level:$")
SOURCE_LINE = re.compile(r"^\s+(\d+\s+)?\|")  # gcc's quoted source and caret lines
SPARSE_DETAIL = re.compile(r"^(?:\S+:\d+:\d+:)?\s+(?:expected|got)\s")  # sparse's two types
MAX_SOURCE_LINES = 4
W1_ARGS = ("-k", "W=1")  # -k: an object outside this config must not stop the others


@dataclass(frozen=True)
class Diagnostic:
    """One warning as gcc printed it, with the lines that give it context."""

    file: str
    function: str  # '' at file scope
    message: str  # without file:line:col, with the [-Wflag]
    line: str  # the warning line exactly as printed
    header: str = ""  # the "In function 'x':" line before it, if any
    source: tuple[str, ...] = ()  # the quoted source line and the caret
    kind: str = "warning"  # or "error", "fatal error"
    where: str = ""  # line:col, which the key leaves out

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.file, self.function, normalised(self.message))


def normalised(message: str) -> str:
    """A message as the key sees it: line numbers inside it (`declared at line 12`,
    `x.c:12`) do not make a moved warning a new one."""
    return LINE_REFERENCE.sub(r"\1N", message)


LINE_REFERENCE = re.compile(r"(\bline |\.[ch]:)\d+")


def parse(lines: Sequence[str]) -> list[Diagnostic]:
    """Compiler output lines -> the warnings in it, in order; never raises."""
    found: list[Diagnostic] = []
    scope = ("", "", "")  # file, function, header line
    for raw in lines:
        line = raw.rstrip("\n")
        if m := IN_FUNCTION.match(line):
            scope = (m["file"], m["fn"], line)
        elif m := TOP_LEVEL.match(line):
            scope = (m["file"], "", "")
        elif m := make.DIAGNOSTIC.match(line):
            function, header = (scope[1], scope[2]) if scope[0] == m["file"] else ("", "")
            where = f"{m['line']}:{m['col']}" if m["col"] else m["line"]
            diag = Diagnostic(m["file"], function, m["msg"].strip(), line, header)
            found.append(replace(diag, kind=m["kind"], where=where))
        elif (
            (SOURCE_LINE.match(line) or SPARSE_DETAIL.match(line))
            and found
            and len(found[-1].source) < MAX_SOURCE_LINES
        ):
            found[-1] = replace(found[-1], source=(*found[-1].source, line))
    return found


def new_diagnostics(before: Sequence[str], after: Sequence[str]) -> list[Diagnostic]:
    """The errors and warnings of `after` that `before` does not have (counting duplicates)."""
    old = Counter(d.key for d in parse(before))
    new = []
    for diag in parse(after):
        if old[diag.key]:
            old[diag.key] -= 1
        else:
            new.append(diag)
    return new


def moved_diagnostics(before: Sequence[str], after: Sequence[str]) -> list[Diagnostic]:
    """The diagnostics of `after` that `before` has too, at another line: not new."""
    old: dict[tuple[str, str, str], list[str]] = {}
    for diag in parse(before):
        old.setdefault(diag.key, []).append(diag.where)
    moved = []
    for diag in parse(after):
        places = old.get(diag.key)
        if places:
            if diag.where in places:
                places.remove(diag.where)
            else:
                places.pop(0)
                moved.append(diag)
    return moved


def new_warnings(before: list[str], after: list[str]) -> list[str]:
    """Compiler output lines before and after a patch -> the new warning lines."""
    return [d.line for d in new_diagnostics(before, after) if d.kind == "warning"]


def render(diagnostics: Sequence[Diagnostic]) -> str:
    """Kernel-test-robot style: context indented, the new warning itself marked `>>`."""
    out: list[str] = []
    header = ""
    for diag in diagnostics:
        if diag.header and diag.header != header:
            out.append(f"   {diag.header}")
        header = diag.header
        out.append(f">> {diag.line}")
        out += [f"   {line}" for line in diag.source]
    return "\n".join(out)


def strip_prefixes(text: str, prefixes: Sequence[str]) -> str:
    """Tree paths as gcc printed them (absolute, or ../../worktrees/x/) -> tree-relative."""
    for prefix in sorted(prefixes, key=len, reverse=True):
        text = text.replace(prefix, "")
    return text


def touched_objects(files: Sequence[str]) -> list[str]:
    return [f[:-2] + ".o" for f in files if f.endswith(".c")]


@dataclass(frozen=True)
class ObjectBuild:
    """A W=1 build of some objects in one tree state."""

    built: tuple[str, ...] = ()  # objects that compiled
    failed: tuple[str, ...] = ()  # objects whose source exists but did not compile
    output: tuple[str, ...] = ()  # make's output, paths made tree-relative
    command: str = ""  # the make line, as a reader would type it in a tree
    undefined: tuple[str, ...] = ()  # 'object symbol': libgcc helpers called (matrix.py)


def build_objects(spec: make.BuildSpec, objects: Sequence[str], log: Path) -> ObjectBuild:
    """make -k W=1 <objects> in spec's build dir; objects without a .c are left out.
    Each .o is removed first so make prints its warnings again (ccache replays them)."""
    wanted = [o for o in objects if (spec.src / (o[:-2] + ".c")).is_file()]
    if not wanted:
        return ObjectBuild()
    for obj in wanted:
        (spec.build / obj).unlink(missing_ok=True)
    w1 = dataclasses.replace(
        spec, targets=tuple(wanted), extra_make_args=(*spec.extra_make_args, *W1_ARGS)
    )
    # The kernel's Makefile unexports LC_ALL: LANG and LC_MESSAGES make gcc's quotes plain.
    env = {**make.make_env(w1), "LC_ALL": "C", "LANG": "C", "LC_MESSAGES": "C"}
    result = proc.run(
        make.make_argv(w1), log=log, timeout=w1.timeout, env=env, box=make.sandbox_for(w1)
    )
    relative = os.path.relpath(spec.src, spec.build)
    text = strip_prefixes(result.output, [f"{spec.src}/", f"{relative}/"])
    built = tuple(o for o in wanted if (spec.build / o).is_file())
    failed = tuple(o for o in wanted if o not in built)
    return ObjectBuild(built, failed, tuple(text.splitlines()), object_command(built))


def object_command(objects: Sequence[str]) -> str:
    return f"make O=build_dir W=1 {' '.join(objects)}" if objects else ""


def warnings_case(before: ObjectBuild, after: ObjectBuild) -> Case:
    """The Case "warnings": FAIL when the patch adds W=1 warnings or errors to what it
    touches. An object that compiled before the patch and not after is a finding, never a
    skip; one that did not compile on the base either is left to the build matrix."""
    if not after.built and not after.failed:
        return Case("warnings", Status.PASS, "no C file of this config touched")
    new = new_diagnostics(before.output, after.output)
    broken = [o for o in after.failed if o in before.built]
    props = {"objects": " ".join(after.built), "make": after.command, "new": str(len(new))}
    if not after.built and not broken and not new:
        failed = " ".join(after.failed)
        why = f"{failed} does not compile in this config, on the base either (see the matrix)"
        return Case("warnings", Status.SKIP, why)
    if not new and not broken:
        total = len(parse(after.output))
        message = f"no new W=1 warnings ({total} already there)" if total else "no W=1 warnings"
        return Case("warnings", Status.PASS, message, properties=props)
    if not new:
        return Case("warnings", Status.FAIL, f"{' '.join(broken)} no longer compiles",
                    "\n".join(after.output[-40:]), properties=props)  # fmt: skip
    kinds = "error(s)" if any(d.kind != "warning" for d in new) else "W=1 warning(s)"
    message = f"{len(new)} new {kinds}: {new[0].file}: {new[0].message}"
    return Case("warnings", Status.FAIL, message, render(new), properties=props)
