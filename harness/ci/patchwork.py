"""Patchwork checks: a run's verdict on each patch, posted where maintainers look.

Input: a run's meta and suites. Output: one Check per patch (pure), and the REST calls
that find a patch by its Message-ID (GET /api/1.x/patches/?msgid=) and post a check to it
(POST /api/1.x/patches/{id}/checks/ with state, target_url, context, description; the
token in an Authorization header). Patchwork has no series checks, so series-wide results
(the base build, the boots) are copied onto every patch, as NIPA does.
Raises UserError when patchwork refuses the token or the request.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from harness.cases import Case, Status
from harness.errors import EnvError, UserError
from harness.review import report

STATES = ("pending", "success", "warning", "fail")
TIMEOUT = 60


@dataclass(frozen=True)
class Check:
    message_id: str
    state: str
    context: str
    description: str
    target_url: str = ""


def state_of(cases: list[Case]) -> str:
    worst = [c.worst() for c in cases]
    if any(s.is_bad for s in worst):
        return "fail"
    warned = [c for case in cases for c in case.leaves() if c.status is Status.PASS]
    return "warning" if any(report.case_details(c) for c in warned) else "success"


def describe(cases: list[Case]) -> str:
    bad = [leaf for case in cases for leaf in case.leaves() if leaf.status.is_bad]
    if bad:
        first = bad[0]
        more = f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""
        return f"{first.name}: {first.message}"[:200] + more
    return f"{sum(len(c.leaves()) for c in cases)} results, none failed"


def checks(meta: dict[str, Any], suites: list[Case], context: str, url: str) -> list[Check]:
    """One check per patch: its own suite (a check run's "0001 ...") with the series-wide
    suites, or the whole run's result for every patch of a test run."""
    ids = [str(i) for i in meta.get("patch_message_ids", [])]
    own = report.patch_suites(suites)
    shared = [s for s in suites if s not in own]
    found = []
    for number, message_id in enumerate(ids, 1):
        mine = [s for s in own if s.name.startswith(f"{number:04d} ")]
        cases = mine + shared
        found.append(Check(message_id, state_of(cases), context, describe(cases), url))
    return found


@dataclass(frozen=True)
class Client:
    api: str  # e.g. https://patchwork.kernel.org/api/1.3/
    token: str

    def _request(self, method: str, path: str, body: dict[str, str] | None = None) -> Any:
        url = self.api.rstrip("/") + "/" + path
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/json")
        if body is not None:
            req.add_header("Content-Type", "application/json")
            req.add_header("Authorization", f"Token {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", errors="replace")[:200]
            raise UserError(f"patchwork {method} {url}: {err.code} {detail}") from None
        except (urllib.error.URLError, OSError) as err:
            raise EnvError(f"patchwork {url}: unreachable ({err})") from None

    def find_patch(self, message_id: str) -> int | None:
        query = urllib.parse.urlencode({"msgid": message_id.strip("<>")})
        found = self._request("GET", f"patches/?{query}")
        return int(found[0]["id"]) if isinstance(found, list) and found else None

    def post(self, patch_id: int, check: Check) -> None:
        body = {"state": check.state, "context": check.context, "description": check.description}
        if check.target_url:
            body["target_url"] = check.target_url
        self._request("POST", f"patches/{patch_id}/checks/", body)
