"""Secrets for publishing: from the environment, or from a file only its owner can read.

Input: a name (patchwork_token, smtp_user, smtp_password). Output: the value, or ''.
HARNESS_<NAME> in the environment wins; else `name = value` lines in $HARNESS_CREDENTIALS
(default ~/.config/harness/credentials). Never from the command line (other users see
argv in ps) and never logged. Raises UserError for a credentials file others can read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from harness.errors import UserError


def credentials_file() -> Path:
    given = os.environ.get("HARNESS_CREDENTIALS")
    return Path(given) if given else Path.home() / ".config" / "harness" / "credentials"


def parse(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            found[key.strip()] = value.strip()
    return found


def secret(name: str) -> str:
    from_env = os.environ.get(f"HARNESS_{name.upper()}")
    if from_env:
        return from_env
    path = credentials_file()
    if not path.is_file():
        return ""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UserError(f"{path}: readable by others (mode {mode & 0o777:o}); chmod 600 it")
    return parse(path.read_text()).get(name, "")
