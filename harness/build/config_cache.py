"""The merged .config, kept per fragment set and base: merge_config.sh and olddefconfig run
only when something they read has changed.

A warm rerun spent seconds re-merging the same fragments into the same .config, and the
rewritten .config then made Kbuild run syncconfig again. The result of the merge depends
on the fragments, the tree's Kconfig language (every Kconfig* file, scripts/, the
Makefiles that set the version and arch) and the toolchain Kconfig probes ($(cc-option),
CC_VERSION_TEXT): `key` digests exactly these. `remember` writes <build>/.harness-config.json
with the key and the digest of the .config it produced; `fresh` is true only when both
still match, so a .config someone else rewrote is merged again.
Input: the tree, the fragments, the build dir. Output: a key; a stamp file. Raises nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from harness import git
from harness.readfiles import read_untrusted
from harness.tree import slots

STAMP = ".harness-config.json"
KCONFIG_INPUTS = (":(glob)**/Kconfig*", "scripts/**", "Makefile", "arch/x86/Makefile*")
TOOLCHAIN = ("gcc", "ld", "as", "make")


def key(src: Path, fragments: list[Path]) -> str:
    """What merge_config.sh + olddefconfig read: '' when the tree's files cannot be listed."""
    listing = git.run(src, "ls-files", "-s", "--", *KCONFIG_INPUTS)
    if not listing.ok or not listing.output.strip():
        return ""
    digest = hashlib.sha256(listing.output.encode())
    for fragment in fragments:
        digest.update(fragment.name.encode() + b"\0" + fragment.read_bytes() + b"\0")
    for tool in TOOLCHAIN:
        digest.update(_identity(tool).encode() + b"\0")
    return digest.hexdigest()


def _identity(tool: str) -> str:
    """A toolchain binary by where it really is, its size and mtime (an upgrade changes them)."""
    found = shutil.which(tool)
    if found is None:
        return f"{tool}: none"
    real = os.path.realpath(found)
    st = os.stat(real)
    return f"{real} {st.st_size} {st.st_mtime_ns}"


def _config_digest(build: Path) -> str:
    data = read_untrusted(build / ".config")  # raises nothing: None for no plain file
    return hashlib.sha256(data).hexdigest() if data is not None else ""


def fresh(build: Path, wanted: str) -> bool:
    try:
        stamp = json.loads((slots.state_dir(build) / STAMP).read_text())
    except (OSError, ValueError):
        return False
    if not wanted or not isinstance(stamp, dict) or stamp.get("key") != wanted:
        return False
    return stamp.get("config") == _config_digest(build) != ""


def forget(build: Path) -> None:
    """Before a merge: a merge that fails or is interrupted leaves no stamp behind."""
    (slots.state_dir(build) / STAMP).unlink(missing_ok=True)


def remember(build: Path, made: str) -> None:
    if made:
        stamp = {"key": made, "config": _config_digest(build)}
        (slots.state_dir(build) / STAMP).write_text(json.dumps(stamp))
