"""Files the harness only inspects (Kconfig, Makefiles, headers, logs it wrote): a missing
or unreadable one reads as "" — its absence is a finding of the caller, not an error.

Input: a path, or a tree and a path inside it (the tree may be None: nothing there).
Output: the text. Writes nothing; raises nothing.
"""

from __future__ import annotations

from pathlib import Path


def read_or_empty(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def read_in_tree(tree: Path | None, rel: str) -> str:
    """One file of a kernel tree by its tree-relative path; "" without a tree."""
    return read_or_empty(tree / rel) if tree is not None else ""
