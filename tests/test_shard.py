"""--shard K/N deals the boots out deterministically and completely."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import UserError
from harness.suites import shard
from harness.suites.guest import BuiltSuite


def suite(name: str, *workloads: str) -> BuiltSuite:
    return BuiltSuite(name, Path("/out") / name, workloads)


SUITES = [suite("smoke", "uname"), suite("demo", "read"), suite("gmem", "a", "b", "c")]


def test_parse_accepts_k_of_n_and_refuses_the_rest() -> None:
    assert shard.parse("2/4") == shard.Shard(2, 4)
    for bad in ("0/2", "3/2", "2", "a/b", "1/0"):
        with pytest.raises(UserError, match="K/N"):
            shard.parse(bad)


def test_whole_run_is_every_suite() -> None:
    assert shard.mine(SUITES, ("gmem",), shard.WHOLE) == SUITES


def test_shards_partition_the_units_and_agree_on_the_deal() -> None:
    isolate = ("gmem",)
    dealt = [shard.mine(SUITES, isolate, shard.Shard(k, 2)) for k in (1, 2)]
    units = [shard.units(d, isolate) for d in dealt]
    assert sorted(units[0] + units[1]) == sorted(shard.units(SUITES, isolate))
    assert not set(units[0]) & set(units[1])
    assert [s.name for s in dealt[0]] == ["smoke", "gmem"]
    assert dealt[0][1].workloads == ("a", "c")
    assert dealt[1] == [suite("demo", "read"), suite("gmem", "b")]
    assert dealt == [shard.mine(SUITES, isolate, shard.Shard(k, 2)) for k in (1, 2)]


def test_more_shards_than_units_leaves_some_empty() -> None:
    assert shard.mine(SUITES[:1], (), shard.Shard(2, 3)) == []
