"""A series cannot change how `harness check` judges it: checkpatch runs on every patch from
the base tree, so patch 1's edit of scripts/checkpatch.pl neither runs nor whitewashes
patch 2, and the patch that edits a script harness runs gets a finding naming it.

The tree is a tiny git repo with a ten-line checkpatch.pl (an added line with BAD in it is
an ERROR); the build is faked, checkpatch is run for real (perl)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git, make_series
from test_check_honest import _fake_build

from harness.cases import Status
from harness.intake import series
from harness.review import check, harness_scripts
from harness.review.checker_findings import Severity

MINI_CHECKPATCH = r"""#!/usr/bin/perl
# what the harness needs of checkpatch: ERROR items and the total line
my ($n, $e) = (0, 0);
open(my $mail, '<', $ARGV[-1]) or die "no mail";
while (<$mail>) {
	$n++;
	if (/^\+.*BAD/) { print "ERROR:BAD_LINE: a bad line\n#$n: $_\n"; $e++; }
}
print "total: $e errors, 0 warnings, 0 checks, $n lines checked\n";
"""


def _whitewash(marker: Path) -> str:
    """Patch 1's checkpatch.pl: leaves a mark, and passes whatever it is given."""
    return (
        f"open(my $m, '>', '{marker}'); print $m \"ran\\n\"; close($m);\n"
        'print "total: 0 errors, 0 warnings, 0 checks, 1 lines checked\\n"; exit 0;\n'
    )


def test_a_patched_checkpatch_neither_runs_nor_passes_the_later_patches(
    tiny_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tiny_repo / "scripts").mkdir()
    (tiny_repo / "scripts/checkpatch.pl").write_text(MINI_CHECKPATCH)
    git(tiny_repo, "add", "-A")
    git(tiny_repo, "commit", "-q", "-m", "checkpatch")
    monkeypatch.setattr(check.make, "build", _fake_build)
    monkeypatch.setattr(check.kconfig, "configure", lambda *a: check.kconfig.ConfigCase("k"))
    monkeypatch.setattr(
        check.compiler_warnings, "build_objects", lambda *a: check.compiler_warnings.ObjectBuild()
    )
    marker = tmp_path / "patched-checkpatch-ran"
    hostile = ("scripts/checkpatch.pl", "my ($n, $e)", _whitewash(marker) + "my ($n, $e)")
    bad = ("mm/mmap.c", "int line3;", "int line3; int BAD;")
    out = make_series(tiny_repo, tmp_path / "s", [hostile, bad])
    opts = check.CheckOptions(["check"], tmp_path / "runs", tmp_path / "cache", tree=tiny_repo)
    run = check.check_series(series.load(out)[0], opts)
    first, second = (
        {c.name: c for c in suite.children} for suite in run.suites if suite.name[:4].isdigit()
    )
    assert not marker.exists()  # the patched checkpatch.pl never ran
    assert second["checkpatch"].status is Status.FAIL, second["checkpatch"]
    assert "BAD_LINE" in second["checkpatch"].message
    assert "edits scripts/checkpatch.pl, which harness runs" in first["hygiene"].details
    assert "base tree's copy" in first["hygiene"].details
    assert "checkpatch.pl" not in second["hygiene"].details


def test_only_the_scripts_harness_runs_get_a_finding() -> None:
    found = harness_scripts.findings(
        ["mm/Makefile", "scripts/checkpatch.pl", "scripts/kconfig/merge_config.sh", "mm/mmap.c"]
    )
    assert [(f.file, f.severity) for f in found] == [
        ("scripts/checkpatch.pl", Severity.WARNING),
        ("scripts/kconfig/merge_config.sh", Severity.INFO),
    ]
    assert "in the sandbox" in found[1].message


def test_check_takes_the_slot_with_a_warm_build_of_its_config(
    tiny_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[str] = []
    take = check.slots.take

    def spy(cache: Path, tag: str, key: str = "") -> check.slots.Slot:
        taken.append(key)
        return take(cache, tag, key)

    monkeypatch.setattr(check.slots, "take", spy)
    monkeypatch.setattr(check.make, "build", _fake_build)
    monkeypatch.setattr(check.kconfig, "configure", lambda *a: check.kconfig.ConfigCase("k"))
    out = make_series(tiny_repo, tmp_path / "s", [("mm/mmap.c", "int line3;", "int line3x;")])
    opts = check.CheckOptions(["check"], tmp_path / "runs", tmp_path / "cache", tree=tiny_repo)
    one = series.load(out)[0]
    check.check_series(one, opts)
    owner = check.ccache.owner_suffix(check.ccache.owner_of(one))
    assert taken == [check.kconfig.config_key(list(check.fragments_of(one, opts))) + owner]
