"""The package list reads as the pipeline: no stage imports from a later stage or a command."""

from __future__ import annotations

import ast
import re
from pathlib import Path

HARNESS = Path(__file__).parent.parent / "harness"
STAGES = ("intake", "tree", "build", "boot", "suites", "results", "review")
# Support modules any stage may use; everything else at the top (cli, pipeline) and the
# command packages (compare/, ...) are built on the stages, never under them.
SUPPORT = {"cases", "errors", "git", "proc", "progress", "readfiles", "sandbox"}
# The command packages, in order: one may build on an earlier one (bisection on compare's
# boots and statistics), never on a later one. (bisection, not bisect: the stdlib has that.)
COMMANDS = ("compare", "bisection", "ci")


def _harness_imports(path: Path) -> set[str]:
    """The first component under harness. of every import in `path` (stages import absolutely)."""
    tree = ast.parse(path.read_text())
    relative = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level]
    assert not relative, f"{path}: relative import"
    return _absolute_imports(path)


def test_no_stage_imports_a_later_stage_or_a_command() -> None:
    wrong = []
    for rank, stage in enumerate(STAGES):
        allowed = SUPPORT | set(STAGES[: rank + 1])
        for module in sorted((HARNESS / stage).glob("*.py")):
            for imported in _harness_imports(module) - allowed:
                wrong.append(f"{module.relative_to(HARNESS)} imports harness.{imported}")
    assert wrong == []


def test_support_modules_import_only_support() -> None:
    for name in SUPPORT:
        assert _harness_imports(HARNESS / f"{name}.py") <= SUPPORT, name


def test_no_module_shadows_the_standard_library() -> None:
    import sys

    names = {p.stem for p in HARNESS.rglob("*.py")} | {p.name for p in HARNESS.iterdir()}
    assert names & sys.stdlib_module_names == set()


def test_proc_is_the_only_module_that_starts_processes() -> None:
    starters = set()
    for module in HARNESS.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            if any(n.split(".")[0] == "subprocess" for n in names):
                starters.add(str(module.relative_to(HARNESS)))
    assert starters == {"proc.py"}


def _command_imports(path: Path, package: str) -> set[str]:
    """The harness packages `path` (in harness/<package>/) imports, relative ones resolved."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.add(package)
        elif isinstance(node, ast.ImportFrom) and node.level >= 2:
            found.add((node.module or node.names[0].name).split(".")[0])
    return found | _absolute_imports(path)


def _absolute_imports(path: Path) -> set[str]:
    """The first component under harness. of every `from harness.X` and `import harness.X`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] == "harness":
                found.update(parts[1:2] or [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "harness" and len(parts) > 1:
                    found.add(parts[1])
    return found


def test_no_command_imports_a_later_command() -> None:
    wrong = []
    for rank, command in enumerate(COMMANDS):
        later = set(COMMANDS[rank + 1 :])
        for module in sorted((HARNESS / command).glob("*.py")):
            for imported in _command_imports(module, command) & later:
                wrong.append(f"{module.relative_to(HARNESS)} imports harness.{imported}")
    assert wrong == []


def test_every_command_package_is_in_the_ordering() -> None:
    packages = {p.name for p in HARNESS.iterdir() if (p / "__init__.py").exists()}
    assert packages - set(STAGES) - set(COMMANDS) == set()


def test_no_module_reaches_into_the_pipeline_s_private_functions() -> None:
    """The commands use pipeline's public stages (build_and_boot, boot_again, ...): its
    private functions can change under them (as --jobs changed _guest_stage)."""
    private = re.compile(r"\bpipeline\._[a-z]")
    wrong = [
        str(module.relative_to(HARNESS))
        for module in HARNESS.rglob("*.py")
        if module.name != "pipeline.py" and private.search(module.read_text())
    ]
    assert wrong == []
