"""check_api and check_kconfig_features on synthetic patches and the verbatim GMEM mails.

synthetic/internal-api-{1,2}.patch (git diff against a copy of fixtures/check/tree; both
`git apply --check` there): patch 1 adds drivers/frob with __WQ_LEGACY to alloc_workqueue,
a raw ___GFP_ZERO bit and __GFP_SKIP_KASAN, __GFP_NOFAIL | __GFP_NORETRY, two syscalls
(frobnicate never declared, frob_declared declared by patch 2 in include/linux/syscalls.h),
and a FROB symbol (depends on MMU only) whose frob.c reads current->mems_allowed and walks
nodes only under #ifdef CONFIG_NUMA; FROB_NODES depends on FROB && NUMA.
"""

from pathlib import Path

from conftest import REAL_TREE, needs_real_tree

from harness.review import check_api, check_kconfig_features
from harness.review.checker_findings import Severity, render

FIX = Path(__file__).parent / "fixtures" / "check"
TREE = FIX / "tree"
SYN = [(FIX / "synthetic" / f"internal-api-{n}.patch").read_text() for n in (1, 2)]
GMEM = [p.read_text() for p in sorted((FIX / "gmem").glob("000*.patch"))]


def summary(findings: list) -> set[tuple[Severity, str]]:
    return {(f.severity, f.message.split(" ")[0] + " " + f.file) for f in findings}


def test_internal_flags_and_undeclared_syscall_in_the_synthetic_patch() -> None:
    found = check_api.check_patch(SYN[0], TREE, SYN)
    assert summary(found) == {
        (Severity.ERROR, "__WQ_LEGACY drivers/frob/frob_wq.c:12"),
        (Severity.ERROR, "___GFP_ZERO drivers/frob/frob_wq.c:14"),
        (Severity.WARNING, "__GFP_SKIP_KASAN drivers/frob/frob_wq.c:14"),
        (Severity.ERROR, "__GFP_NOFAIL drivers/frob/frob.c:27"),
        (Severity.ERROR, "new drivers/frob/frob.c:25"),
    }
    (syscall,) = [f for f in found if f.message.startswith("new syscall")]
    assert "sys_frobnicate()" in syscall.message  # frob_declared is declared by patch 2


def test_a_declaration_only_the_other_patch_adds_is_missing_without_it() -> None:
    alone = check_api.check_patch(SYN[0], TREE, SYN[:1])
    names = sorted(f.message.split("()")[0] for f in alone if f.message.startswith("new syscall"))
    assert names == ["new syscall sys_frob_declared", "new syscall sys_frobnicate"]


def test_a_syscall_the_tree_declares_is_fine_and_owners_may_use_their_flags() -> None:
    diff = (
        "diff --git a/kernel/workqueue.c b/kernel/workqueue.c\n"
        "--- a/kernel/workqueue.c\n+++ b/kernel/workqueue.c\n@@ -1,1 +1,3 @@\n"
        " int x;\n+\tflags |= __WQ_ORDERED;\n+SYSCALL_DEFINE3(madvise, unsigned long, start,\n"
    )
    assert check_api.check_patch(diff, TREE) == []


def test_a_flag_in_a_comment_after_code_is_still_code_but_a_comment_alone_is_not() -> None:
    diff = (
        "diff --git a/drivers/x.c b/drivers/x.c\n--- a/drivers/x.c\n+++ b/drivers/x.c\n"
        "@@ -1,1 +1,2 @@\n int x;\n+\t// never pass __WQ_LEGACY here\n"
    )
    assert check_api.check_patch(diff, TREE) == []


def test_kconfig_feature_uses_the_depends_does_not_name() -> None:
    found = check_kconfig_features.check_patch(SYN[0], TREE, SYN)
    cpusets, numa = found  # FROB_NODES depends on NUMA: no finding for it
    assert cpusets.severity is Severity.ERROR
    assert cpusets.message.startswith("FROB's code needs CPUSETS but FROB neither depends on")
    uses = ("drivers/frob/frob.c:11: return node_isset(nid, current->mems_allowed);",)
    assert cpusets.lines == uses
    assert numa.severity is Severity.WARNING
    assert numa.message.startswith("FROB's code needs NUMA")
    assert numa.lines == uses  # the for_each_node() under #ifdef CONFIG_NUMA is not one


def test_a_symbol_that_depends_on_the_feature_has_no_finding() -> None:
    fixed = SYN[0].replace("\tdepends on MMU\n", "\tdepends on MMU && CPUSETS && NUMA\n")
    assert fixed != SYN[0]
    assert check_kconfig_features.check_patch(fixed, TREE, [fixed, SYN[1]]) == []


def gmem_findings(tree: Path) -> str:
    parts = []
    for number, text in enumerate(GMEM, 1):
        found = check_api.check_patch(text, tree, GMEM)
        found += check_kconfig_features.check_patch(text, tree, GMEM)
        parts.append(f"== {number}\n{render(found)}")
    return "\n".join(parts)


def test_the_verbatim_gmem_series() -> None:
    text = gmem_findings(TREE)
    per_patch = dict(part.split("\n", 1) for part in text.split("== ")[1:])
    assert "GMEM's code needs CPUSETS" in per_patch["1"]
    assert "error: mm/Kconfig: GMEM's code needs CPUSETS" in per_patch["1"]
    assert "warning: mm/Kconfig: GMEM's code needs NUMA" in per_patch["1"]
    assert per_patch["3"].startswith("error: mm/gmem.c:121: __WQ_LEGACY is internal")
    assert "new syscall sys_hmadvise() has no prototype" in per_patch["4"]
    assert per_patch["2"].strip() == per_patch["5"].strip() == per_patch["6"].strip() == ""


@needs_real_tree
def test_fixture_tree_gives_the_same_findings_as_the_real_tree() -> None:
    assert gmem_findings(REAL_TREE) == gmem_findings(TREE)
