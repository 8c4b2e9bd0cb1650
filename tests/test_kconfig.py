from __future__ import annotations

from pathlib import Path

import pytest

from harness.build import kconfig
from harness.errors import UserError


def test_parse_options_reads_set_and_unset() -> None:
    text = 'CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C="x y"\n# comment\nCONFIG_D=m\n'
    assert kconfig.parse_options(text) == {
        "CONFIG_A": "y",
        "CONFIG_B": "n",
        "CONFIG_C": '"x y"',
        "CONFIG_D": "m",
    }


def test_dropped_options_names_each_with_final_value() -> None:
    wanted = {"CONFIG_GMEM": "y", "CONFIG_KASAN": "y", "CONFIG_DEBUG_VM": "n", "CONFIG_X": "y"}
    final = {"CONFIG_GMEM": "y", "CONFIG_KASAN": "n", "CONFIG_DEBUG_VM": "y"}
    assert kconfig.dropped_options(wanted, final) == [
        "CONFIG_KASAN=y (final .config has CONFIG_KASAN=n)",
        "CONFIG_DEBUG_VM=n (final .config has CONFIG_DEBUG_VM=y)",
        "CONFIG_X=y (final .config has CONFIG_X=n)",
    ]


def test_unset_and_absent_are_the_same() -> None:
    assert kconfig.dropped_options({"CONFIG_A": "n"}, {}) == []


def test_fragments_are_found_by_name_and_config_key_follows_content(tmp_path: Path) -> None:
    base = kconfig.find_fragment("virtme-min.config", None)
    assert base.parent == kconfig.KCONFIG_DIR
    mine = tmp_path / "extra.config"
    mine.write_text("CONFIG_A=y\n")
    key1 = kconfig.config_key([base, kconfig.find_fragment("extra.config", tmp_path)])
    mine.write_text("CONFIG_A=n\n")
    key2 = kconfig.config_key([base, mine])
    assert key1 != key2


def test_missing_fragment_is_a_user_error() -> None:
    with pytest.raises(UserError, match="'nope.config' not found"):
        kconfig.find_fragment("nope.config", None)


def test_every_shipped_fragment_parses() -> None:
    for fragment in kconfig.KCONFIG_DIR.glob("*.config"):
        options = kconfig.requested_options([fragment])
        assert options, fragment
        assert all(name.startswith("CONFIG_") for name in options)


def test_the_users_fragment_comes_after_the_generated_one(tmp_path: Path) -> None:
    """`--kconfig` has the last word: CONFIG_X_KUNIT_TEST=m must beat the generated =y."""
    from harness import pipeline
    from harness.intake.series import Series, SeriesConfig

    mine = tmp_path / "modular.config"
    mine.write_text("CONFIG_UNICODE=m\n")
    generated = tmp_path / "discovered.config"
    generated.write_text("CONFIG_UNICODE=y\n")
    series = Series("s", tmp_path / "s.mbox", (), None, SeriesConfig(kconfig=("gmem.config",)), "")
    opts = pipeline.TestOptions(argv=[], out=tmp_path, cache=tmp_path, kconfig=(str(mine),))
    names = [p.name for p in pipeline.fragments_for(series, opts, generated)]
    assert names == ["virtme-min.config", "gmem.config", "discovered.config", "modular.config"]
    requested = kconfig.requested_options(pipeline.fragments_for(series, opts, generated))
    assert requested["CONFIG_UNICODE"] == "m"
