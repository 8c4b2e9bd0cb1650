"""`--suite SUITE:W1,W2`: only those workloads of a guest suite, refused before any build
when the suite does not list them, and named on a shared boot's run.sh line."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import pipeline
from harness.errors import UserError
from harness.suites import guest, series_tests


def test_workloads_after_the_suite_are_chosen_in_order_without_repeats() -> None:
    chosen = series_tests.select(("gmem:thp_race,mmap_retry", "gmem:thp_race", "smoke"))
    assert chosen.guest == ("gmem", "smoke")  # one gmem suite, not one per selector
    assert chosen.workloads == {"gmem": ("thp_race", "mmap_retry")}
    assert series_tests.select(("gmem",)).workloads == {}


@pytest.mark.parametrize("bad", ["gmem:mmap_retyr", "gmem:,", "smoke:anything"])
def test_a_workload_the_suite_does_not_list_is_refused(bad: str) -> None:
    # smoke has no workloads list at all: nothing can be chosen from it
    with pytest.raises(UserError, match="no workload"):
        series_tests.select((bad,))


def test_comment_lines_of_the_list_are_not_workloads(tmp_path: Path, monkeypatch) -> None:
    suite = tmp_path / "mine"
    suite.mkdir()
    (suite / "Makefile").write_text("all:\n")
    (suite / "workloads").write_text("# slow ones last\none\n\ntwo\n")
    monkeypatch.setattr(guest, "GUEST_TESTS", tmp_path)
    assert guest.known_workloads("mine", "two,one") == ("two", "one")
    with pytest.raises(UserError, match="no workload slow"):
        guest.known_workloads("mine", "slow")


def test_isolated_boots_only_for_the_chosen_and_shared_boots_name_them() -> None:
    gmem = guest.BuiltSuite("gmem", Path("/out/gmem"), ("mmap_flags", "mmap_retry", "thp_race"))
    smoke = guest.BuiltSuite("smoke", Path("/out/smoke"), ())
    cut = guest.only(gmem, ("thp_race", "mmap_retry"))
    batches = pipeline.boot_batches([smoke, cut], ("gmem",))
    assert batches == [[(smoke, ())], [(cut, ("thp_race",))], [(cut, ("mmap_retry",))]]
    # not isolated: one boot, and run.sh is told which workloads (none given = all of them)
    shared = pipeline.boot_batches([cut], ())
    assert shared == [[(cut, ("thp_race", "mmap_retry"))]]
    assert "run.sh thp_race mmap_retry" in guest.guest_command(shared[0])
    assert guest.only(gmem, ()) is gmem
    assert pipeline.boot_batches([gmem], ()) == [[(gmem, ())]]
