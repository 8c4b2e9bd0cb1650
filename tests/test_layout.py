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
COMMANDS = ("compare", "bisection", "reply", "ci")


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


def test_the_pipeline_the_commands_share_imports_no_command() -> None:
    """pipeline.py composes the stages for test, check and bisect: a CI runner's slice of
    the boots is passed in (suites/shard.py), not taken from the CI package."""
    assert _absolute_imports(HARNESS / "pipeline.py") & set(COMMANDS) == set()


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


def _module_name(path: Path) -> str:
    parts = path.relative_to(HARNESS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, package: str, node: ast.ImportFrom) -> list[str]:
    """The harness modules one `from ... import ...` names (a name may be a module)."""
    if node.level:
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        target = ".".join([*base, *([node.module] if node.module else [])])
    else:
        target = node.module or ""
    if not target.startswith("harness"):
        return []
    found = []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        is_module = (HARNESS.parent / sub.replace(".", "/")).with_suffix(".py").exists()
        found.append(sub if is_module else target)
    return found


def _type_checking_only(tree: ast.Module) -> set[ast.AST]:
    guarded: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            guarded.update(n for stmt in node.body for n in ast.walk(stmt))
    return guarded


def import_graph() -> dict[str, set[str]]:
    """Every harness module's imports of harness modules, in-function ones included and
    `if TYPE_CHECKING:` ones left out (they never run)."""
    graph: dict[str, set[str]] = {}
    for path in HARNESS.rglob("*.py"):
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text())
        skip = _type_checking_only(tree)
        edges: set[str] = set()
        for node in ast.walk(tree):
            if node in skip:
                continue
            if isinstance(node, ast.ImportFrom):
                edges.update(_resolve(name, package, node))
            elif isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name.startswith("harness."))
        graph[name] = edges - {name, "harness"}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_even_through_imports_inside_functions() -> None:
    """A cycle hidden in a function-level import is still a cycle: the two modules are one
    unit that neither can be understood or tested without."""
    assert _cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
