"""check_uapi on the real GMEM mails, a synthetic collision patch and a clean patch.

Fixtures (tests/fixtures/check/): gmem/ holds the verbatim GMEM RFC v1 mails 1-6;
tree/ holds small extracts of a Debian 6.12.117 tree (syscall tables and headers, mman
headers, the VM_* block of include/linux/mm.h); synthetic/ holds patches made with
`git diff` against tree/. expected-uapi.txt is the golden output for the GMEM mails.
"""

from pathlib import Path

from conftest import REAL_TREE, needs_real_tree

from harness.cases import Status
from harness.review import check_uapi, uapi_defines
from harness.review.checker_findings import Finding, Severity, findings_case, render

FIX = Path(__file__).parent / "fixtures" / "check"
TREE = FIX / "tree"


def gmem(n: int) -> str:
    return next((FIX / "gmem").glob(f"000{n}-*.patch")).read_text()


def golden(check: str, tree: Path) -> str:
    parts = []
    for p in sorted((FIX / "gmem").glob("000*.patch")):
        parts.append(f"== {p.name}\n" + render(check_uapi.check_patch(p.read_text(), tree)))
    return "\n".join(parts) + "\n"


def errors(findings: list[Finding]) -> list[str]:
    return [f.message for f in findings if f.severity is Severity.ERROR]


def test_gmem_series_matches_golden() -> None:
    assert golden("uapi", TREE) == (FIX / "gmem" / "expected-uapi.txt").read_text()


@needs_real_tree
def test_fixture_tree_gives_the_same_findings_as_the_real_tree() -> None:
    assert golden("uapi", REAL_TREE) == golden("uapi", TREE)


def test_gmem_hmadvise_collides_everywhere_it_is_added() -> None:
    found = errors(check_uapi.check_patch(gmem(4), TREE))
    assert any("hmadvise gets number 453, already used by map_shadow_stack" in m for m in found)
    assert any("hmadvise gets number 457, already used by statmount" in m for m in found)
    assert any(m.startswith("__NR_syscalls set to 458") and "must be 463" in m for m in found)
    assert any(m.startswith("__NR_compat_syscalls set to 458") for m in found)
    assert any("wired up on no architecture" in m for m in found)


def test_gmem_vma_bit_38_is_vm_uffd_minor() -> None:
    findings = check_uapi.check_patch(gmem(5), TREE)
    (err,) = [f for f in findings if f.severity is Severity.ERROR]
    assert err.file == "include/linux/mm.h"
    assert "bit 38" in err.message and "VM_UFFD_MINOR" in err.message
    assert findings_case("uapi", findings).status is Status.FAIL


def test_gmem_map_peer_shared_sits_in_the_hugetlb_size_field() -> None:
    messages = [f.message for f in check_uapi.check_patch(gmem(5), TREE)]
    assert any("MAP_PEER_SHARED = 0x8000000 (bit 27) overlaps" in m for m in messages)


def test_synthetic_collisions() -> None:
    text = (FIX / "synthetic" / "collisions.patch").read_text()
    findings = check_uapi.check_patch(text, TREE)
    found = errors(findings)
    assert any("frobnicate gets number 460, already used by lsm_set_self_attr" in m for m in found)
    assert "__NR_syscalls is 463 and not bumped, but frobnicate is 463" in found
    assert any(m.startswith("MAP_FROB = 0x40 collides with MAP_32BIT") for m in found)
    assert "changes uapi define MADV_COLLAPSE from 25 to 27" in found
    assert any(
        "bit 39 added as VM_FROB is already used by VM_ALLOW_ANY_UNCACHED_BIT" in m for m in found
    )
    warnings = [f.message for f in findings if f.severity is Severity.WARNING]
    # Only alpha uses 0x200000, and alpha does not include the generic header: a warning.
    assert any(
        m.startswith("MAP_FROB_LATER = 0x200000 collides with MAP_FIXED_NOREPLACE")
        for m in warnings
    )
    assert any("frobnicate gets different numbers" in m for m in warnings)
    assert any("frobnicate is missing from: alpha (syscall); arm64" in m for m in warnings)
    assert any("VM_FROB_ALIAS is already used by VM_ARCH_1" in m for m in warnings)


def test_clean_patch_has_no_findings() -> None:
    text = (FIX / "synthetic" / "clean.patch").read_text()
    assert check_uapi.check_patch(text, TREE) == []


def test_bad_input_gives_no_findings() -> None:
    assert check_uapi.check_patch("", TREE) == []
    assert check_uapi.check_patch("not a patch\n@@ junk", None) == []
    # Without a tree only what the patch says about itself is left.
    (alone,) = check_uapi.check_patch(gmem(4), None)
    assert alone.message.startswith("syscall hmadvise gets different numbers: 457 in arch/arm64")
    assert check_uapi.check_patch(gmem(4), TREE / "missing") == [alone]


def test_c_value() -> None:
    env = {"SHIFT": "26", "ENC": "(21U << SHIFT)", "HIGH": "BIT(HIGH_BIT)", "HIGH_BIT": "38"}
    assert uapi_defines.c_value("ENC", env) == 21 << 26
    assert uapi_defines.c_value("HIGH", env) == 1 << 38
    assert uapi_defines.c_value("_BITUL(63)", {}) == 1 << 63
    assert uapi_defines.c_value("0x08000", {}) == 0x8000
    assert uapi_defines.c_value("UNKNOWN", {}) is None
    assert uapi_defines.c_value("A", {"A": "A"}) is None  # self-reference terminates
    assert uapi_defines.c_value("1 +", {}) is None
