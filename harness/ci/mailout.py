"""The review mail, sent over SMTP as a reply in the series' thread.

Input: review.eml (written by `harness report --email`: Subject, To, In-Reply-To and
References already name the cover letter) and an SmtpTarget. Output: the Message-ID the
mail went out with. The password comes from credentials, never from argv or a log.
Raises EnvError when the server cannot be reached or refuses the mail.
"""

from __future__ import annotations

import email.utils
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from harness.errors import EnvError, UserError
from harness.intake import mail


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    sender: str
    to: tuple[str, ...] = ()  # added to the author review.eml names
    cc: tuple[str, ...] = ()  # the list, usually
    user: str = ""
    password: str = ""


def parse_server(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--smtp takes HOST:PORT, not {text!r}")
    return host, int(port)


def message(review: Path, target: SmtpTarget) -> EmailMessage:
    """review.eml as a mail to send: its headers kept, From/Date/Message-ID added."""
    head, _, body = review.read_text().partition("\n\n")
    parsed = mail.read(head + "\n\n")
    out = EmailMessage()
    for name in ("Subject", "In-Reply-To", "References"):
        if mail.header(parsed, name):
            out[name] = mail.header(parsed, name)
    to = [a for a in (mail.header(parsed, "To"), *target.to) if a]
    if not to:
        raise UserError(f"{review}: no To: and no --to: nobody to send the review to")
    out["To"] = ", ".join(to)
    if target.cc:
        out["Cc"] = ", ".join(target.cc)
    out["From"] = target.sender
    out["Date"] = email.utils.formatdate(localtime=False)
    out["Message-ID"] = email.utils.make_msgid(domain=target.sender.rpartition("@")[2] or None)
    out.set_content(body)
    return out


def send(review: Path, target: SmtpTarget) -> str:
    msg = message(review, target)
    try:
        with smtplib.SMTP(target.host, target.port, timeout=60) as smtp:
            if target.user:
                smtp.starttls()
                smtp.login(target.user, target.password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as err:
        raise EnvError(f"SMTP {target.host}:{target.port}: {err}") from None
    return str(msg["Message-ID"])
