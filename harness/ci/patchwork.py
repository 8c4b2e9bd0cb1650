"""Patchwork checks: a run's verdict on each patch, posted where maintainers look.

Input: a run's meta and suites. Output: one Check per patch that has results (pure), and
the REST calls that find a patch by its Message-ID within the bot's project (GET
/api/1.x/patches/?msgid=&project=, every page) and post a check to it (POST
/api/1.x/patches/{id}/checks/ with state, target_url, context, description; the token
in an Authorization header). Patchwork has no series checks: a test run's result, and a
check run's series-wide results (the base build), go onto every patch, as NIPA does; a
check run's patch without results of its own gets no check.
Raises UserError for an API URL, context or target URL patchwork would not take, and
when patchwork refuses a request or answers a Message-ID with another patch; EnvError
for an unreachable server.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from harness.cases import Case, Status
from harness.ci import tls
from harness.errors import EnvError, UserError
from harness.review import report

STATES = ("pending", "success", "warning", "fail")
TIMEOUT = 60
PER_PAGE = 100
# The `msgid` filter of GET /patches/ came in API 1.2; 1.0 and 1.1 ignore it and list
# every patch of the instance (patchwork/api/filters.py, PatchFilterSet.versioned_fields).
MSGID_FILTER_SINCE = (1, 2)
API_PATH = re.compile(r"/api/(\d+)\.(\d+)/?$")
# Check.context is a SlugField(max_length=255); Check.target_url a URLField (200 chars).
CONTEXT = re.compile(r"^[-a-zA-Z0-9_]{1,255}$")
TARGET_URL_MAX = 200
IP_HOST = r"\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]"
URL_HOST = re.compile(rf"^(localhost|{IP_HOST}|([^\s.]+\.)+[a-zA-Z]{{2,63}}\.?)$")


@dataclass(frozen=True)
class Check:
    message_id: str
    state: str
    context: str
    description: str
    target_url: str = ""


@dataclass(frozen=True)
class Verdicts:
    checks: tuple[Check, ...]
    unjudged: tuple[str, ...] = ()  # Message-IDs of patches the run has no results for


def is_finding(case: Case) -> bool:
    """A passing result a reviewer should still read: a checker's warning. A passing
    test's `#` lines, a build's log and a checker's notes are not findings."""
    if case.status is not Status.PASS:
        return False
    if case.properties.get("worst") == "warning":
        return True
    counted = (case.properties.get(k, "0").strip() for k in ("warnings", "checks"))
    return any(n not in ("", "0") for n in counted)


def state_of(cases: list[Case]) -> str:
    leaves = [leaf for case in cases for leaf in case.leaves()]
    if any(leaf.status.is_bad for leaf in leaves):
        return "fail"
    return "warning" if any(is_finding(leaf) for leaf in leaves) else "success"


def describe(cases: list[Case]) -> str:
    leaves = [leaf for case in cases for leaf in case.leaves()]
    bad = [leaf for leaf in leaves if leaf.status.is_bad]
    if bad:
        first = bad[0]
        more = f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""
        return f"{first.name}: {first.message}"[:200] + more
    warned = [leaf for leaf in leaves if is_finding(leaf)]
    if warned:
        first = warned[0]
        return f"{len(leaves)} results, none failed; {first.name}: {first.message}"[:200]
    return f"{len(leaves)} results, none failed"


def verdicts(meta: dict[str, Any], suites: list[Case], context: str, url: str) -> Verdicts:
    """One check per patch. A check run: the patch's own suite ("0001 ...") with the
    series-wide suites, and no check for a patch without its own suite. A test run (no
    per-patch suites): the whole run's result on every patch."""
    ids = [str(i) for i in meta.get("patch_message_ids", [])]
    own = report.patch_suites(suites)
    shared = [s for s in suites if s not in own]
    per_patch = bool(own) or meta.get("kind") == "check"
    found, unjudged = [], []
    for number, message_id in enumerate(ids, 1):
        mine = [s for s in own if s.name.startswith(f"{number:04d} ")]
        if per_patch and not mine:
            unjudged.append(message_id)
            continue
        cases = mine + shared
        found.append(Check(message_id, state_of(cases), context, describe(cases), url))
    return Verdicts(tuple(found), tuple(unjudged))


def api_url(url: str, insecure: bool) -> str:
    """The REST API base as given, if it can find patches by Message-ID and the token
    would not travel in clear text; UserError otherwise."""
    parts = urllib.parse.urlsplit(url)
    version = API_PATH.search(parts.path)
    if parts.scheme not in ("http", "https") or not parts.hostname or not version:
        raise UserError(
            f"--patchwork {url!r}: give the versioned REST API, "
            "e.g. https://patchwork.kernel.org/api/1.3/"
        )
    major, minor = int(version[1]), int(version[2])
    if (major, minor) < MSGID_FILTER_SINCE:
        raise UserError(
            f"--patchwork {url}: API {major}.{minor} ignores the Message-ID filter "
            "(it came in 1.2), so checks would land on other patches: use /api/1.2/ or later"
        )
    if parts.scheme == "http" and not tls.clear_text_allowed(parts.hostname, insecure):
        raise UserError(
            f"--patchwork {url}: the token would cross the network in clear text: "
            "use https (or --insecure)"
        )
    return url.rstrip("/") + "/"


