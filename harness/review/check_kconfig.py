"""Static check of the Kconfig symbols a patch adds.

Input: one patch mail (or bare diff) and the base kernel tree. Output: Findings (check "kconfig").
Reads every Kconfig* file of the tree once per call (about 1,800 files, well under a second).
Whether a symbol can be enabled on x86_64 is a three-valued static evaluation (n / maybe / y)
of its `depends on`, with X86, X86_64, 64BIT and the unconditional selects of `config X86` and
`config X86_64` taken as y and symbols defined only under other arch/ directories taken as n.
It never runs make. Never raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness.intake import mail
from harness.intake.diffparse import parse_diff
from harness.review.checker_findings import Finding, Severity

CHECK = "kconfig"
N, MAYBE, Y = 0, 1, 2
X86_ROOTS = ("X86", "X86_64")
X86_FIXED = {"X86", "X86_64", "64BIT", "MMU"}
TOKEN_RE = re.compile(r'"[^"]*"|\'[^\']*\'|&&|\|\||!=|<=|>=|[=!()<>]|[A-Za-z0-9_.-]+')
SYMBOL_RE = re.compile(r"^[A-Z0-9_]+$")
EXPERIMENTAL_RE = re.compile(
    r"\b(experimental|EXPERIMENTAL|unstable|RFC|prototype|not (?:yet )?ready)\b"
)
STOPPERS = (
    "menu",
    "endmenu",
    "choice",
    "endchoice",
    "comment",
    "source",
    "if",
    "endif",
    "mainmenu",
    "rsource",
    "osource",
    "orsource",
    "menuconfig",
    "config",
)


@dataclass
class Symbol:
    name: str
    file: str = ""
    kind: str = ""
    prompt: str = ""
    depends: list[str] = field(default_factory=list)
    selects: list[tuple[str, str]] = field(default_factory=list)  # (symbol, "if" condition)
    defaults: list[str] = field(default_factory=list)
    help: str = ""


def parse_kconfig(lines: Iterable[str], file: str = "") -> list[Symbol]:
    """The config/menuconfig entries among `lines`; enclosing `if` blocks become depends."""
    out: list[Symbol] = []
    current: Symbol | None = None
    ifs: list[str] = []
    in_help = False
    for raw in _joined(lines):
        if in_help and current is not None:
            if raw.strip() and not raw.startswith((" ", "\t")):
                in_help = False
            else:
                current.help += raw.strip() + "\n"
                continue
        word, _, rest = raw.split("#", 1)[0].strip().partition(" ")
        rest = rest.strip()
        if word in ("config", "menuconfig") and rest:
            current = Symbol(rest.split()[0], file, depends=list(ifs))
            out.append(current)
        elif word == "if" and rest:
            ifs.append(rest)
            current = None
        elif word == "endif":
            ifs = ifs[:-1]
            current = None
        elif word in STOPPERS:
            current = None
        elif current is not None:
            _attribute(current, word, rest)
            in_help = word in ("help", "---help---")
    return out


def _joined(lines: Iterable[str]) -> list[str]:
    """Lines with backslash continuations folded in."""
    out: list[str] = []
    pending = ""
    for raw in lines:
        if raw.rstrip().endswith("\\"):
            pending += (raw.rstrip()[:-1].strip() if pending else raw.rstrip()[:-1].rstrip()) + " "
            continue
        out.append(pending + raw.strip() if pending else raw)
        pending = ""
    return out + ([pending] if pending else [])


def _attribute(sym: Symbol, word: str, rest: str) -> None:
    prompt = re.match(r'"([^"]*)"(?:\s+if\s+(.*))?', rest)
    if word in ("bool", "tristate", "string", "int", "hex") and prompt:
        sym.kind, sym.prompt = word, prompt.group(1)
    elif word in ("bool", "tristate", "string", "int", "hex"):
        sym.kind = word
    elif word in ("def_bool", "def_tristate"):
        sym.kind = word[4:]
        sym.defaults.append(rest)
    elif word == "prompt" and prompt:
        sym.prompt = prompt.group(1)
    elif word == "depends" and rest.startswith("on "):
        sym.depends.append(rest[3:].strip())
    elif word in ("select", "imply") and rest:
        target, _, cond = rest.partition(" if ")
        sym.selects.append((target.strip(), cond.strip()))
    elif word == "default" and rest:
        sym.defaults.append(rest)


def symbols_in(expr: str) -> set[str]:
    return {t for t in TOKEN_RE.findall(expr) if SYMBOL_RE.match(t) and not t.isdigit()}


def evaluate(expr: str, value: Callable[[str], int]) -> int:
    """n/maybe/y of a Kconfig expression; comparisons and anything unparsable are maybe."""
    tokens = TOKEN_RE.findall(expr)
    pos = 0

    def peek() -> str:
        return tokens[pos] if pos < len(tokens) else ""

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1] if pos - 1 < len(tokens) else ""

    def or_expr() -> int:
        v = and_expr()
        while peek() == "||":
            take()
            v = max(v, and_expr())
        return v

    def and_expr() -> int:
        v = unary()
        while peek() == "&&":
            take()
            v = min(v, unary())
        return v

    def unary() -> int:
        if peek() == "!":
            take()
            return Y - unary()
        if peek() == "(":
            take()
            v = or_expr()
            take()
            return v
        atom = take()
        if peek() in ("=", "!=", "<", ">", "<=", ">="):
            take(), take()
            return MAYBE
        return {"y": Y, "n": N, "m": MAYBE}.get(
            atom, value(atom) if SYMBOL_RE.match(atom) else MAYBE
        )

    try:
        return or_expr() if tokens else Y
    except RecursionError:
        return MAYBE


@dataclass
class Tree:
    """Every symbol definition in the tree, and what x86_64 fixes."""

    symbols: dict[str, list[Symbol]] = field(default_factory=dict)
    x86_yes: set[str] = field(default_factory=set)

    def defined(self, name: str) -> bool:
        return name in self.symbols

    def on_x86(self, name: str) -> list[Symbol]:
        """The definitions x86 reads: none from other architectures' directories."""
        return [
            s
            for s in self.symbols.get(name, [])
            if not s.file.startswith("arch/x86/um/")
            and (not s.file.startswith("arch/") or s.file.startswith(("arch/x86/", "arch/Kconfig")))
        ]

    def x86_value(self, name: str, seen: frozenset[str] = frozenset()) -> int:
        if name in self.x86_yes:
            return Y
        defs = self.on_x86(name)
        if not defs:
            return N
        if name in seen or len(seen) > 8:
            return MAYBE
        values = [
            min(
                [evaluate(d, lambda n: self.x86_value(n, seen | {name})) for d in s.depends],
                default=Y,
            )
            for s in defs
        ]
        return min(max(values), MAYBE)


