"""Kconfig: fragments merged by merge_config.sh onto allnoconfig, olddefconfig, verify.

Input: kernel source, build dir, fragment paths. Output: a ConfigCase ("kconfig") that
fails naming every requested option olddefconfig dropped, and lists them in
`dropped`. Writes <build>/.config.
Raises UserError for a fragment that does not exist or cannot be read.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from harness import proc, sandbox
from harness.build import config_cache
from harness.cases import Case, Status
from harness.errors import UserError
from harness.readfiles import read_untrusted
from harness.sandbox import Step

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # harness/build/kconfig.py -> the checkout
KCONFIG_DIR = PROJECT_ROOT / "kconfigs"
BASE_FRAGMENT = "virtme-min.config"
MERGED = ".harness-merged.config"  # the fragments merged, before allnoconfig
SET = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
UNSET = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")


@dataclass
class ConfigCase(Case):
    """The kconfig Case; `dropped` names the requested options olddefconfig dropped, so later
    stages (which dependency is off, is it defined on the base) need not re-read the details."""

    dropped: tuple[str, ...] = ()  # option names: CONFIG_X


def find_fragment(name: str, series_dir: Path | None) -> Path:
    """A fragment by path, or by name under the series dir or kconfigs/."""
    candidates = [Path(name)]
    if series_dir is not None:
        candidates.append(series_dir / name)
    candidates += [KCONFIG_DIR / name, KCONFIG_DIR / f"{name}.config"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise UserError(f"kconfig fragment '{name}' not found (looked in {KCONFIG_DIR})")


def parse_options(text: str) -> dict[str, str]:
    """CONFIG_FOO=y / '# CONFIG_FOO is not set' lines -> {name: value}, 'n' for unset."""
    options: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if m := SET.match(line):
            options[m[1]] = m[2]
        elif m := UNSET.match(line):
            options[m[1]] = "n"
    return options


def requested_options(fragments: list[Path]) -> dict[str, str]:
    wanted: dict[str, str] = {}
    for fragment in fragments:
        try:
            wanted.update(parse_options(fragment.read_text()))
        except (OSError, UnicodeDecodeError) as err:
            raise UserError(f"{fragment}: cannot read kconfig fragment ({err})") from None
    return wanted


def config_key(fragments: list[Path]) -> str:
    """Stable id of a config request: the build dir is cached under it."""
    digest = hashlib.sha256()
    for fragment in fragments:
        digest.update(fragment.name.encode() + b"\0" + fragment.read_bytes())
    return digest.hexdigest()[:12]


def dropped_options(wanted: dict[str, str], final: dict[str, str]) -> list[str]:
    """Requested options that did not survive, as 'CONFIG_X=y (got n)' lines."""
    dropped = []
    for name, value in wanted.items():
        got = final.get(name, "n")
        if got != value:
            dropped.append(f"{name}={value} (final .config has {name}={got})")
    return dropped


def configure(src: Path, build: Path, fragments: list[Path], log: Path) -> ConfigCase:
    build.mkdir(parents=True, exist_ok=True)
    made = config_cache.key(src, fragments)
    if config_cache.fresh(build, made):  # same fragments, Kconfig files and toolchain
        return verify(build, fragments, cached=True)
    config_cache.forget(build)
    # What merge_config.sh -n does, in two steps: it keeps its temporary file in its cwd
    # and runs make there, and the tree is read-only. So it only merges (-m), in the build
    # dir; then allnoconfig with the merge forced, so options a fragment makes visible
    # (INET once NET=y, ...) stay off instead of taking their defaults.
    merged = build / MERGED
    steps = [
        [
            str(src / "scripts/kconfig/merge_config.sh"),
            "-m",
            "-O",
            str(build),
            *map(str, fragments),
        ],
        ["mv", str(build / ".config"), str(merged)],
        ["make", "-s", "-C", str(src), f"O={build}", f"KCONFIG_ALLCONFIG={merged}", "allnoconfig"],
        ["make", "-s", "-C", str(src), f"O={build}", "olddefconfig"],
    ]
    box = sandbox.for_step(Step.KCONFIG, writes={"build": (build,)}, reads=(src, *fragments))
    for argv in steps:
        result = proc.run(argv, cwd=build, log=log, timeout=300, box=box)
        if result.denied or not result.ok:
            failed = f"{Path(argv[0]).name} failed{proc.out_of_space(build)}"
            return ConfigCase(
                "kconfig",
                Status.FAIL if result.denied else Status.ERROR,
                f"{failed}: {sandbox.stopped(result.denied)}" if result.denied else failed,
                details=result.output[-4000:],
            )
    config_cache.remember(build, made)
    return verify(build, fragments)


def verify(build: Path, fragments: list[Path], cached: bool = False) -> ConfigCase:
    """The requested options against the final .config: each one dropped fails the case."""
    final = parse_options((read_untrusted(build / ".config") or b"").decode(errors="replace"))
    wanted = requested_options(fragments)
    dropped = dropped_options(wanted, final)
    names = ", ".join(f.name for f in fragments)
    props = {"fragments": names, "merged": "cached: nothing it reads changed" if cached else "now"}
    if dropped:
        dropped_names = tuple(n for n, v in wanted.items() if final.get(n, "n") != v)
        return ConfigCase(
            "kconfig",
            Status.FAIL,
            f"{len(dropped)} requested option(s) dropped by olddefconfig: "
            + ", ".join(dropped_names),
            details="\n".join(dropped),
            properties=props,
            dropped=dropped_names,
        )
    enabled = sum(1 for v in final.values() if v in ("y", "m"))
    return ConfigCase(
        "kconfig",
        Status.PASS,
        f"{enabled} options enabled; all requested kept",
        properties={**props, "enabled": str(enabled)},
    )
