"""The tests a series brings: discovery plus `--suite kunit:GLOB` / `kselftest:DIR[/TEST]`,
turned into what the pipeline stages need.

Input: the Series, the suite names asked for (CLI, else series.yaml), the patched tree.
Output: a Plan: guest suites to build, a generated Kconfig fragment (RUN/discovered.config)
when KUnit is wanted, kselftest targets, extra kernel command line. Prints what it found
and why. Raises UserError for a malformed kunit:/kselftest: selector.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.build.kconfig import ConfigCase, parse_options
from harness.cases import Case
from harness.errors import UserError
from harness.intake.series import Series
from harness.readfiles import read_or_empty
from harness.suites import kselftest, kunit
from harness.suites.discover import SELFTESTS, Discovery, discover, listed_programs
from harness.suites.guest import BuiltSuite, known_workloads, suite_dir

FRAGMENT_NAME = "discovered.config"
KUNIT_PREFIX, KSELFTEST_PREFIX = kunit.SUITE_NAME, kselftest.SUITE_NAME
ON_BASE = "kselftest-on-base"  # the series' kselftest build, booted on the base kernel
SELFTEST_PATH = re.compile(r"^[A-Za-z0-9_.+-]+(?:/[A-Za-z0-9_.+-]+)*$")


@dataclass(frozen=True)
class Selection:
    guest: tuple[str, ...] = ()
    kunit_globs: tuple[str, ...] = ()  # "*" for a bare `kunit`
    kselftests: dict[str, tuple[str, ...]] = field(default_factory=dict)
    workloads: dict[str, tuple[str, ...]] = field(default_factory=dict)  # `SUITE:W1,W2`


def select(names: tuple[str, ...]) -> Selection:
    guest: dict[str, None] = {}
    workloads: dict[str, tuple[str, ...]] = {}
    globs: list[str] = []
    selftests: dict[str, list[str]] = {}
    for name in names:
        kind, _, arg = name.partition(":")
        if kind == KUNIT_PREFIX:
            globs.append(arg or "*")
        elif kind == KSELFTEST_PREFIX:
            if not SELFTEST_PATH.match(arg) or ".." in arg.split("/"):
                raise UserError(f"--suite {name}: expected kselftest:DIR or kselftest:DIR/TEST")
            target, _, program = arg.partition("/")
            programs = selftests.setdefault(target, [])
            if program:
                programs.append(program)
        else:
            suite_dir(kind)  # a typo is refused here, not after a kernel build
            guest[kind] = None
            if arg:
                added = workloads.get(kind, ()) + known_workloads(kind, arg)
                workloads[kind] = tuple(dict.fromkeys(added))
    # The kernel's kunit.filter_glob takes one glob: a second one is refused, not dropped.
    real = list(dict.fromkeys(g for g in globs if g != "*"))
    if len(real) > 1:
        given = " and ".join(f"--suite kunit:{g}" for g in real)
        raise UserError(f"{given}: KUnit runs one filter glob per boot; give one")
    kselftests = {t: tuple(p) for t, p in selftests.items()}
    return Selection(tuple(guest), tuple(globs), kselftests, workloads)


@dataclass(frozen=True)
class Plan:
    found: Discovery
    guest: tuple[str, ...]
    fragment: Path | None = None  # generated; None when nothing needs KUnit
    kselftests: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cmdline: tuple[str, ...] = ()
    kunit_expected: bool = True  # False: no KUnit test in this kernel, silence is no error
    on: frozenset[str] = frozenset()  # options the base fragments turn on
    prebuilt: tuple[BuiltSuite, ...] = ()  # suites already built elsewhere, run as they are
    workloads: dict[str, tuple[str, ...]] = field(default_factory=dict)  # `SUITE:W1,W2`

    @property
    def kunit(self) -> bool:
        return self.fragment is not None


def plan(
    series: Series,
    names: tuple[str, ...],
    tree: Path,
    run_dir: Path,
    note: Callable[[str], None],
    base_fragments: tuple[Path, ...] = (),
) -> Plan:
    """Discovery and selection together: explicit kunit:/kselftest: suites win over discovery.
    `base_fragments`: what the build turns on anyway (dependencies need no line of ours)."""
    found = discover(series.patches, tree)
    for why in found.why:
        note(f"series brings {why}")
    chosen = select(names)
    kselftests = chosen.kselftests or found.kselftest_targets
    on = options_on(base_fragments)
    fragment = None
    if chosen.kunit_globs or found.kunit_symbols or found.kunitconfig_files:
        fragment = run_dir / FRAGMENT_NAME
        generated = kunit.fragment(found, tree, on)
        fragment.write_text(generated.text)
        note(f"KUnit config for those tests: {fragment}")
        for line in generated.notes:
            note(f"not turned on by the harness: {line}")
    return Plan(
        found,
        chosen.guest,
        fragment,
        kselftests,
        kunit.cmdline(chosen.kunit_globs) if fragment else (),
        on=on,
        workloads=chosen.workloads,
    )


def options_on(fragments: tuple[Path, ...]) -> frozenset[str]:
    """Symbols set to y or m by these fragments."""
    on = set()
    for path in fragments:
        for name, value in parse_options(read_or_empty(path)).items():
            if value in ("y", "m"):
                on.add(name.removeprefix("CONFIG_"))
    return frozenset(on)


def explain_dropped(case: ConfigCase, plan: Plan, tree: Path, config: Path) -> None:
    """A kconfig FAIL that dropped options the series' tests need: say which dependency is off."""
    dropped = list(case.dropped)
    try:
        final = parse_options(config.read_text())
    except OSError:
        return
    reasons = kunit.explain_dropped(dropped, plan.found, tree, final)
    if reasons:
        case.details = "\n".join([case.details, "", *reasons]).strip()
        case.message += f"; {reasons[0]}"


