"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, for the
review-mail tests."""

from __future__ import annotations

import email
import email.policy
import socket
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


class _Keep:
    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpSink:
    def __init__(self) -> None:
        self.keep = _Keep()
        self.controller = Controller(self.keep, hostname="127.0.0.1", port=_free_port())

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
