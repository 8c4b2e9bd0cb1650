"""A stand-in for patchwork's REST API (patchwork itself is on neither PyPI nor Debian),
following what patchwork 3.2 does with the requests a CI bot makes (patchwork/api/):

- GET  /api[/1.N]/patches/  a page of patches, 30 by default (`per_page`, at most 250,
  `page`), with an RFC 8288 `Link` header (rel="next"/"prev"/"first"/"last").
  `project=` (an id or a link name, case-insensitive; unknown: 400) keeps one
  project's patches. `msgid=` (without <>) keeps those with that Message-ID only from
  API 1.2 on (or without a version): 1.0 and 1.1 ignore it, as patchwork's
  versioned filter does, and answer with every patch. Each patch has its `msgid` (with
  <>) and its `project` ({id, link_name, ...}).
- POST /api[/1.N]/patches/{id}/checks/ needs `Authorization: Token T` of a maintainer of
  the patch's project (403 otherwise), a JSON body whose `state` is one of
  pending/success/warning/fail, `context` a slug of at most 255 characters (default
  "default"), `target_url` what Django's URLField takes (a dotted host, localhost or an
  IP; at most 200 characters): 400 otherwise. 201 with the check; 404 for an unknown patch.
- GET  /api[/1.N]/patches/{id}/checks/ the checks posted so far

Used by tests/test_ci_publish.py and tests/test_real_ci.py; not part of harness.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

STATES = ("pending", "success", "warning", "fail")
API = re.compile(r"^/api/(?:(?P<version>1\.[0-3])/)?patches/(?:(?P<id>\d+)/checks/)?$")
SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")  # django.core.validators.slug_re
PAGE_SIZE, MAX_PAGE_SIZE = 30, 250  # REST_RESULTS_PER_PAGE, MAX_REST_RESULTS_PER_PAGE
# django.core.validators.URLValidator (Django 4.2/5.x), as patchwork's URLField uses it.
_UL = "\u00a1-\uffff"
_IPV4 = (
    r"(?:0|25[0-5]|2[0-4][0-9]|1[0-9]?[0-9]?|[1-9][0-9]?)"
    r"(?:\.(?:0|25[0-5]|2[0-4][0-9]|1[0-9]?[0-9]?|[1-9][0-9]?)){3}"
)
_HOSTNAME = rf"[a-z{_UL}0-9](?:[a-z{_UL}0-9-]{{0,61}}[a-z{_UL}0-9])?"
_DOMAIN = rf"(?:\.(?!-)[a-z{_UL}0-9-]{{1,63}}(?<!-))*"
_TLD = rf"\.(?!-)(?:[a-z{_UL}-]{{2,63}}|xn--[a-z0-9]{{1,59}})(?<!-)\.?"
URL = re.compile(
    r"^(?:[a-z0-9.+-]*)://(?:[^\s:@/]+(?::[^\s:@/]*)?@)?"
    rf"(?:{_IPV4}|\[[0-9a-f:.]+\]|({_HOSTNAME}{_DOMAIN}{_TLD}|localhost))"
    r"(?::[0-9]{1,5})?(?:[/?#][^\s]*)?\Z",
    re.IGNORECASE,
)
URL_SCHEMES, URL_MAX = ("http", "https", "ftp", "ftps"), 200


@dataclass
class Patchwork:
    patches: dict[int, str]  # id -> Message-ID with <>
    tokens: dict[str, str]  # token -> user
    maintainers: set[str]  # of the first project
    projects: dict[int, str] = field(default_factory=lambda: {1: "ci-three"})  # id -> link
    patch_projects: dict[int, int] = field(default_factory=dict)  # default: the first one
    project_maintainers: dict[int, set[str]] = field(default_factory=dict)  # the others'
    checks: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    refused: list[int] = field(default_factory=list)  # HTTP codes of refused requests
    asked: list[str] = field(default_factory=list)  # every request's method and path

    def project_of(self, patch: int) -> int:
        return self.patch_projects.get(patch, next(iter(self.projects)))

    def may_edit(self, user: str, patch: int) -> bool:
        project = self.project_of(patch)
        if project == next(iter(self.projects)):
            return user in self.maintainers
        return user in self.project_maintainers.get(project, set())

    def project_json(self, project: int) -> dict[str, Any]:
        link = self.projects[project]
        return {"id": project, "name": link, "link_name": link, "list_id": f"{link}.example"}


def handler_for(pw: Patchwork) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, code: int, body: Any, link: str = "") -> None:
            if code >= 400:
                pw.refused.append(code)
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if link:
                self.send_header("Link", link)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            pw.asked.append(f"GET {self.path}")
            url = urlparse(self.path)
            match = API.match(url.path)
            if not match:
                return self._answer(404, {"detail": "Not found."})
            if match["id"]:
                return self._answer(200, pw.checks.get(int(match["id"]), []))
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            found, problem = patch_list(pw, query, match["version"])
            if problem:
                return self._answer(400, problem)
            base = f"http://{self.headers.get('Host', 'localhost')}{url.path}"
            self.page(found, query, base)

        def page(self, found: list[dict[str, Any]], query: dict[str, str], base: str) -> None:
            size = min(int(query.get("per_page", PAGE_SIZE)), MAX_PAGE_SIZE)
            last = max(1, -(-len(found) // size))
            number = int(query.get("page", "1"))
            if not 1 <= number <= last:
                return self._answer(404, {"detail": "Invalid page."})

            def at(n: int) -> str:
                return base + "?" + urlencode({**query, "page": str(n)})

            links = [f'<{at(number + 1)}>; rel="next"'] if number < last else []
            links += [f'<{at(number - 1)}>; rel="prev"'] if number > 1 else []
            links += [f'<{at(1)}>; rel="first"', f'<{at(last)}>; rel="last"']
            self._answer(200, found[(number - 1) * size : number * size], ", ".join(links))

        def do_POST(self) -> None:
            pw.asked.append(f"POST {self.path}")
            match = API.match(urlparse(self.path).path)
            if not match or not match["id"]:
                return self._answer(405, {"detail": 'Method "POST" not allowed.'})
            auth = self.headers.get("Authorization", "")
            user = pw.tokens.get(auth.removeprefix("Token ")) if auth.startswith("Token ") else None
            patch = int(match["id"])
            if patch not in pw.patches:
                return self._answer(404, {"detail": "No Patch matches the given query."})
            if user is None or not pw.may_edit(user, patch):
                return self._answer(403, {"detail": "You do not have permission."})
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


def patch_list(
    pw: Patchwork, query: dict[str, str], version: str | None
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """The patches a GET /patches/ lists, or the 400 answer for an unknown project."""
    ids = sorted(pw.patches)
    if "project" in query:
        wanted = query["project"]
        known = [p for p, link in pw.projects.items() if wanted.lower() in (str(p), link.lower())]
        if not known:
            choice = f"Select a valid choice. {wanted} is not one of the available choices."
            return [], {"project": [choice]}
        ids = [i for i in ids if pw.project_of(i) in known]
    if "msgid" in query and (version is None or version >= "1.2"):
        ids = [i for i in ids if pw.patches[i] == f"<{query['msgid']}>"]
    return [patch_json(pw, i) for i in ids], {}


def patch_json(pw: Patchwork, patch: int) -> dict[str, Any]:
    project = pw.project_json(pw.project_of(patch))
    return {"id": patch, "msgid": pw.patches[patch], "project": project, "name": f"patch {patch}"}


def validate_check(body: Any) -> dict[str, list[str]]:
    if not isinstance(body, dict):
        return {"non_field_errors": ["Invalid data."]}
    problems: dict[str, list[str]] = {}
    if body.get("state") not in STATES:
        problems["state"] = [f'"{body.get("state")}" is not a valid choice.']
    context = str(body.get("context", "default"))
    if not SLUG.match(context) or len(context) > 255:
        problems["context"] = ["Enter a valid “slug” consisting of letters, numbers, ..."]
    url = body.get("target_url")
    if url is not None and not valid_url(str(url)):
        problems["target_url"] = ["Enter a valid URL."]
    if url is not None and len(str(url)) > URL_MAX:
        problems.setdefault("target_url", []).append(
            f"Ensure this field has no more than {URL_MAX} characters."
        )
    return problems


def valid_url(url: str) -> bool:
    scheme = url.partition("://")[0].lower()
    return scheme in URL_SCHEMES and bool(URL.match(url))


class Server:
    """The stand-in on 127.0.0.1 in a thread; `api` is its /api/1.3/ base URL."""

    def __init__(self, pw: Patchwork) -> None:
        self.pw = pw
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(pw))
        self.root = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/"
        self.api = self.root + "1.3/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
