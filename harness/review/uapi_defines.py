"""What the uapi checkers share: the check's name, the tree's files, and #define lines.

Input: diff Lines or a tree file. Output: #define names with their value expressions, and the
integer value of a C constant expression. Never raises: what cannot be read or evaluated is
left out ("" or None).
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from harness.intake.diffparse import Line
from harness.readfiles import read_in_tree

CHECK = "uapi"  # check_uapi and check_mm_flags report into one Case
DEFINE_RE = re.compile(r"^\s*#\s*define\s+(\w+)\s+(.*?)\s*(?:/\*.*|//.*)?$")


def added_defines(lines: Iterable[Line]) -> list[tuple[str, str, str]]:
    """(name, value expression, line text) for each `#define NAME VALUE` among `lines`."""
    out = []
    for line in lines:
        m = DEFINE_RE.match(line.text)
        if m and m.group(2):
            out.append((m.group(1), m.group(2), line.text.strip()))
    return out


def tree_defines(tree: Path | None, rel: str) -> dict[str, str]:
    """Every `#define NAME VALUE` in one tree file (first definition wins)."""
    out: dict[str, str] = {}
    for text in read_in_tree(tree, rel).splitlines():
        m = DEFINE_RE.match(text)
        if m and m.group(2):
            out.setdefault(m.group(1), m.group(2))
    return out


def c_value(expr: str, env: dict[str, str], depth: int = 0) -> int | None:
    """Evaluate a C constant of literals, macros, << | & + - ~, BIT() and _BITUL()."""
    if depth > 12:
        return None
    text = re.sub(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]+\b", r"\1", expr)
    text = re.sub(r"\b0([0-7]+)\b", r"0o\1", text)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError):
        return None
    return _eval(tree.body, env, depth)


BINOPS: dict[type[ast.operator], Callable[[int, int], int]] = {
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.BitOr: operator.or_,
    ast.BitAnd: operator.and_,
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
}


def _eval(node: ast.expr, env: dict[str, str], depth: int) -> int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.Name):
        return c_value(env[node.id], env, depth + 1) if node.id in env else None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Invert, ast.USub)):
        v = _eval(node.operand, env, depth)
        return None if v is None else (~v if isinstance(node.op, ast.Invert) else -v)
    if isinstance(node, ast.BinOp) and type(node.op) in BINOPS:
        a, b = _eval(node.left, env, depth), _eval(node.right, env, depth)
        if a is None or b is None or (isinstance(node.op, ast.LShift) and not 0 <= b < 128):
            return None
        return int(BINOPS[type(node.op)](a, b))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("BIT", "_BITUL", "BIT_ULL")
    ):
        v = _eval(node.args[0], env, depth) if len(node.args) == 1 else None
        return 1 << v if v is not None and 0 <= v < 128 else None
    return None
