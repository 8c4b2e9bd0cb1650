"""Series out of a list's mails: thread them, number them, tell complete from waiting.

Input: the headers of every mail seen (MailRef). Output: Candidates, one per thread
root and revision, each with its cover letter, patches and the replies to them; a
candidate is complete when patches 1..N are all there. Pure; raises nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from harness.intake import mail, thread

MSGID = re.compile(r"<[^<>\s]+>")
PATCH_TAG = re.compile(r"^\s*\[(?P<tags>[^\]]*\bPATCH\b[^\]]*)\]", re.I)


@dataclass(frozen=True)
class MailRef:
    """What threading needs of one mail, and where to read it again."""

    message_id: str
    in_reply_to: str
    references: tuple[str, ...]
    subject: str
    epoch: str
    blob: str

    @property
    def parent(self) -> str:
        return self.in_reply_to or (self.references[-1] if self.references else "")


def mail_ref(raw: bytes, epoch: str, blob: str) -> MailRef:
    msg = mail.read(raw)
    ids = MSGID.findall(mail.header(msg, "Message-ID"))
    parents = MSGID.findall(mail.header(msg, "In-Reply-To"))
    return MailRef(
        message_id=ids[0] if ids else f"<{blob}@inbox.invalid>",
        in_reply_to=parents[0] if parents else "",
        references=tuple(MSGID.findall(mail.header(msg, "References"))),
        subject=mail.header(msg, "Subject"),
        epoch=epoch,
        blob=blob,
    )


def root_of(ref: MailRef, by_id: dict[str, MailRef]) -> str:
    """The thread's first mail: the oldest References entry, else up the reply chain."""
    if ref.references:
        return ref.references[0]
    seen = {ref.message_id}
    while ref.parent and ref.parent in by_id and ref.parent not in seen:
        ref = by_id[ref.parent]
        seen.add(ref.message_id)
    return ref.parent or ref.message_id


def numbering(subject: str) -> thread.Numbering | None:
    """[PATCH v2 3/5] -> (2, 3, 5); a lone [PATCH] is 1/1; replies and others None."""
    if thread.REPLY.match(subject):
        return None
    numbered = thread.numbering(subject)
    if numbered:
        return numbered
    tag = PATCH_TAG.match(subject)
    if not tag:
        return None
    version = thread.VERSION.search(tag["tags"])
    return thread.Numbering(int(version.group(1)) if version else 1, 1, 1)


@dataclass(frozen=True)
class Candidate:
    root: str
    version: int
    total: int
    subject: str  # the cover letter's, else the first patch's
    mails: tuple[MailRef, ...]  # cover, patches in order, then the replies
    numbers: tuple[int, ...] = field(default=())

    @property
    def key(self) -> str:
        return f"{self.root}#v{self.version}"

    @property
    def missing(self) -> tuple[int, ...]:
        return tuple(n for n in range(1, self.total + 1) if n not in self.numbers)

    @property
    def complete(self) -> bool:
        return not self.missing


def candidates(refs: list[MailRef]) -> list[Candidate]:
    """Every revision of every thread that carries patches, in order of first mail."""
    by_id = {r.message_id: r for r in refs}
    groups: dict[tuple[str, int], list[tuple[int, MailRef]]] = {}
    for ref in refs:
        number = numbering(ref.subject)
        if number is not None:
            key = (root_of(ref, by_id), number.version)
            groups.setdefault(key, []).append((number.number, ref))
    found = []
    for (root, version), numbered in groups.items():
        numbered.sort(key=lambda item: item[0])
        ids = {r.message_id for _, r in numbered}
        replies = [r for r in refs if r.message_id not in ids and _answers(r, ids)]
        totals = [thread.numbering(r.subject) for _, r in numbered]
        total = max((n.total for n in totals if n), default=1)
        first = numbered[0][1]
        found.append(
            Candidate(
                root=root,
                version=version,
                total=total,
                subject=first.subject,
                mails=(*(r for _, r in _unique(numbered)), *replies),
                numbers=tuple(n for n, _ in _unique(numbered) if n > 0),
            )
        )
    return found


def _unique(numbered: list[tuple[int, MailRef]]) -> list[tuple[int, MailRef]]:
    """A patch resent under the same number: the last copy wins."""
    last = {n: (n, r) for n, r in numbered}
    return [last[n] for n in sorted(last)]


def _answers(ref: MailRef, ids: set[str]) -> bool:
    return ref.parent in ids and bool(thread.REPLY.match(ref.subject))
