"""Skip make when nothing it reads has changed since its last clean build in this dir.

With nothing changed, a no-op make (Kbuild walking every directory and checking every
.cmd file) costs as much as the boot (docs/measurements.md): a warm rerun's floor should
be the boot.

After a build that passed, `remember` writes <build>/.harness-built.json: the worktree's
git index id (tree/mtimes.index_id), a digest of .config, make's command line and
environment, the kernel image's size and mtime and the build's warnings. `unchanged`
gives that build back only when all of them are as recorded, and the caller says the
worktree was checked clean this run (tree/reuse.clean: no edited, staged or untracked
file, and `update-index --refresh` rewrote the index if any tracked file was touched).
A compiler upgrade changes CONFIG_CC_VERSION_TEXT, so .config; a build interrupted or
failed after the record removes it first (`forget`), so a half-built dir is never taken.
Input: the BuildSpec, the make command. Output: a BuildResult or None. Raises nothing.
"""

from __future__ import annotations

import hashlib
import json
import os

from harness.build.make import BuildResult, BuildSpec, kernel_image, make_argv, make_env
from harness.cases import Case, Status
from harness.readfiles import read_untrusted
from harness.tree import slots
from harness.tree.mtimes import index_id

RECORD = ".harness-built.json"


def _state(spec: BuildSpec) -> dict[str, object] | None:
    try:
        config = hashlib.sha256(read_untrusted(spec.build / ".config") or b"").hexdigest()
        image = os.stat(kernel_image(spec))
    except OSError:
        return None
    index = index_id(spec.src)
    if not index:
        return None
    return {
        "index": index,
        "config": config,
        # -jN changes how fast, not what is built
        "make": [[a for a in make_argv(spec) if not a.startswith("-j")], make_env(spec)],
        "image": [image.st_size, image.st_mtime_ns],
    }


def forget(spec: BuildSpec) -> None:
    """Before make runs: from here until `remember`, the dir is not known to be built."""
    (slots.state_dir(spec.build) / RECORD).unlink(missing_ok=True)


def remember(spec: BuildSpec, built: BuildResult) -> None:
    """After a build that passed (and mtimes.save, which may refresh the index)."""
    state = _state(spec) if built.case.status is Status.PASS else None
    if state is None:
        return
    state["warnings"] = built.warnings
    tmp = slots.state_dir(spec.build) / f".{RECORD}.tmp"
    tmp.write_text(json.dumps(state))
    tmp.replace(tmp.with_name(RECORD))


def unchanged(spec: BuildSpec, checked_clean: bool) -> BuildResult | None:
    if not checked_clean:
        return None
    try:
        record = json.loads((slots.state_dir(spec.build) / RECORD).read_text())
    except (OSError, ValueError):
        return None
    state = _state(spec)
    if state is None or not isinstance(record, dict):
        return None
    # JSON gives lists where _state has tuples: compare both as JSON.
    if any(json.dumps(record.get(k)) != json.dumps(v) for k, v in state.items()):
        return None
    warnings = [str(w) for w in record.get("warnings", [])]
    case = Case(
        "build",
        Status.PASS,
        f"unchanged since its last build here (worktree index {state['index']!s:.12}, same"
        f" .config and make command): make not run, {len(warnings)} warning(s) as then",
        details="\n".join(warnings),
        seconds=0.0,
        properties={"seconds": "0.0", "warnings": str(len(warnings)), "make": "skipped"},
    )
    return BuildResult(case, kernel_image(spec), warnings, 0.0)
