"""A run as KCIDB JSON (KernelCI's common reporting format): one checkout (the base plus
the series), one build (and, for a check run, one more per cell of its build matrix), and
a test per leaf result.

Input: a run's meta and suites, and the submitting CI system's origin name. Output: a
dict that kcidb-io's latest schema validates (validate() raises UserError with the
schema's complaint otherwise: nothing invalid is written or sent). Pure.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import kcidb_io

from harness.cases import Case, Status
from harness.errors import UserError

SCHEMA = kcidb_io.schema.LATEST
ORIGIN = re.compile(r"^[a-z0-9_]+$")
STATUS = {
    Status.PASS: "PASS",
    Status.FAIL: "FAIL",
    Status.ERROR: "ERROR",
    Status.SKIP: "SKIP",
    Status.XFAIL: "DONE",  # KCIDB has no expected failure; misc says which it was
}
NOT_TESTS = {"apply", "kconfig", "build"}  # the checkout and build, not tests of it


def path_part(name: str) -> str:
    """A KCIDB test path component: [a-zA-Z0-9_-] only."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "_"


def _time(stamp: str) -> str:
    started = dt.datetime.strptime(stamp, "%Y%m%d-%H%M%S").astimezone()
    return started.isoformat()


def _tests(suites: list[Case], build_id: str, origin: str) -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = []

    def walk(case: Case, prefix: str) -> None:
        path = f"{prefix}.{path_part(case.name)}" if prefix else path_part(case.name)
        for child in case.children:
            walk(child, path)
        if case.children and not case.fails_on_its_own:  # else its own result is a test too
            return
        test: dict[str, Any] = {
            "id": f"{build_id}:{len(tests)}",
            "build_id": build_id,
            "origin": origin,
            "path": path,
            "status": STATUS[case.status],
            "misc": {"harness_status": case.status.value},
        }
        if case.explain():
            test["comment"] = case.explain()[:500]
        if case.seconds:
            test["duration"] = case.seconds
        tests.append(test)

    for suite in suites:
        if suite.name not in NOT_TESTS:
            walk(suite, "")
    return tests


def _base_build(base: Case | None) -> Case | None:
    """A check run builds the base first ("base" suite): the build the patches go on."""
    found = [c for c in (base.children if base else []) if c.name == "build"]
    return found[0] if found else None


def report(meta: dict[str, Any], suites: list[Case], origin: str) -> dict[str, Any]:
    if not ORIGIN.match(origin):
        raise UserError(f"KCIDB origin {origin!r}: lower-case letters, digits and _ only")
    named = {s.name: s for s in suites}
    checkout_id = f"{origin}:{meta.get('run', 'run')}"
    checkout: dict[str, Any] = {"id": checkout_id, "origin": origin, "tree_name": "harness"}
    if re.fullmatch(r"[0-9a-f]{40}", str(meta.get("base_commit", ""))):
        checkout["git_commit_hash"] = meta["base_commit"]
    if meta.get("message_id"):
        checkout["message_id"] = str(meta["message_id"]).strip("<>")
    if meta.get("subject"):
        checkout["comment"] = str(meta["subject"])
    if meta.get("started"):
        checkout["start_time"] = _time(str(meta["started"]))
    if "apply" in named:
        checkout["valid"] = named["apply"].status is Status.PASS
    data: dict[str, Any] = {
        "version": {"major": SCHEMA.major, "minor": SCHEMA.minor},
        "checkouts": [checkout],
    }
    built = named.get("build") or _base_build(named.get("base"))
    if built is not None:
        build_id = f"{checkout_id}:build"
        build: dict[str, Any] = {"id": build_id, "checkout_id": checkout_id, "origin": origin}
        build.update(architecture="x86_64", status=STATUS[built.status], duration=built.seconds)
        if meta.get("compiler"):
            build["compiler"] = str(meta["compiler"])
        data["builds"] = [build]
        data["tests"] = _tests(suites, build_id, origin)
    cells = _matrix_builds(suites, checkout_id, origin)
    if cells:
        data["builds"] = [*data.get("builds", []), *cells]
    return data


def _matrix_builds(suites: list[Case], checkout_id: str, origin: str) -> list[dict[str, Any]]:
    """A check run's build matrix: a build per cell, its status the worst over the patches,
    its comment the first finding (build/matrix.py)."""
    cells: dict[str, list[Case]] = {}
    for suite in suites:
        for matrix in (c for c in suite.children if c.name == "matrix"):
            for cell in matrix.children:
                cells.setdefault(cell.name, []).append(cell)
    builds = []
    for name, per_patch in cells.items():
        status = Case(name, children=per_patch).status
        props = next((c.properties for c in per_patch if c.properties.get("arch")), {})
        build: dict[str, Any] = {
            "id": f"{checkout_id}:matrix:{path_part(name)}",
            "checkout_id": checkout_id,
            "origin": origin,
            "status": STATUS[status],
            "misc": {"cell": name, "patches": [c.status.value for c in per_patch]},
        }
        if props:
            build.update(architecture=props["arch"], compiler=props["compiler"])
            build["config_name"] = props["config"]
        failed = next((c for c in per_patch if c.status.is_bad), None)
        if failed is not None:
            build["comment"] = failed.message[:500]
        builds.append(build)
    return builds


def validate(data: dict[str, Any]) -> None:
    try:
        SCHEMA.validate(data)
    except Exception as err:  # jsonschema's ValidationError, whatever kcidb-io wraps it in
        first = str(err).splitlines()[0]
        raise UserError(f"the KCIDB report does not validate against {SCHEMA}: {first}") from None
