"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, for the
review-mail tests; with a certificate, it offers STARTTLS (or, implicit, is SMTPS)."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


class _Keep:
    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], EmailMessage]] = []
        self.over_tls: list[bool] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        # session.ssl after STARTTLS; the transport's own for SMTPS.
        implicit = server.transport.get_extra_info("sslcontext") is not None
        self.over_tls.append(session.ssl is not None or implicit)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpSink:
    """`tls`: the server's context (e.g. from trustme); `implicit`: SMTPS instead of
    STARTTLS, which is then required before MAIL."""

    def __init__(self, tls: ssl.SSLContext | None = None, implicit: bool = False) -> None:
        self.keep = _Keep()
        kwargs: dict[str, Any] = {}
        if tls is not None and implicit:
            kwargs["ssl_context"] = tls
        elif tls is not None:
            kwargs.update(tls_context=tls, require_starttls=True)
        self.controller = Controller(self.keep, hostname="127.0.0.1", port=_free_port(), **kwargs)

    @property
    def mails(self) -> list[tuple[str, list[str], EmailMessage]]:
        return self.keep.mails

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.controller.port}"

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
