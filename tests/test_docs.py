"""The README and docs/ say only what is true of this checkout: every repo path they name
exists, every link and anchor resolves, every `harness COMMAND` they show answers --help,
and docs/cli.md is what the argparse parser renders."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from harness import cli, cli_reference

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A token under one of these names is a path in the repository.
TOP = ("harness", "docs", "tests", "ci", ".ci", "kconfigs", "guest-tests", "patches", "bench")
TOP_FILES = ("README.md", "pyproject.toml")
# Upper-case words that stand for a value (guest-tests/NAME/, check_NAME.py), not a name.
PLACEHOLDERS = {
    "NAME", "FIXTURE", "DIR", "TEST", "RUN", "SLOT", "BASE", "CONFIGHASH", "SUITE", "SIDE",
    "NN", "OUT", "FILE", "SERIES", "TREE", "REV", "WORKLOAD", "GLOB", "FRAG", "K", "N",
}  # fmt: skip
# A command where a shell would see one: at the start of a line or span, or after $ && || ;
COMMAND = re.compile(r"(?:^|&&|\|\||;|\$)\s*(?:\S*/)?harness ([a-z][a-z-]*)", re.MULTILINE)
LINK = re.compile(r"\]\(([^)\s]+)\)")


class Page:
    """One Markdown file split into what is code (fenced, indented, inline) and what is prose.
    Fenced blocks marked `text` are quoted output, not commands to run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.code: list[str] = []  # commands and paths may be named here
        self.quoted: list[str] = []  # text blocks: paths count, commands do not
        prose: list[str] = []
        fence: str | None = None
        for line in path.read_text().splitlines():
            if line.lstrip().startswith("```"):
                fence = line.strip()[3:] if fence is None else None
            elif fence is not None:
                (self.quoted if fence == "text" else self.code).append(line)
            elif line.startswith("    "):
                self.code.append(line)
            else:
                prose.append(line)
        self.prose = "\n".join(prose)
        self.code += re.findall(r"`([^`]+)`", self.prose)

    def links(self) -> list[str]:
        return LINK.findall(self.prose)


def _is_repo_path(token: str) -> bool:
    if any(c in token for c in "<>*…$~{") or token.startswith("//"):
        return False
    if set(re.findall(r"[A-Z]+", token)) & PLACEHOLDERS:
        return False
    return token in TOP_FILES or token.split("/")[0] in TOP and "/" in token


def named_paths(page: Page) -> set[str]:
    found = set()
    for text in page.code + page.quoted:
        for token in re.split(r"[\s=:,;()'\"]+", text):
            token = token.rstrip(".")
            if _is_repo_path(token):
                found.add(token)
    return found


def named_commands(page: Page) -> set[str]:
    return {m for text in page.code for m in COMMAND.findall(text)}


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    lines = Page(path).prose.splitlines()
    return {slug(line.lstrip("#")) for line in lines if line.startswith("#")}


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_every_repo_path_named_exists(path: Path) -> None:
    missing = sorted(p for p in named_paths(Page(path)) if not (ROOT / p).exists())
    assert missing == []


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_every_link_and_anchor_resolves(path: Path) -> None:
    broken = []
    for link in Page(path).links():
        if re.match(r"[a-z]+:", link):
            continue  # a web address
        target, _, anchor = link.partition("#")
        page = (path.parent / target).resolve() if target else path
        if not page.exists():
            broken.append(link)
        elif anchor and page.suffix == ".md" and anchor not in anchors(page):
            broken.append(link)
    assert broken == []


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    return cli_reference.subcommands(cli.build_parser())


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_every_harness_command_shown_answers_help(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commands = named_commands(Page(path))
    assert commands <= set(_subcommands()), "not a harness command"
    for command in sorted(commands):
        with pytest.raises(SystemExit) as exited:
            cli.main([command, "--help"])
        assert exited.value.code == 0, command
        assert capsys.readouterr().out.startswith(f"usage: harness {command}")


def test_the_readme_shows_every_command() -> None:
    assert named_commands(Page(ROOT / "README.md")) == set(_subcommands())


def test_cli_reference_is_what_the_parser_renders() -> None:
    rendered = cli_reference.render(cli.build_parser())
    assert cli_reference.DOC.read_text() == rendered, "run: python -m harness.cli_reference"


def test_every_cli_option_is_in_the_reference() -> None:
    text = cli_reference.DOC.read_text()
    parser = cli.build_parser()
    parsers = {"": parser, **cli_reference.subcommands(parser)}
    missing = [
        f"{name or 'harness'} {option}"
        for name, sub in parsers.items()
        for action in sub._actions
        for option in action.option_strings
        if f"`{option}" not in text
    ]
    assert missing == []
    for name in parsers:
        assert name == "" or f"## harness {name}\n" in text


def test_the_readme_stays_a_front_page() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 300


def test_the_path_finder_sees_a_missing_path(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "See `harness/discover.py` and [x](docs/nowhere.md#a).\n\n"
        "    harness frobnicate series\n\n"
        "```text\nharness reviewed your series\n```\n"
    )
    parsed = Page(page)
    assert named_paths(parsed) == {"harness/discover.py"}
    assert named_commands(parsed) == {"frobnicate"}
    assert parsed.links() == ["docs/nowhere.md#a"]
