"""docs/cli.md, the command-line reference, rendered from the argparse parser in cli.py.

Input: cli.build_parser(). Output: Markdown text; `python -m harness.cli_reference` writes
it to docs/cli.md (`--check` only compares, exit 1 when the file is out of date).
The help texts are the single source: the reference never says what --help does not.
Errors raised: none.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness import cli

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
# Fixed, so the text does not depend on the terminal the generator runs in.
WIDTH = 96

HEADER = """\
# Command-line reference

Generated from the argparse parser in `harness/cli.py` by `python -m harness.cli_reference`;
do not edit by hand. `tests/test_docs.py` fails when this file is not what the parser gives.
Every command also answers `harness COMMAND --help` with the same text.
"""


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parser's subcommands by name, in the order `harness --help` lists them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def _names(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest.upper()}`"
    takes = action.nargs != 0
    metavar = action.metavar or action.dest.upper()
    spelled = [f"`{o} {metavar}`" if takes else f"`{o}`" for o in action.option_strings]
    return ", ".join(spelled)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def options_table(parser: argparse.ArgumentParser) -> list[str]:
    """One table of the arguments; each argument group of its own (bisect's perf mode) after."""
    tables: dict[str, list[argparse.Action]] = {}
    for group in parser._action_groups:
        title = group.title or ""
        if title in ("positional arguments", "options", "optional arguments"):
            title = ""
        shown = [a for a in group._group_actions if _shown(a)]
        if shown:
            tables.setdefault(title, []).extend(shown)
    lines: list[str] = []
    for title, actions in tables.items():
        if title:
            lines += [f"*{_cell(title)}*", ""]
        lines += ["| argument | what it does |", "|---|---|"]
        lines += [f"| {_names(a)} | {_cell(a.help or '')} |" for a in actions]
        lines.append("")
    return lines


def _shown(action: argparse.Action) -> bool:
    return action.help != argparse.SUPPRESS and not isinstance(action, argparse._SubParsersAction)


def _paragraphs(text: str) -> list[str]:
    return [_cell(p) for p in text.split("\n\n") if p.strip()]


def render(parser: argparse.ArgumentParser) -> str:
    lines = [HEADER, "## harness", "", "```", usage(parser), "```", ""]
    for paragraph in _paragraphs(parser.description or ""):
        lines += [paragraph, ""]
    lines += options_table(parser)
    commands = subcommands(parser)
    lines += ["| command | what it does |", "|---|---|"]
    helps = _subcommand_helps(parser)
    lines += [
        f"| [`{name}`](#harness-{name}) | {_cell(helps.get(name, ''))} |" for name in commands
    ]
    lines.append("")
    for name, sub in commands.items():
        lines += [f"## harness {name}", "", _cell(helps.get(name, "")), ""]
        lines += ["```", usage(sub), "```", ""]
        lines += options_table(sub)
    if parser.epilog:
        lines += ["## Examples", "", "```", parser.epilog.strip(), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def _subcommand_helps(parser: argparse.ArgumentParser) -> dict[str, str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {choice.dest: choice.help or "" for choice in action._choices_actions}
    return {}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    text = render(cli.build_parser())
    if args == ["--check"]:
        current = DOC.read_text() if DOC.exists() else ""
        if current != text:
            print(f"{DOC} is out of date: run python -m harness.cli_reference", file=sys.stderr)
            return 1
        return 0
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
