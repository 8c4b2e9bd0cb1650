"""Parse unified diffs (git format) into files, hunks and numbered lines.

Input: the text of a patch mail or a bare diff. Output: FileDiff values.
Never raises: garbage yields whatever could be parsed, possibly nothing.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")
GIT_RE = re.compile(r"^diff --git a/(\S+) b/(\S+)")


@dataclass(frozen=True)
class Line:
    """One line of a hunk, numbered in the old file (removed) or the new file (added/context)."""

    number: int
    text: str


@dataclass(frozen=True)
class Hunk:
    old_start: int
    new_start: int
    section: str = ""  # the text after the second @@, usually an enclosing function
    added: tuple[Line, ...] = ()
    removed: tuple[Line, ...] = ()
    context: tuple[Line, ...] = ()  # numbered in the new file


@dataclass(frozen=True)
class FileDiff:
    old_path: str
    new_path: str
    is_new: bool = False
    is_deleted: bool = False
    hunks: tuple[Hunk, ...] = ()

    @property
    def path(self) -> str:
        return self.old_path if self.is_deleted else self.new_path

    @property
    def added(self) -> list[Line]:
        return [line for hunk in self.hunks for line in hunk.added]

    @property
    def removed(self) -> list[Line]:
        return [line for hunk in self.hunks for line in hunk.removed]


@dataclass
class _FileBuilder:
    old_path: str
    new_path: str
    is_new: bool = False
    is_deleted: bool = False
    hunks: list[Hunk] = field(default_factory=list)

    def freeze(self) -> FileDiff:
        return FileDiff(
            self.old_path, self.new_path, self.is_new, self.is_deleted, tuple(self.hunks)
        )


def _strip_prefix(path: str) -> str:
    path = path.split("\t")[0].strip()
    return path[2:] if path[:2] in ("a/", "b/") else path


def diff_lines(text: str) -> list[str]:
    """A diff's lines, split on newlines only: a form feed or another Unicode line break
    inside a source line belongs to that line, as it does for git and patch."""
    return text.replace("\r\n", "\n").split("\n")


def read_hunk(lines: list[str], start: int, match: re.Match[str]) -> tuple[Hunk, int, bool]:
    """Read one hunk whose header matched at lines[start]: the hunk, the next index, and
    whether its lines added up to the header's counts (False: a short or corrupt hunk)."""
    old_no, new_no = int(match.group(1)), int(match.group(3))
    old_left = int(match.group(2)) if match.group(2) is not None else 1
    new_left = int(match.group(4)) if match.group(4) is not None else 1
    added: list[Line] = []
    removed: list[Line] = []
    context: list[Line] = []
    i = start + 1
    while i < len(lines) and (old_left > 0 or new_left > 0):
        text = lines[i]
        tag, body = text[:1], text[1:]
        if tag == "+" and new_left > 0:
            added.append(Line(new_no, body))
            new_no, new_left = new_no + 1, new_left - 1
        elif tag == "-" and old_left > 0:
            removed.append(Line(old_no, body))
            old_no, old_left = old_no + 1, old_left - 1
        elif tag in (" ", "") and old_left > 0 and new_left > 0:
            context.append(Line(new_no, body))
            old_no, new_no = old_no + 1, new_no + 1
            old_left, new_left = old_left - 1, new_left - 1
        elif tag == "\\":
            pass  # "\ No newline at end of file"
        else:
            break  # short hunk: stop here and let the caller resynchronise
        i += 1
    hunk = Hunk(
        int(match.group(1)),
        int(match.group(3)),
        match.group(5).strip(),
        tuple(added),
        tuple(removed),
        tuple(context),
    )
    return hunk, i, old_left == 0 and new_left == 0


def parse_diff(text: str) -> list[FileDiff]:
    """Every file a diff touches, in order. Text outside `diff --git` sections is ignored."""
    if not isinstance(text, str):
        return []
    lines = diff_lines(text)
    files: list[_FileBuilder] = []
    current: _FileBuilder | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        git = GIT_RE.match(line)
        hunk = HUNK_RE.match(line) if current else None
        if git:
            current = _FileBuilder(git.group(1), git.group(2))
            files.append(current)
        elif current is None:
            pass
        elif hunk:
            parsed, i, _ = read_hunk(lines, i, hunk)
            current.hunks.append(parsed)
            continue
        elif line.startswith("new file mode"):
            current.is_new = True
        elif line.startswith("deleted file mode"):
            current.is_deleted = True
        elif line.startswith("--- ") and not current.hunks:
            old = _strip_prefix(line[4:])
            current.is_new = current.is_new or old == "/dev/null"
            current.old_path = current.old_path if old == "/dev/null" else old
        elif line.startswith("+++ ") and not current.hunks:
            new = _strip_prefix(line[4:])
            current.is_deleted = current.is_deleted or new == "/dev/null"
            current.new_path = current.new_path if new == "/dev/null" else new
        i += 1
    return [builder.freeze() for builder in files]


def matching(files: Iterable[FileDiff], pattern: str) -> list[FileDiff]:
    """The files whose path matches a glob (`*` also crosses `/`, as fnmatch does)."""
    return [f for f in files if fnmatch.fnmatchcase(f.path, pattern)]


def added_lines(files: Iterable[FileDiff], pattern: str) -> dict[str, list[Line]]:
    """Lines added to each file matching `pattern`: what the patch teaches about those files."""
    return {f.path: f.added for f in matching(files, pattern) if f.added}


def removed_lines(files: Iterable[FileDiff], pattern: str) -> dict[str, list[Line]]:
    """Lines removed from each file matching `pattern`."""
    return {f.path: f.removed for f in matching(files, pattern) if f.removed}
