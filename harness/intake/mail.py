"""Mail: the one reader of patch mails (format-patch files, mbox messages, b4's output).

Input: an mbox file, or one mail's bytes or text. Output: the mbox's messages as bytes;
the mail's email Message (compat32: headers exactly as sent), a header unfolded to one
line, and the text of its body (transfer encoding and charset undone; the text parts of
a multipart mail), and the whole mail as 8bit text (decoded_text). Writes nothing;
raises nothing.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
from email.message import Message
from pathlib import Path

# Parts of a multipart mail that hold the patch text.
TEXT_PARTS = ("text/plain", "text/x-patch", "text/x-diff")


def mbox_messages(path: Path) -> list[bytes]:
    """Every message of an mbox file, as bytes (what git am and read() take)."""
    box = mailbox.mbox(str(path), create=False)
    try:
        # get_bytes, not the parsed messages: mailbox decodes each From_ line as ASCII and
        # raised UnicodeDecodeError on a hostile one (found by tests/test_intake_fuzz.py)
        return [box.get_bytes(key) for key in box.keys()]
    finally:
        box.close()


def read(raw: bytes | str) -> Message:
    """The mail as a Message; malformed mail still parses (patches are untrusted)."""
    if isinstance(raw, bytes):
        return email.message_from_bytes(raw, policy=email.policy.compat32)
    return email.message_from_string(raw, policy=email.policy.compat32)


def header(msg: Message, name: str) -> str:
    """A header on one line, whitespace collapsed ('' when absent): folded Subjects differ
    only in how the sender's mailer wrapped them."""
    return " ".join(str(msg.get(name, "")).split())


def body_text(msg: Message) -> str:
    """The decoded text of the mail's body; of every text part when it is multipart."""
    parts = [p for p in msg.walk() if p.get_content_type() in TEXT_PARTS]
    texts = []
    for part in parts if msg.is_multipart() else [msg]:
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            texts.append(payload.decode(part.get_content_charset() or "utf-8", errors="replace"))
    return "\n".join(texts)


# Headers that describe the encoding of the body as sent; the decoded text has neither.
ENCODING_HEADERS = ("content-transfer-encoding", "content-type", "mime-version")


def decoded_text(raw: bytes) -> str:
    """The mail as an 8bit text/plain mail: its headers as sent, less those describing the
    body's encoding, then the decoded body. What the static checks read: a base64 or
    quoted-printable patch must give the same findings as the same patch sent as 8bit."""
    msg = read(raw)
    head = [
        f"{name}: {' '.join(str(value).split())}"
        for name, value in msg.items()
        if name.lower() not in ENCODING_HEADERS
    ]
    return "\n".join(head) + "\n\n" + body_text(msg)