def check_context(context: str) -> str:
    if not CONTEXT.match(context):
        raise UserError(f"--context {context!r}: patchwork takes a slug (A-Z a-z 0-9 - _)")
    return context


def check_target_url(url: str) -> str:
    """Django's URLField as patchwork declares it: http(s), a dotted host, localhost or
    an IP address, at most 200 characters; '' for none."""
    if not url:
        return url
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    host = re.sub(r":\d{1,5}$", "", host)
    ok = parts.scheme in ("http", "https") and URL_HOST.match(host) and not re.search(r"\s", url)
    if not ok or len(url) > TARGET_URL_MAX:
        raise UserError(
            f"--target-url {url[:80]!r}: patchwork takes an http(s) URL with a dotted "
            f"host name (or localhost, an IP) of at most {TARGET_URL_MAX} characters"
        )
    return url


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would carry the Authorization header to wherever it points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass(frozen=True)
class Client:
    api: str  # from api_url(), e.g. https://patchwork.kernel.org/api/1.3/
    token: str
    project: str  # the bot's project: its link name (linux-mm) or its id
    ca_file: str = ""

    def _request(
        self, method: str, url: str, body: dict[str, str] | None = None
    ) -> tuple[Any, str]:
        """The JSON answer and the URL of the next page ('' for the last)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/json")
        if body is not None:
            req.add_header("Content-Type", "application/json")
            req.add_header("Authorization", f"Token {self.token}")
        handlers = [_NoRedirect(), urllib.request.HTTPSHandler(context=tls.context(self.ca_file))]
        try:
            with urllib.request.build_opener(*handlers).open(req, timeout=TIMEOUT) as answer:
                found = json.loads(answer.read() or b"null")
                return found, next_link(answer.headers.get("Link", ""))
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", errors="replace")[:200]
            raise UserError(f"patchwork {method} {url}: {err.code} {detail}") from None
        except (urllib.error.URLError, OSError) as err:
            raise EnvError(f"patchwork {url}: unreachable ({err})") from None

    def patches(self, query: dict[str, str]) -> list[dict[str, Any]]:
        """GET /patches/ with these filters, every page of it."""
        url, found = self.api + "patches/?" + urllib.parse.urlencode(query), []
        while url:
            page, following = self._request("GET", url)
            if not isinstance(page, list):
                raise UserError(f"patchwork GET {url}: not a list: {str(page)[:100]}")
            found += page
            url = self._same_origin(following) if following else ""
        return found

    def _same_origin(self, link: str) -> str:
        """The next page on our scheme and host: behind a proxy, patchwork may spell its
        own links with http or an internal host name."""
        ours, theirs = urllib.parse.urlsplit(self.api), urllib.parse.urlsplit(link)
        if not theirs.path.startswith(ours.path):
            raise UserError(f"patchwork: next page {link} is not under {self.api}")
        return urllib.parse.urlunsplit((ours.scheme, ours.netloc, theirs.path, theirs.query, ""))

    def find_patch(self, message_id: str) -> int | None:
        """The id of the patch with this Message-ID in our project; None when there is none.
        A patch with another Message-ID in the answer means the filter was ignored."""
        wanted = "<" + message_id.strip("<>") + ">"
        query = {"msgid": wanted[1:-1], "project": self.project, "per_page": str(PER_PAGE)}
        mine = []
        for patch in self.patches(query):
            if patch.get("msgid") != wanted:
                raise UserError(
                    f"patchwork answered msgid={wanted[1:-1]} with patch {patch.get('id')} "
                    f"({patch.get('msgid')}): it ignores the Message-ID filter; nothing posted"
                )
            if in_project(patch, self.project):
                mine.append(int(patch["id"]))
        return mine[0] if mine else None

    def post(self, patch_id: int, check: Check) -> None:
        body = {"state": check.state, "context": check.context, "description": check.description}
        if check.target_url:
            body["target_url"] = check.target_url
        self._request("POST", f"{self.api}patches/{patch_id}/checks/", body)


def in_project(patch: dict[str, Any], project: str) -> bool:
    """A mail cross-posted to two lists is a patch in each project, with one Message-ID."""
    theirs = patch.get("project")
    if not isinstance(theirs, dict):
        return False
    name = str(theirs.get("link_name", ""))
    return str(theirs.get("id")) == project or name.lower() == project.lower()


def next_link(header: str) -> str:
    """The rel="next" URL of an RFC 8288 Link header, as patchwork paginates."""
    for part in header.split(","):
        m = re.match(r'\s*<([^>]*)>\s*;\s*rel="?next"?', part)
        if m:
            return m[1]
    return ""
