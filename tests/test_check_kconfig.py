"""check_kconfig on the GMEM mails, a synthetic bad symbol and a clean one.

Fixture tree: extracts of the 6.12 mm/Kconfig, arch/Kconfig, arch/x86/Kconfig and
arch/arm64/Kconfig (tests/fixtures/check/tree/), help texts cut.
"""

from pathlib import Path

from conftest import REAL_TREE, needs_real_tree

from harness.review import check_kconfig
from harness.review.check_kconfig import MAYBE, N, Y, evaluate
from harness.review.checker_findings import Severity, render

FIX = Path(__file__).parent / "fixtures" / "check"
TREE = FIX / "tree"


def golden(tree: Path) -> str:
    parts = []
    for p in sorted((FIX / "gmem").glob("000*.patch")):
        parts.append(f"== {p.name}\n" + render(check_kconfig.check_patch(p.read_text(), tree)))
    return "\n".join(parts) + "\n"


def test_gmem_series_matches_golden() -> None:
    assert golden(TREE) == (FIX / "gmem" / "expected-kconfig.txt").read_text()


@needs_real_tree
def test_fixture_tree_gives_the_same_findings_as_the_real_tree() -> None:
    assert golden(REAL_TREE) == golden(TREE)


def test_gmem_defaults_to_y_but_can_be_enabled_on_x86_64() -> None:
    text = next((FIX / "gmem").glob("0001-*.patch")).read_text()
    (finding,) = check_kconfig.check_patch(text, TREE)
    assert finding.severity is Severity.WARNING
    assert finding.message == "new user-visible option GMEM defaults to y (the series is an RFC)"


def test_synthetic_bad_symbol() -> None:
    text = (FIX / "synthetic" / "collisions.patch").read_text()
    by_severity = {
        (f.severity, f.message.split(",")[0].split(":")[0])
        for f in check_kconfig.check_patch(text, TREE)
    }
    assert by_severity == {
        (Severity.WARNING, "FROB selects ZONE_DEVICE"),
        (Severity.ERROR, "FROB selects FROB_CORE"),
        (
            Severity.WARNING,
            "new user-visible option FROB defaults to y (the prompt says it is experimental)",
        ),
        (Severity.WARNING, "FROB cannot be enabled on x86_64"),
    }


def test_clean_symbol_has_no_findings() -> None:
    text = (FIX / "synthetic" / "clean.patch").read_text()
    assert check_kconfig.check_patch(text, TREE) == []


def test_parse_kconfig_handles_help_if_blocks_and_continuations() -> None:
    text = "\n".join(
        [
            "if MMU",
            "config A",
            '\tbool "a"',
            "\tdepends on B && \\",
            "\t\tC",
            "\tselect D if E",
            "\tdefault y",
            "\thelp",
            "\t  Experimental.",
            "\t  More help.",
            "",
            "config F",
            "\tdef_bool y",
            "endif",
            "config G",
            "\ttristate",
        ]
    )
    a, f, g = check_kconfig.parse_kconfig(text.splitlines(), "x/Kconfig")
    assert a.depends == ["MMU", "B && C"] and a.selects == [("D", "E")]
    assert a.prompt == "a" and a.defaults == ["y"] and "Experimental." in a.help
    assert f.depends == ["MMU"] and f.defaults == ["y"]
    assert g.depends == [] and g.kind == "tristate"


def test_evaluate_three_valued() -> None:
    values = {"ARM64": N, "X86_64": Y, "THP": MAYBE}.__getitem__
    assert evaluate("(ARM64 || X86_64) && THP", values) == MAYBE
    assert evaluate("ARM64 && THP", values) == N
    assert evaluate("!ARM64", values) == Y
    assert evaluate('X86_64 && FOO = "bar"', lambda _: Y) == MAYBE
    assert evaluate("((", values) in (N, MAYBE, Y)


def test_bad_input_gives_no_findings() -> None:
    assert check_kconfig.check_patch("", TREE) == []
    assert check_kconfig.check_patch("garbage", None) == []
