"""A stand-in for patchwork's REST API (patchwork itself is on neither PyPI nor Debian),
enforcing the rules of its published schema that a CI bot meets:

- GET  /api/1.x/patches/?msgid=ID    the patches with that Message-ID (no <>), public
- POST /api/1.x/patches/{id}/checks/ needs `Authorization: Token T` of a maintainer
  (403 otherwise, as patchwork answers an unauthenticated or non-maintainer user), a
  JSON body whose `state` is one of pending/success/warning/fail (400 otherwise),
  `context` a slug (default "default"), `target_url` an http(s) URL when given;
  201 with the check; 404 for an unknown patch.
- GET  /api/1.x/patches/{id}/checks/ the checks posted so far

Used by tests/test_ci_publish.py and tests/test_real_ci.py; not part of harness.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

STATES = ("pending", "success", "warning", "fail")
API = re.compile(r"^/api/1\.[0-3]/patches/(?:(?P<id>\d+)/checks/)?$")
SLUG = re.compile(r"^[-a-zA-Z0-9_.]+$")


@dataclass
class Patchwork:
    patches: dict[int, str]  # id -> Message-ID with <>
    tokens: dict[str, str]  # token -> user
    maintainers: set[str]
    checks: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    refused: list[int] = field(default_factory=list)  # HTTP codes of refused requests


def handler_for(pw: Patchwork) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, code: int, body: Any) -> None:
            if code >= 400:
                pw.refused.append(code)
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            match = API.match(url.path)
            if not match:
                return self._answer(404, {"detail": "Not found."})
            if match["id"]:
                return self._answer(200, pw.checks.get(int(match["id"]), []))
            msgid = parse_qs(url.query).get("msgid", [""])[0]
            found = [i for i, m in pw.patches.items() if m.strip("<>") == msgid]
            self._answer(200, [{"id": i, "msgid": pw.patches[i]} for i in found])

        def do_POST(self) -> None:
            match = API.match(urlparse(self.path).path)
            if not match or not match["id"]:
                return self._answer(405, {"detail": 'Method "POST" not allowed.'})
            auth = self.headers.get("Authorization", "")
            user = pw.tokens.get(auth.removeprefix("Token ")) if auth.startswith("Token ") else None
            if user is None or user not in pw.maintainers:
                return self._answer(403, {"detail": "You do not have permission."})
            patch = int(match["id"])
            if patch not in pw.patches:
                return self._answer(404, {"detail": "Not found."})
            length = int(self.headers.get("Content-Length", "0"))
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                return self._answer(400, {"detail": "JSON parse error"})
            problems = validate_check(body)
            if problems:
                return self._answer(400, problems)
            check = {"state": body["state"], "context": body.get("context", "default")}
            check.update(target_url=body.get("target_url"), description=body.get("description", ""))
            check["user"] = user
            pw.checks.setdefault(patch, []).append(check)
            self._answer(201, check)

    return Handler


def validate_check(body: Any) -> dict[str, list[str]]:
    if not isinstance(body, dict):
        return {"non_field_errors": ["Invalid data."]}
    problems: dict[str, list[str]] = {}
    if body.get("state") not in STATES:
        problems["state"] = [f'"{body.get("state")}" is not a valid choice.']
    if "context" in body and not SLUG.match(str(body["context"])):
        problems["context"] = ["Enter a valid slug."]
    url = body.get("target_url")
    if url is not None and not re.match(r"^https?://\S+$", str(url)):
        problems["target_url"] = ["Enter a valid URL."]
    return problems


class Server:
    """The stand-in on 127.0.0.1 in a thread; `api` is its /api/1.3/ base URL."""

    def __init__(self, pw: Patchwork) -> None:
        self.pw = pw
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(pw))
        self.api = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/1.3/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
