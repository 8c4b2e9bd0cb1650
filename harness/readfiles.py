"""Files the harness only inspects (Kconfig, Makefiles, headers, logs it wrote): a missing
or unreadable one reads as "" — its absence is a finding of the caller, not an error.
Files the tree's code could have written (a build dir's .config): read_untrusted, which
follows no symbolic link and reads only a regular file, so a series cannot make harness
copy a host file into its results, or hang it on a FIFO.

Input: a path, or a tree and a path inside it (the tree may be None: nothing there).
Output: the text. Writes nothing but copy_untrusted's target; raises nothing.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

UNTRUSTED_LIMIT = 64 << 20  # a .config is < 1 MiB; nothing harness reads this way is larger


def read_untrusted(path: Path, limit: int = UNTRUSTED_LIMIT) -> bytes | None:
    """The bytes of a regular file reached without a symbolic link at its last component,
    at most `limit` of them; None when it is missing, a link or anything but a file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        return f.read(limit)


def copy_untrusted(source: Path, target: Path) -> bool:
    """`source` (read as read_untrusted does) written to `target`; False when not copied."""
    data = read_untrusted(source)
    if data is None:
        return False
    target.write_bytes(data)
    return True


def read_or_empty(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def read_in_tree(tree: Path | None, rel: str) -> str:
    """One file of a kernel tree by its tree-relative path; "" without a tree."""
    return read_or_empty(tree / rel) if tree is not None else ""
