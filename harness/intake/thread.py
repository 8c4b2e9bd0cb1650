"""Mailing-list threads as intake: an mbox saved from lore holds replies, several
revisions and patches in arrival order. b4 (offline) turns such a thread into the
newest complete revision in order, with the reviewers' trailers applied; plain
format-patch output never needs it.

Input: an mbox's mails. Output: the mails of one revision, in order (b4 am --offline-mode
in a temporary dir). Raises UserError for a thread b4 cannot sort out, a b4 that runs over
B4_TIMEOUT, or missing or repeated patch numbers; EnvError when b4 is not installed.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness import proc
from harness.errors import UserError
from harness.intake import mail

# "[RFC PATCH v4 03/10]", "[PATCH 6.6.y 1/2]", "[PATCH net-next v2 1/3]"
NUMBERED = re.compile(r"\[(?P<tags>[^\]]*?)\s*\b(?P<n>\d+)/(?P<m>\d+)\s*\]")
VERSION = re.compile(r"\bv(\d+)\b", re.I)
REPLY = re.compile(r"^\s*(re|aw|sv)\s*:", re.I)
B4_TIMEOUT = 120  # a hostile mbox must not hang intake
# More patches than any posted series has (the largest on lore run to a few hundred): a
# subject claiming more is refused before anything is sized by it.
MAX_PATCHES = 5000


@dataclass(frozen=True)
class Numbering:
    version: int
    number: int
    total: int


def numbering(subject: str) -> Numbering | None:
    """ "[PATCH v2 3/7]" -> version 2, patch 3 of 7. UserError for a count past MAX_PATCHES
    (checked on the digits: int() of a 5000-digit number raises, a set of 10**9 fills RAM)."""
    match = NUMBERED.search(subject)
    if not match:
        return None
    digits = (match["n"].lstrip("0"), match["m"].lstrip("0"))
    if any(len(d) > len(str(MAX_PATCHES)) or int(d or 0) > MAX_PATCHES for d in digits):
        raise UserError(
            f"'{subject[:120]}': claims patch {match['n'][:12]}/{match['m'][:12]}; "
            f"a series has at most {MAX_PATCHES} patches"
        )
    version = VERSION.search(match.group("tags"))
    revision = version.group(1) if version and len(version.group(1)) <= 6 else "1"
    return Numbering(int(revision), int(match["n"]), int(match["m"]))


def subject_of(raw: bytes) -> str:
    return mail.header(mail.read(raw), "Subject")


def why_thread(subjects: list[str]) -> str:
    """Why these mails need b4's sorting-out, or '' when they are a plain series."""
    replies = sum(1 for s in subjects if REPLY.match(s))
    if replies:
        return f"{replies} repl{'y' if replies == 1 else 'ies'} in the mbox"
    numbers = [n for n in map(numbering, subjects) if n]
    if len({n.version for n in numbers}) > 1:
        return "several revisions in the mbox"
    ordered = [n.number for n in numbers]
    if ordered != sorted(ordered):
        return "patches out of order"
    return ""


def b4_am(mbox: Path, reason: str, originals: list[bytes]) -> list[bytes]:
    """The newest revision's cover letter (if any) and patches, in order, via b4."""
    with tempfile.TemporaryDirectory(prefix="harness-b4-") as out:
        # --offline-mode: never ask lore for more trailers (CI and hostile networks)
        cmd = ["b4", "--offline-mode", "-n", "--no-stdin", "-q", "am", "-m", str(mbox)]
        done = proc.run([*cmd, "-o", out], timeout=B4_TIMEOUT)
        if done.timed_out:
            raise UserError(f"{mbox}: b4 am took over {B4_TIMEOUT}s on this mbox")
        covers = sorted(Path(out).glob("*.cover"))
        series = sorted(Path(out).glob("*.mbx"))
        if not done.ok or not series:
            last = (done.output.strip() or "no series found").splitlines()
            raise UserError(f"{mbox}: {reason}, and b4 am could not sort it out: {last[-1]}")
        mails = [covers[0].read_bytes()] if covers else []
        mails += mail.mbox_messages(series[0])
    return [_with_original_subject(m, _subjects_by_id(originals)) for m in mails]


def _subjects_by_id(mails: list[bytes]) -> dict[str, str]:
    return {_message_id(m): subject_of(m) for m in mails}


def _message_id(raw: bytes) -> str:
    return mail.header(mail.read(raw), "Message-ID")


def _with_original_subject(raw: bytes, subjects: dict[str, str]) -> bytes:
    """b4 rewrites "[RFC PATCH 0/6]" as "[PATCH RFC 0/6]"; a review must answer the
    subject the author sent."""
    subject = subjects.get(_message_id(raw))
    head, sep, body = raw.partition(b"\n\n")
    if not subject or not sep:
        return raw
    line = b"Subject: " + subject.encode("utf-8", errors="replace")
    head = re.sub(rb"^Subject:.*(\n[ \t].*)*", lambda _: line, head, count=1, flags=re.M | re.I)
    return head + sep + body


def check_numbering(subjects: list[str], where: Path) -> None:
    """A numbered series must be complete: git am of 1,2,4 of 5 tests the wrong thing."""
    numbers = [n for n in map(numbering, subjects) if n and n.number > 0]
    if not numbers:
        return
    total = numbers[0].total
    seen = sorted(n.number for n in numbers)
    missing = sorted(set(range(1, total + 1)) - set(seen))
    if missing:
        listed = ", ".join(f"{m}/{total}" for m in missing[:10])
        listed += f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise UserError(f"{where}: incomplete series: missing {listed}")
    if len(seen) != len(set(seen)):
        raise UserError(f"{where}: patch numbers repeat ({seen}); one revision at a time")
