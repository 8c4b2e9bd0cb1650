"""Build: make O=<build dir> with ccache; errors and warnings captured.

Input: a BuildSpec. Output: a BuildResult whose Case carries the compiler's error
lines on failure. Writes build.log. The build dir is reused between runs, so
make rebuilds only what changed (and ccache serves what it saw before).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from harness import proc, sandbox
from harness.build import ccache
from harness.cases import Case, Status
from harness.progress import Ticker
from harness.sandbox import Sandbox, Step

DIAGNOSTIC = re.compile(
    r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?:(?P<col>\d+):)? "
    r"(?P<kind>error|warning|fatal error): (?P<msg>.*)$"
)
MAKE_ERROR = re.compile(r"^make(\[\d+\])?: \*\*\* ")
LINKER_ERROR = re.compile(r"^(ld|ld\.lld|.*ld): .*(undefined reference|error)")
# scripts' own errors: modules-check ("error: the following would cause module name
# conflict:" + the modules, indented) and modpost ("ERROR: modpost: ... undefined!")
TOOL_ERROR = re.compile(r"^(?:error|ERROR): \S")
CONTEXT_LINES = 6


@dataclass(frozen=True)
class BuildSpec:
    src: Path
    build: Path
    jobs: int
    targets: tuple[str, ...] = ("bzImage", "modules")
    timeout: float = 3600
    extra_make_args: tuple[str, ...] = ()
    # Whose build this is (build/ccache.py): ccache.TRUSTED for the bare base, which alone
    # writes the shared cache; '' for a build dir's own cache.
    owner: str = ""
    compiler: str = "gcc"  # CC, through ccache: clang-19, i686-linux-gnu-gcc, ...


@dataclass
class BuildResult:
    case: Case
    kernel: Path | None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def make_argv(spec: BuildSpec) -> list[str]:
    """The only place the kernel make command line is spelled."""
    cached = "ccache " if _have("ccache") else ""
    return [
        "make",
        "-C",
        str(spec.src),
        f"O={spec.build}",
        f"-j{spec.jobs}",
        f"CC={cached}{spec.compiler}",
        f"HOSTCC={cached}gcc",
        *spec.extra_make_args,
        *spec.targets,
    ]


def sandbox_for(spec: BuildSpec) -> Sandbox:
    """A kernel build writes only its build dir and its owner's ccache; the tree is
    read-only, and so is the shared cache unless the build is trusted."""
    cache = ccache.for_build(spec.build, spec.owner)
    return sandbox.for_step(
        Step.BUILD,
        writes={"build": (spec.build,), "ccache": cache.writes},
        reads=(spec.src, *cache.reads),
    )


def make_env(spec: BuildSpec) -> dict[str, str]:
    # Fixed identity and a base dir make objects identical across worktrees, so
    # ccache hits when the same source is built from another checkout.
    cached = ccache.for_build(spec.build, spec.owner).env(ccache.configured_remote())
    return {
        **(cached if _have("ccache") else {}),
        "CCACHE_BASEDIR": str(spec.src),
        "KBUILD_BUILD_TIMESTAMP": "2024-01-01",
        "KBUILD_BUILD_USER": "harness",
        "KBUILD_BUILD_HOST": "harness",
    }


def _have(tool: str) -> bool:
    return any(os.access(Path(d) / tool, os.X_OK) for d in os.environ.get("PATH", "").split(":"))


def diagnostics(output: str, kind: str) -> list[str]:
    """Compiler diagnostics of one kind ('error' or 'warning'), deduplicated."""
    found = []
    for line in output.splitlines():
        m = DIAGNOSTIC.match(line)
        if m and m["kind"].endswith(kind):
            found.append(line.strip())
    return list(dict.fromkeys(found))


def error_headline(output: str) -> str:
    """The one line that says why a build failed: the first compiler error, else the
    first script or linker error."""
    errors = diagnostics(output, "error")
    return errors[0] if errors else first_other_error(output)


def first_other_error(output: str) -> str:
    """No compiler error: the first script or linker error, with its indented list."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if TOOL_ERROR.match(line) or LINKER_ERROR.match(line):
            listed = []
            for following in lines[i + 1 : i + 1 + CONTEXT_LINES]:
                if not following.startswith((" ", "\t")):
                    break
                listed.append(following.strip())
            return " ".join([line.strip(), *listed])
    return "make failed"


def error_excerpt(output: str) -> str:
    """Each error with the lines after it (the caret, notes), then make's own verdict."""
    lines = output.splitlines()
    keep: set[int] = set()
    for i, line in enumerate(lines):
        m = DIAGNOSTIC.match(line)
        if (m and "error" in m["kind"]) or LINKER_ERROR.match(line) or TOOL_ERROR.match(line):
            keep.update(range(max(0, i - 1), min(len(lines), i + CONTEXT_LINES)))
        elif MAKE_ERROR.match(line):
            keep.add(i)
    if not keep:
        return "\n".join(lines[-40:])
    return "\n".join(lines[i] for i in sorted(keep))


def tree_relative(output: str, spec: BuildSpec) -> str:
    """Compiler paths as the reviewer knows them (mm/mmap.c), not ../../worktrees/x/mm/mmap.c."""
    for prefix in (f"{os.path.relpath(spec.src, spec.build)}/", f"{spec.src}/"):
        output = output.replace(prefix, "")
    return output


def kernel_image(spec: BuildSpec) -> Path:
    return spec.build / "arch/x86/boot/bzImage"


def build(spec: BuildSpec, log: Path, name: str = "build") -> BuildResult:
    watcher = _Progress()
    result = proc.run(
        make_argv(spec),
        log=log,
        timeout=spec.timeout,
        env=make_env(spec),
        on_line=watcher.update,
        box=sandbox_for(spec),
    )
    watcher.done()
    output = tree_relative(result.output, spec)
    warnings = diagnostics(output, "warning")
    props = {"seconds": f"{result.seconds:.1f}", "warnings": str(len(warnings))}
    if result.timed_out:
        case = Case(
            name,
            Status.ERROR,
            f"build timed out after {spec.timeout:.0f}s",
            details=output[-4000:],
            seconds=result.seconds,
            properties=props,
        )
        return BuildResult(case, None, warnings, result.seconds)
    if result.denied or not result.ok:
        headline = sandbox.stopped(result.denied) if result.denied else error_headline(output)
        headline += proc.out_of_space(spec.build)
        case = Case(
            name,
            Status.FAIL,
            headline,
            details=error_excerpt(output),
            seconds=result.seconds,
            properties=props,
        )
        return BuildResult(case, None, warnings, result.seconds)
    kernel = kernel_image(spec)
    message = f"built in {result.seconds:.0f}s, {len(warnings)} warning(s)"
    case = Case(
        name,
        Status.PASS,
        message,
        details="\n".join(warnings),
        seconds=result.seconds,
        properties=props,
    )
    return BuildResult(case, kernel, warnings, result.seconds)


class _Progress:
    """The object being built: one rewritten line on a terminal, a line every 30 s in a CI log."""

    def __init__(self) -> None:
        self.count = 0
        self.ticker = Ticker("build")

    def update(self, line: str) -> None:
        self.count += 1
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("CC", "LD", "AR", "AS", "CC [M]", "LD [M]"):
            self.ticker.update(f"{self.count} lines of make output, now {parts[-1][:60]}")

    def done(self) -> None:
        self.ticker.done()
