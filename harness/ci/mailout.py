"""The review mail, sent over SMTP as a reply in the series' thread.

Input: review.eml (written by `harness report --email`: Subject, To, In-Reply-To and
References already name the cover letter) and an SmtpTarget. Output: the Message-ID the
mail went out with. The password comes from credentials, never from argv or a log.
The connection is TLS that verifies the server's certificate (STARTTLS, or TLS from
the first byte on an SMTPS port); clear text only to a server on this host, or with
--insecure. Raises UserError for clear text elsewhere, EnvError when the server cannot
be reached, fails verification, offers no STARTTLS or refuses the mail.
"""

from __future__ import annotations

import email.utils
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from harness.ci import tls
from harness.ci.publish_args import SMTP_TLS_MODES
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
    tls: str = "starttls"
    ca_file: str = ""  # verify against this CA instead of the system's


def parse_server(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--smtp takes HOST:PORT, not {text!r}")
    return host, int(port)


def tls_mode(host: str, asked: str, insecure: bool) -> str:
    """--smtp-tls as given, else starttls (none for a server on this host); clear text
    to another host only with --insecure."""
    mode = asked or ("none" if tls.is_loopback(host) else "starttls")
    if mode not in SMTP_TLS_MODES:
        raise UserError(f"--smtp-tls takes {', '.join(SMTP_TLS_MODES)}, not {mode!r}")
    if mode == "none" and not tls.clear_text_allowed(host, insecure):
        raise UserError(
            f"--smtp-tls none: the mail and any password would cross the network to {host} "
            "in clear text: use starttls or tls (or --insecure)"
        )
    return mode


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


def _connect(target: SmtpTarget, context: ssl.SSLContext) -> smtplib.SMTP:
    if target.tls == "tls":
        return smtplib.SMTP_SSL(target.host, target.port, timeout=60, context=context)
    return smtplib.SMTP(target.host, target.port, timeout=60)


def send(review: Path, target: SmtpTarget) -> str:
    msg = message(review, target)
    context = tls.context(target.ca_file)
    try:
        with _connect(target, context) as smtp:
            if target.tls == "starttls":
                smtp.starttls(context=context)
            if target.user:
                smtp.login(target.user, target.password)
            smtp.send_message(msg)
    except ssl.SSLCertVerificationError as err:
        why = f"certificate not trusted ({err.verify_message}); --ca-file for a private CA"
        raise EnvError(f"SMTP {target.host}:{target.port}: {why}") from None
    except (OSError, smtplib.SMTPException) as err:
        raise EnvError(f"SMTP {target.host}:{target.port} ({target.tls}): {err}") from None
    return str(msg["Message-ID"])
