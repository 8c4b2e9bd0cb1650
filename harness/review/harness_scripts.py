"""The tree's scripts that harness itself runs, and what a patch that edits one gets.

Input: one patch's changed paths. Output: a Finding per such path for the hygiene case.
A checker's verdict must not come from the series it checks: checkpatch.pl and the files
it reads or runs are always the base tree's (check.py runs checkpatch on every patch
before the first one is applied), so a patched checkpatch.pl never runs at all. Build
helpers (merge_config.sh) are the series' own: their patched copy runs, in the sandbox.
Errors raised: none.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.review.checker_findings import Finding, Severity

CHECK = "hygiene"
BASE_COPY = "harness check checked every patch with the base tree's copy; the patched one never ran"
CHECKER = {
    "scripts/checkpatch.pl": BASE_COPY,
    "scripts/spelling.txt": BASE_COPY,  # checkpatch's data, next to it
    "scripts/const_structs.checkpatch": BASE_COPY,
    "scripts/spdxcheck.py": BASE_COPY,  # checkpatch runs it from the tree
    "scripts/get_maintainer.pl": (
        "checkpatch ran the base tree's copy; the maintainer check of later patches runs "
        "the patched copy, in the sandbox"
    ),
}
BUILD_HELPER = {
    "scripts/kconfig/merge_config.sh": (
        "harness runs the patched copy to configure the kernel (test, and check after a "
        "Kconfig change), in the sandbox"
    ),
}


def findings(paths: Iterable[str]) -> list[Finding]:
    """A WARNING for a checker the patch edits (a reviewer should know it was not used), an
    INFO for a build helper (it is the series' to change; the sandbox is what holds it)."""
    out = []
    for path in dict.fromkeys(paths):
        if path in CHECKER:
            what = f"edits {path}, which harness runs: {CHECKER[path]}"
            out.append(Finding(CHECK, Severity.WARNING, what, path))
        elif path in BUILD_HELPER:
            what = f"edits {path}, which harness runs: {BUILD_HELPER[path]}"
            out.append(Finding(CHECK, Severity.INFO, what, path))
    return out
