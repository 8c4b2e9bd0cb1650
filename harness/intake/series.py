"""Series intake: read and validate a patch series before any tree is touched.

Input: a path (directory of format-patch files and/or .mbox files, one mbox file,
or a directory of such series directories). Output: list[Series].
Raises UserError (exit 2) for anything malformed: patches are untrusted mail.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness.errors import UserError
from harness.intake import diffparse, mail, thread

PATCH_SUFFIXES = (".patch", ".diff", ".mbox", ".mbx", ".eml")
IGNORED_FILES = {"series.yaml", "README.md", "PORTING.md", "series"}
# A path as git writes it in a header: bare, or C-quoted ("a/t\\303\\244b") when it
# holds a quote, a backslash, a control or a non-ASCII byte.
_GIT_PATH = r'"(?:[^"\\]|\\.)*"|\S+'
DIFF_PATHS = re.compile(rf"^diff --git ({_GIT_PATH}) ({_GIT_PATH})$")
# Extended header lines naming a path git will create or read (no a/ b/ prefix).
PATH_HEADERS = re.compile(r"^(rename from|rename to|copy from|copy to) (.+)$")
C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
COVER_SUBJECT = re.compile(r"\[[^\]]*\b0+/\d+\]")
BASE_COMMIT = re.compile(r"^base-commit:\s*([0-9a-f]{7,40})\s*$", re.M)


@dataclass(frozen=True)
class SeriesConfig:
    """series.yaml: everything optional; unknown keys are an error."""

    name: str = ""
    description: str = ""
    base: str = ""
    kconfig: tuple[str, ...] = ()
    cmdline: tuple[str, ...] = ()
    suites: tuple[str, ...] = ()
    xfail: dict[str, str] = field(default_factory=dict)
    isolate: tuple[str, ...] = ()  # suites that get one boot per workload
    timeout: int = 0
    memory: str = ""
    cpus: int = 0
    matrix: tuple[str, ...] = ()  # harness check's build matrix (build/matrix.py)


CONFIG_TYPES: dict[str, type] = {
    "name": str,
    "description": str,
    "base": str,
    "kconfig": list,
    "cmdline": list,
    "suites": list,
    "xfail": dict,
    "isolate": list,
    "timeout": int,
    "memory": str,
    "cpus": int,
    "matrix": list,
}


@dataclass(frozen=True)
class Patch:
    number: int  # 1-based position in the series; the cover letter is 0
    subject: str
    author: str
    date: str
    message_id: str
    in_reply_to: str
    mail: bytes  # the whole mail, exactly as git am wants it
    diff: str  # the unified diff part of the body ('' for a cover letter)
    files: tuple[str, ...]  # paths the diff touches

    @property
    def short_subject(self) -> str:
        return re.sub(r"^\[[^\]]*\]\s*", "", self.subject)


@dataclass(frozen=True)
class Series:
    name: str
    path: Path
    patches: tuple[Patch, ...]
    cover: Patch | None
    config: SeriesConfig
    base_commit: str  # from a base-commit: trailer, '' when absent

    @property
    def message_id(self) -> str:
        return self.cover.message_id if self.cover else self.patches[0].message_id

    @property
    def subject(self) -> str:
        return self.cover.subject if self.cover else self.patches[0].subject


def load(path: Path) -> list[Series]:
    """Every series under `path`; a directory of series directories gives several."""
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    if path.is_dir():
        subdirs = sorted(p for p in path.iterdir() if p.is_dir() and _has_patches(p))
        if subdirs and not _has_patches(path):
            return [load_one(p) for p in subdirs]
    return [load_one(path)]


def _has_patches(directory: Path) -> bool:
    return any(p.suffix in PATCH_SUFFIXES for p in directory.iterdir() if p.is_file())


def load_one(path: Path) -> Series:
    directory = path if path.is_dir() else path.parent
    files = _series_files(path)
    config = load_config(directory / "series.yaml") if path.is_dir() else SeriesConfig()
    mails = [mail for f in files for mail in _read_mails(f)]
    if not mails:
        raise UserError(f"{path}: empty series (no patch mails found)")
    reason = thread.why_thread([thread.subject_of(m) for m in mails])
    if reason and len(files) == 1:
        print(f"harness: {files[0].name}: {reason}; sorting it out with b4 am", file=sys.stderr)
        mails = thread.b4_am(files[0], reason, mails)
    elif reason:
        raise UserError(f"{path}: {reason}; give the thread as one mbox file (b4 sorts it)")
    thread.check_numbering([thread.subject_of(m) for m in mails], path)
    cover, patches = _split_cover(mails, path)
    base_commit = _find_base_commit(cover, patches)
    name = config.name or (path.name if path.is_dir() else path.stem)
    return Series(name, path, tuple(patches), cover, config, base_commit)


def _series_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = []
    for f in sorted(path.iterdir()):
        if f.is_dir() or f.name in IGNORED_FILES or f.name.startswith("."):
            continue
        if f.suffix not in PATCH_SUFFIXES:
            raise UserError(f"{f}: not a patch file (expected {', '.join(PATCH_SUFFIXES)})")
        files.append(f)
    return files


def _read_mails(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if not data.strip():
        raise UserError(f"{path}: empty file")
    if not data.startswith(b"From "):
        if not re.search(rb"^(From|Subject): ", data, re.M):
            raise UserError(f"{path}: not a mail (no From:/Subject: headers)")
        return [data]
    return mail.mbox_messages(path)


def _split_cover(mails: list[bytes], where: Path) -> tuple[Patch | None, list[Patch]]:
    cover: Patch | None = None
    patches: list[Patch] = []
    for raw in mails:
        patch = parse_mail(raw, len(patches) + 1, where)
        if not patch.diff:
            if cover is None and (COVER_SUBJECT.search(patch.subject) or not patches):
                cover = Patch(0, *_fields_of(patch))
                continue
            raise UserError(f"{where}: '{patch.subject}' has no diff")
        patches.append(patch)
    if not patches:
        raise UserError(f"{where}: empty series (a cover letter but no patches)")
    return cover, patches


def _fields_of(p: Patch) -> tuple:  # type: ignore[type-arg]
    return (p.subject, p.author, p.date, p.message_id, p.in_reply_to, p.mail, p.diff, p.files)


def parse_mail(raw: bytes, number: int, where: Path) -> Patch:
    msg = mail.read(raw)
    subject = mail.header(msg, "Subject")
    if not subject:
        raise UserError(f"{where}: a mail without a Subject")
    body = mail.body_text(msg)
    diff = _diff_part(body)
    files = validate_diff(diff, f"{where}: {subject}") if diff else ()
    return Patch(
        number=number,
        subject=subject,
        author=str(msg.get("From", "")),
        date=str(msg.get("Date", "")),
        message_id=str(msg.get("Message-ID", "")).strip(),
        in_reply_to=str(msg.get("In-Reply-To", "")).strip(),
        mail=raw,
        diff=diff,
        files=files,
    )


def _diff_part(body: str) -> str:
    match = re.search(r"^(diff --git |--- \S)", body, re.M)
    return body[match.start() :] if match else ""


def validate_diff(diff: str, label: str) -> tuple[str, ...]:
    """Walk every hunk; refuse paths outside the tree and hunks whose counts lie."""
    files: list[str] = []
    lines = diffparse.diff_lines(diff)
    i = 0
    while i < len(lines):
        line = lines[i]
        paths = DIFF_PATHS.match(line)
        if paths:
            for p in paths.groups():
                files.append(_checked_path(p, label))
        elif line.startswith(("--- ", "+++ ")):
            _checked_path(line[4:].split("\t")[0], label)
        elif header := PATH_HEADERS.match(line):
            _checked_path(header.group(2), label, prefixed=False)
        hunk = diffparse.HUNK_RE.match(line)
        if hunk:
            _, end, complete = diffparse.read_hunk(lines, i, hunk)
            if not complete:
                raise UserError(f"{label}: corrupt hunk at line {i + 1} ({line!r})")
            i = end
            continue
        i += 1
    if not files:
        raise UserError(f"{label}: no 'diff --git' file headers in the diff")
    return tuple(dict.fromkeys(files))


def _checked_path(raw: str, label: str, prefixed: bool = True) -> str:
    """The tree-relative path of a header's path, as git will read it (C-quotes undone);
    UserError when it is absolute or climbs out with '..'."""
    if raw == "/dev/null":
        return raw
    unquoted = unquote_c(raw)
    if unquoted is None:
        raise UserError(f"{label}: malformed quoted path: {raw}")
    path = unquoted[2:] if prefixed and unquoted[:2] in ("a/", "b/") else unquoted
    if unquoted.startswith("/") or path.startswith("/") or ".." in Path(path).parts:
        raise UserError(f"{label}: path escapes the tree: {raw}")
    return path


def unquote_c(raw: str) -> str | None:
    """git's C-quoted path ("a/\\056\\056/x" is a/../x) as text; a bare path as it is;
    None when the quoting is malformed (git would not read it either)."""
    if not (len(raw) >= 2 and raw[0] == raw[-1] == '"'):
        return raw
    out, body, i = bytearray(), raw[1:-1], 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out += char.encode("utf-8", errors="surrogatepass")
            i += 1
        elif re.match(r"[0-3][0-7]{2}", body[i + 1 : i + 4]):
            out.append(int(body[i + 1 : i + 4], 8))
            i += 4
        elif body[i + 1 : i + 2] in C_ESCAPES:
            out.append(C_ESCAPES[body[i + 1]])
            i += 2
        else:
            return None
    return out.decode("utf-8", errors="replace")


def _find_base_commit(cover: Patch | None, patches: list[Patch]) -> str:
    for patch in ([cover] if cover else []) + patches:
        match = BASE_COMMIT.search(patch.mail.decode("utf-8", errors="replace"))
        if match:
            return match.group(1)
    return ""


def load_config(path: Path) -> SeriesConfig:
    if not path.exists():
        return SeriesConfig()
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise UserError(f"{path}:{where} invalid YAML") from None
    if data is None:
        return SeriesConfig()
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of keys, got {type(data).__name__}")
    for key, value in data.items():
        expected = CONFIG_TYPES.get(str(key))
        if expected is None:
            raise UserError(f"{path}: unknown key '{key}' (known: {', '.join(CONFIG_TYPES)})")
        if not isinstance(value, expected) or isinstance(value, bool) and expected is int:
            raise UserError(f"{path}: '{key}' must be a {expected.__name__}")
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise UserError(f"{path}: every item of '{key}' must be a string")
    xfail: dict[object, object] = data.get("xfail", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in xfail.items()):
        raise UserError(f"{path}: 'xfail' maps test names to reason strings")
    lists = {k: tuple(v) for k, v in data.items() if isinstance(v, list)}
    return SeriesConfig(**{**data, **lists, "xfail": dict(xfail)})