def load_tree(root: Path | None) -> Tree:
    tree = Tree()
    if root is None or not root.is_dir():
        return tree
    for path in sorted(root.rglob("Kconfig*")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(("Documentation/", "tools/")) or not path.is_file():
            continue
        for sym in parse_kconfig(path.read_text(errors="replace").splitlines(), rel):
            tree.symbols.setdefault(sym.name, []).append(sym)
    tree.x86_yes = set(X86_FIXED)
    for sym in (
        s
        for name in X86_ROOTS
        for s in tree.symbols.get(name, [])
        if s.file.startswith("arch/x86/")
    ):
        tree.x86_yes |= {target for target, cond in sym.selects if not cond}
    return tree


def select_findings(sym: Symbol, tree: Tree, new_names: set[str]) -> list[Finding]:
    out = []
    own = set().union(*(symbols_in(d) for d in sym.depends))
    implied = own | set().union(
        *(symbols_in(d) for n in own for s in tree.symbols.get(n, []) for d in s.depends)
    )
    for target, cond in sym.selects:
        if not tree.defined(target) and target not in new_names:
            out.append(
                Finding(
                    CHECK,
                    Severity.ERROR,
                    f"{sym.name} selects {target}, which is not defined",
                    sym.file,
                    (f"select {target}",),
                )
            )
            continue
        needs = {d for s in tree.symbols.get(target, []) for d in s.depends}
        missing = sorted(set().union(*(symbols_in(d) for d in needs)) - implied - symbols_in(cond))
        if missing:
            out.append(
                Finding(
                    CHECK,
                    Severity.WARNING,
                    f"{sym.name} selects {target}, which depends on {' && '.join(sorted(needs))};"
                    f" {sym.name} does not guarantee {', '.join(missing)}",
                    sym.file,
                    (f"select {target}",),
                )
            )
    return out


def default_findings(sym: Symbol, rfc: bool) -> list[Finding]:
    if not sym.prompt or not any(d.split(" if ")[0].strip() == "y" for d in sym.defaults):
        return []
    why = [
        w
        for w, hit in (
            ("the help text says it is experimental", EXPERIMENTAL_RE.search(sym.help)),
            ("the prompt says it is experimental", EXPERIMENTAL_RE.search(sym.prompt)),
            ("the series is an RFC", rfc),
        )
        if hit
    ]
    extra = f" ({'; '.join(why)})" if why else ""
    return [
        Finding(
            CHECK,
            Severity.WARNING,
            f"new user-visible option {sym.name} defaults to y{extra}",
            sym.file,
            ("default y",),
        )
    ]


def x86_findings(sym: Symbol, tree: Tree) -> list[Finding]:
    if not tree.symbols:
        return []
    blocking = [d for d in sym.depends if evaluate(d, tree.x86_value) == N]
    if not blocking:
        return []
    return [
        Finding(
            CHECK,
            Severity.WARNING,
            f"{sym.name} cannot be enabled on x86_64:"
            f" depends on {' && '.join(blocking)} is n there",
            sym.file,
            tuple(f"depends on {d}" for d in blocking),
        )
    ]


def new_symbols(patch_text: str) -> list[Symbol]:
    out = []
    for f in parse_diff(patch_text):
        if f.path.rsplit("/", 1)[-1].startswith("Kconfig") and not f.is_deleted:
            for hunk in f.hunks:
                out += parse_kconfig((line.text for line in hunk.added), f.path)
    return out


def is_rfc(mail_text: str) -> bool:
    return "RFC" in mail.header(mail.read(mail_text), "Subject")


def check_patch(patch_text: str, tree: Path | None) -> list[Finding]:
    """Findings for every Kconfig symbol the patch adds."""
    try:
        added = new_symbols(patch_text)
        if not added:
            return []
        index = load_tree(tree)
        names = {s.name for s in added}
        out: list[Finding] = []
        for sym in added:
            if index.defined(sym.name):
                where = ", ".join(sorted({s.file for s in index.symbols[sym.name]}))
                out.append(
                    Finding(
                        CHECK,
                        Severity.WARNING,
                        f"{sym.name} is already defined in {where}",
                        sym.file,
                    )
                )
            out += select_findings(sym, index, names)
            out += default_findings(sym, is_rfc(patch_text))
            out += x86_findings(sym, index)
        return out
    except (OSError, ValueError, RecursionError) as err:
        return [Finding(CHECK, Severity.CRASH, f"kconfig check could not finish: {err}")]