def build_kselftests(
    plan: Plan, src: Path, bdir: Path, guest_dir: Path, log: Path
) -> tuple[Case, BuiltSuite | None]:
    return kselftest.build(src, bdir, guest_dir / kselftest.SUITE_NAME, plan.kselftests, log)


def kunit_case(plan: Plan, console: str, death: str) -> Case:
    return kunit.console_case(console, death, plan.kunit_expected)


def for_base(
    plan: Plan, base_tree: Path, run_dir: Path, patched_kselftests: Path | None = None
) -> Plan:
    """The same tests on the base tree, minus those the series adds (the base has no such
    Kconfig symbol or selftest program): those show up as `new` in the comparison.
    `patched_kselftests`: the series' own kselftest build, run on the base kernel too
    (ON_BASE): a test that fails there and passes with the series tests the change."""
    kselftests: dict[str, tuple[str, ...]] = {}
    for target, programs in plan.kselftests.items():
        listed = listed_programs(read_or_empty(base_tree / SELFTESTS / target / "Makefile"))
        kept = tuple(p for p in programs if p in listed)
        if kept or not programs:
            kselftests[target] = kept
    fragment, expected = plan.fragment, plan.kunit_expected
    if fragment is not None:
        fragment = run_dir / FRAGMENT_NAME
        text = kunit.fragment(plan.found, base_tree, plan.on, defined_only=True).text
        fragment.write_text(text)
        tests = [f"CONFIG_{s}=y" in text.splitlines() for s in plan.found.kunit_symbols]
        # a .kunitconfig the series adds (unicode's) promises nothing on the base
        kunitconfigs = [p for p in plan.found.kunitconfig_files if (base_tree / p).is_file()]
        expected = any(tests) or bool(kunitconfigs)
    prebuilt: tuple[BuiltSuite, ...] = ()
    if patched_kselftests is not None and (patched_kselftests / "run.sh").is_file():
        prebuilt = (BuiltSuite(ON_BASE, patched_kselftests, ()),)
    return dataclasses.replace(
        plan, fragment=fragment, kselftests=kselftests, kunit_expected=expected, prebuilt=prebuilt
    )
