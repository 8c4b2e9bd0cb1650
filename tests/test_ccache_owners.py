"""Whose ccache and build dir a build uses: a series' build never writes what the base or
another series reads (build/ccache.py), and the shared cache is primed from the bare base
once per base and config (build/prime.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import PROJECT, REAL_TREE, needs_real_tree

from harness.build import ccache, make, prime
from harness.cases import Case, Status
from harness.intake.series import load_one
from harness.tree import slots

BUILD = Path("/c/slots/debian-6.12-0/builds/abc-s123")


def test_a_series_build_reads_the_shared_cache_and_writes_only_its_own() -> None:
    mine = ccache.for_build(BUILD, "s123")
    assert mine.local == Path("/c/ccache/s123") and mine.shared == Path("/c/ccache/shared")
    assert mine.writes == (mine.local,) and mine.reads == (mine.shared,)
    env = mine.env("redis://ci:6379")
    assert env["CCACHE_DIR"] == "/c/ccache/s123"
    assert env["CCACHE_REMOTE_STORAGE"] == (
        "file:/c/ccache/shared|read-only redis://ci:6379|read-only"
    )


def test_the_bare_base_writes_the_shared_cache_and_the_user_s_remote() -> None:
    base = ccache.for_build(BUILD, ccache.TRUSTED)
    assert set(base.writes) == {base.local, base.shared} and base.reads == ()
    assert base.env("")["CCACHE_REMOTE_STORAGE"] == "file:/c/ccache/shared"


def test_the_build_sandbox_binds_the_shared_cache_read_only_for_a_series() -> None:
    spec = make.BuildSpec(Path("/c/slots/t-0/tree"), BUILD, 2, owner="s123")
    box = make.sandbox_for(spec)
    assert Path("/c/ccache/shared") in box.readable
    assert Path("/c/ccache/shared") not in box.writable
    assert Path("/c/ccache/s123") in box.writable and Path("/c/slots/t-0/tree") not in box.writable
    trusted = make.sandbox_for(dataclasses.replace(spec, owner=ccache.TRUSTED))
    assert Path("/c/ccache/shared") in trusted.writable


def test_one_owner_per_series_the_same_for_its_prefixes() -> None:
    demo = load_one(PROJECT / "patches/fixtures/demo")
    other = load_one(PROJECT / "patches/fixtures/boot-panic")
    assert ccache.owner_of(demo) != ccache.owner_of(other)
    prefix = dataclasses.replace(demo, patches=demo.patches[:1])
    assert ccache.owner_of(prefix) == ccache.owner_of(demo)
    assert ccache.owner_of(None) == ccache.TRUSTED
    assert ccache.owner_suffix(ccache.owner_of(demo)) != ccache.owner_suffix(ccache.TRUSTED)


def configure_to(text: str) -> Callable[..., Case]:
    """A stand-in for kconfig.configure that writes this .config."""

    def configure(src: Path, build: Path, fragments: list[Path], log: Path) -> Case:
        build.mkdir(parents=True, exist_ok=True)
        (build / ".config").write_text(text)
        return Case("kconfig")

    return configure


def test_fragments_that_configure_the_base_alike_prime_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A series' KUnit fragment names an option the bare base lacks: the base's .config
    comes out as the default one's, whose objects the shared ccache holds already."""
    built: list[make.BuildSpec] = []
    monkeypatch.setattr(
        prime.make,
        "build",
        lambda spec, log, name: built.append(spec) or make.BuildResult(Case(name), tmp_path),
    )
    kunit = tmp_path / "kunit.config"
    kunit.write_text("CONFIG_SERIES_OWN_TEST=y\n")
    slot = slots.take(tmp_path / "cache", "t")
    try:
        monkeypatch.setattr(prime.kconfig, "configure", configure_to("CONFIG_X=y\n"))
        prime.prime(slot, "f" * 40, [], 2, tmp_path / "log")
        same = prime.prime(slot, "f" * 40, [kunit], 2, tmp_path / "log")
        assert not prime.needed_at(slot, [kunit], "f" * 40)
        monkeypatch.setattr(prime.kconfig, "configure", configure_to("CONFIG_Y=y\n"))
        other = tmp_path / "other.config"
        other.write_text("CONFIG_Y=y\n")
        prime.prime(slot, "f" * 40, [other], 2, tmp_path / "log")
    finally:
        slot.release()
    assert same is not None and "already primed" in same.message
    assert len(built) == 2  # the default config, and the one that differs


def test_the_shared_cache_is_primed_once_per_base_and_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[make.BuildSpec] = []
    kernel = tmp_path / "bzImage"
    monkeypatch.setattr(prime.kconfig, "configure", configure_to("CONFIG_X=y\n"))
    monkeypatch.setattr(
        prime.make,
        "build",
        lambda spec, log, name: built.append(spec) or make.BuildResult(Case(name), kernel),
    )
    demo = load_one(PROJECT / "patches/fixtures/demo")
    slot = slots.take(tmp_path / "cache", "t")
    try:
        assert prime.needed(demo, slot, [], "f" * 40)
        first = prime.prime(slot, "f" * 40, [], 2, tmp_path / "log")
        assert not prime.needed(demo, slot, [], "f" * 40)
        again = prime.prime(slot, "f" * 40, [], 2, tmp_path / "log")
        assert prime.needed(demo, slot, [], "e" * 40)  # another base
    finally:
        slot.release()
    assert first is not None and first.status is Status.PASS and again is None
    (spec,) = built
    # The slot's own worktree: the compiler sees the paths a series' build there sees.
    assert spec.owner == ccache.TRUSTED and spec.src == slot.worktree
    assert spec.build.name.endswith(ccache.owner_suffix(ccache.TRUSTED))


def test_priming_pays_off_unless_the_series_changes_a_shared_header() -> None:
    assert prime.pays_off(load_one(PROJECT / "patches/fixtures/demo"))
    gmem = load_one(PROJECT / "patches/gmem-rfc-v1-6.12")
    assert not prime.pays_off(gmem)  # include/linux/gmem.h, mm_types.h, ...
    assert not prime.pays_off(dataclasses.replace(gmem, patches=()))
    assert prime.SHARED_HEADER.match("arch/x86/include/asm/pgtable.h")
    assert not prime.SHARED_HEADER.match("mm/internal.h")


@needs_real_tree
def test_the_kunit_fragment_configures_the_bare_base_as_the_default_config(
    tmp_path: Path,
) -> None:
    """The fragment discovery writes for a series' own KUnit test names options the bare
    base lacks and the menu it lives under, which the default config turns on: the base
    comes out with the same .config, so priming it again is skipped."""
    from harness.build import kconfig

    default = kconfig.find_fragment("virtme-min.config", None)
    kunit = tmp_path / "discovered.config"
    kunit.write_text("CONFIG_KUNIT=y\nCONFIG_RUNTIME_TESTING_MENU=y\nCONFIG_SERIES_OWN_TEST=y\n")
    configs = []
    for name, fragments in (("plain", [default]), ("kunit", [default, kunit])):
        build = tmp_path / name
        kconfig.configure(REAL_TREE, build, fragments, tmp_path / f"{name}.log")
        configs.append((build / ".config").read_text())
    assert configs[0] == configs[1]
