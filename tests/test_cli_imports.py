"""`harness --help` and `harness parse` stay fast because the parser imports no stage.

Checked by what a fresh interpreter has imported after build_parser(), not by a timing
(bench/bench.py measures the time): a stage import in cli.py's top level, or in a module
the parser needs (compare/request.py), fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import PROJECT

# What building the parser may import of ours: the CLI, its error types, and the light
# modules that define other commands' options and defaults.
PARSER_MODULES = {
    "harness",
    "harness.cli",
    "harness.arguments",
    "harness.errors",
    "harness.boot",
    "harness.boot.defaults",
    "harness.compare",
    "harness.compare.request",
    "harness.bisection",
    "harness.bisection.request",
    "harness.ci",  # its __init__ imports nothing; publish_args defines publish's options
    "harness.ci.publish_args",
}
# Third-party and stdlib modules only a stage needs (and that cost milliseconds each).
HEAVY = ("pexpect", "yaml", "email.policy", "mailbox", "numpy", "scipy", "subprocess")

PROBE = """
import json, sys
from harness import cli
cli.build_parser()
print(json.dumps(sorted(sys.modules)))
"""


def _imported_by(code: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


def test_build_parser_imports_no_stage_module() -> None:
    modules = _imported_by(PROBE)
    ours = {m for m in modules if m == "harness" or m.startswith("harness.")}
    assert ours <= PARSER_MODULES, f"build_parser imported {sorted(ours - PARSER_MODULES)}"
    assert not [m for m in HEAVY if m in modules]


def test_parse_command_imports_no_build_or_boot_machinery() -> None:
    """`harness parse` reads a saved log: no pexpect, no series intake, no pipeline."""
    code = PROBE.replace("cli.build_parser()", "from harness.results import parse_log")
    modules = _imported_by(code)
    unneeded = ("pexpect", "yaml", "harness.boot.vm", "harness.intake.series", "harness.pipeline")
    assert not [m for m in unneeded if m in modules]
