"""What failed in one run, and whether that is the failure a bisection looks for.

Input: the top-level Cases one `harness test` run leaves (apply, kconfig, build, boot X,
console X, the suites) and a `--bad-when` predicate. Output: an Observation (every
failure's signature, or why the machine failed) and, through Predicate.judge, a search
Outcome: BAD, GOOD, SKIP (failed some other way) or INFRA. Writes nothing. Raises
UserError for a malformed --bad-when.

A signature is what stays the same when the same bug happens again: the build error's
file, line and message, the console incident's kind and normalised title
("warning: WARNING: CPU: N PID: N at init/main.c:1513 harness_warn_init"), the failing
test's path. Two signatures match when they are equal once line numbers are dropped, so
a patch that moves the line of the same error does not turn it into another failure.
"""

from __future__ import annotations

import enum
import fnmatch
import re
from dataclasses import dataclass, field

from harness.bisection.search import Kind, Outcome
from harness.boot.console import Incident
from harness.boot.console import Kind as IncidentKind
from harness.build.make import DIAGNOSTIC
from harness.cases import Case
from harness.errors import UserError

# vm.classify's reasons for a boot that never reached the kernel, or produced nothing:
# the machine's fault, not the kernel's.
INFRA_REASONS = re.compile(r"^(QEMU/vng failed before the kernel ran|vng exited )")
LINE_NUMBER = re.compile(r"(\.[chS]|\.rs):\d+(?::\d+)?")
# A kernel built with O= prints its sources relative to the build dir (../../tree/fs/proc/x.c,
# or a slot's path: /c/slots/debian-6.12-1/tree/...; worktrees/debian-6.12-1/ in older
# caches): the slot must not make another failure.
WORKTREE_PREFIX = re.compile(r"(?:\S*/)?(?:worktrees/[^/\s]+|(?<![^\s/])tree)/")


class Stage(enum.Enum):
    """Where a failure happened; earlier stages hide later ones."""

    APPLY = "apply"
    CONFIG = "config"
    BUILD = "build"
    CRASH = "crash"  # a console incident: panic, oops, BUG, WARNING, KASAN, ...
    BOOT = "boot"  # the guest command did not run to its end
    TEST = "test"


@dataclass(frozen=True)
class Failure:
    stage: Stage
    signature: str
    excerpt: str = ""  # the compiler's error lines, the console report
    # "SUITE/WORKLOAD" when one workload of a suite showed it, else ''. Not part of the
    # failure's identity: the same oops in two workloads is one failure.
    where: str = field(default="", compare=False)

    @property
    def key(self) -> str:
        return match_key(self.signature)


@dataclass(frozen=True)
class Observation:
    failures: tuple[Failure, ...] = ()
    infra: str = ""  # why the machine failed; '' when it did not
    seconds: float = 0.0

    @property
    def first(self) -> Failure | None:
        return self.failures[0] if self.failures else None


def match_key(signature: str) -> str:
    return LINE_NUMBER.sub(r"\1", signature)


def observe(suites: list[Case]) -> Observation:
    """The failures of one run's top-level Cases, in stage order."""
    failures: list[Failure] = []
    infra = ""
    for suite in suites:
        if not suite.status.is_bad:
            continue
        if suite.name.startswith("boot ") and _is_infra(suite):
            infra = infra or suite.message
            continue
        failures += _failures_of(suite)
    seconds = sum(s.seconds for s in suites)
    ordered = sorted(failures, key=lambda f: list(Stage).index(f.stage))
    return Observation(tuple(dict.fromkeys(ordered)), infra, seconds)


def _is_infra(boot: Case) -> bool:
    """QEMU did not start, or a timeout with no console output at all."""
    silent_timeout = boot.message.startswith("timed out") and not boot.details.strip()
    return bool(INFRA_REASONS.match(boot.message)) or silent_timeout


def _failures_of(suite: Case) -> list[Failure]:
    name = suite.name
    if name == "apply":
        bad = [c for c in suite.children if c.status.is_bad]
        return [Failure(Stage.APPLY, f"apply: {c.name}: {c.message}") for c in bad]
    if name == "kconfig":
        return [Failure(Stage.CONFIG, f"config: {suite.message}", suite.details)]
    if name == "build":
        return [Failure(Stage.BUILD, build_signature(suite.message), suite.details)]
    if name.startswith("console "):
        return [_incident_failure(c) for c in suite.children if c.status.is_bad]
    if name.startswith("boot "):
        return [Failure(Stage.BOOT, f"boot: {_boot_reason(suite.message)}", suite.details)]
    if any(c.name.startswith("build ") and c.status.is_bad for c in suite.children):
        return [Failure(Stage.BUILD, f"build {name}: {suite.message}", suite.details)]
    return [
        Failure(Stage.TEST, f"test: {path}", leaf.details, _workload_of(path))
        for path, leaf in failing_tests(suite)
        if not leaf.placeholder
    ]


def _workload_of(where: str) -> str:
    """The "SUITE/WORKLOAD" of a test's path or a console incident's workload
    (boot/console.workload_at), when it names both."""
    parts = where.split("/")
    return "/".join(parts[:2]) if len(parts) >= 2 and all(parts[:2]) else ""


def build_signature(headline: str) -> str:
    """'build: mm/mmap.c:63: error: ...' from make's headline (the column dropped)."""
    m = DIAGNOSTIC.match(headline)
    if m is None:
        return f"build: {headline}"
    return f"build: {m['file']}:{m['line']}: {m['kind']}: {m['msg']}"


def _incident_failure(case: Case) -> Failure:
    kind = IncidentKind[case.properties.get("kind", "BUG")]
    title = WORKTREE_PREFIX.sub("", Incident(kind, case.message, "", 0).signature)
    workload = _workload_of(case.properties.get("workload", ""))
    return Failure(Stage.CRASH, f"{kind.value}: {title}", case.details, workload)


def _boot_reason(reason: str) -> str:
    """A boot's reason without the seconds and the console it quotes."""
    return re.sub(r"\d+s\b", "Ns", reason.split("; console:")[0])


def failing_tests(suite: Case, prefix: str = "") -> list[tuple[str, Case]]:
    path = f"{prefix}/{suite.name}" if prefix else suite.name
    if not suite.children:
        return [(path, suite)] if suite.status.is_bad else []
    found = [found for child in suite.children for found in failing_tests(child, path)]
    return [*found, (path, suite)] if suite.fails_on_its_own else found


@dataclass
class Predicate:
    """`--bad-when`: same (the bad end's first failure), build, boot, crash, test:GLOB,
    failure:SIGNATURE (that one failure, as `observe` signs it; line numbers aside),
    metric:NAME. `target` is the signature `same` learns from the bad end."""

    kind: str
    pattern: str = ""
    target: str = ""
    seen: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.kind == "same":
            return f"the bad end's failure ({self.target})" if self.target else "the bad end's"
        return f"{self.kind}:{self.pattern}" if self.pattern else self.kind

    @property
    def build_only(self) -> bool:
        """No boot needed to judge a candidate that built: the failure is a build's."""
        signed = self.target if self.kind == "same" else self.pattern
        return self.kind == "build" or (
            self.kind in ("same", "failure") and signed.startswith(("build", "config"))
        )

    def judge(self, seen: Observation) -> Outcome:
        if self.build_only:  # what the boot did says nothing about a build failure
            early = (Stage.APPLY, Stage.CONFIG, Stage.BUILD)
            seen = Observation(
                tuple(f for f in seen.failures if f.stage in early), "", seen.seconds
            )
        if seen.infra and not seen.failures:
            return Outcome(Kind.INFRA, seen.infra, seen.seconds)
        matching = [f for f in seen.failures if self._matches(f)]
        if matching:
            if self.kind in ("same", "failure") and not self.target:
                self.target = matching[0].signature
            return Outcome(Kind.BAD, matching[0].signature, seen.seconds)
        if seen.failures:
            return Outcome(Kind.SKIP, seen.failures[0].signature, seen.seconds)
        if seen.infra:
            return Outcome(Kind.INFRA, seen.infra, seen.seconds)
        return Outcome(Kind.GOOD, "", seen.seconds)

    def _matches(self, failure: Failure) -> bool:
        if self.kind == "same":
            return failure.key == match_key(self.target) if self.target else True
        if self.kind == "failure":
            return failure.key == match_key(self.pattern)
        if self.kind == "build":
            return failure.stage is Stage.BUILD
        if self.kind == "crash":
            return failure.stage is Stage.CRASH
        if self.kind == "boot":
            return failure.stage in (Stage.BOOT, Stage.CRASH) and _stops_boot(failure)
        if self.kind == "test":
            path = failure.signature.removeprefix("test: ")
            return failure.stage is Stage.TEST and fnmatch.fnmatchcase(path, self.pattern)
        return False  # metric: perf mode's oracle decides (bisection/perf.py)


def _stops_boot(failure: Failure) -> bool:
    """A panic, an oops or a BUG kills the boot; a WARNING alone does not."""
    if failure.stage is Stage.BOOT:
        return True
    return failure.signature.split(":")[0] in ("panic", "oops", "bug")


PREDICATES = ("same", "build", "boot", "crash", "test", "failure", "metric")
NEEDS = {"test": "GLOB", "failure": "SIGNATURE", "metric": "NAME"}


def parse_predicate(text: str) -> Predicate:
    """--bad-when: 'build', 'boot', 'crash', 'test:GLOB', 'failure:SIGNATURE',
    'metric:NAME' or '' (same)."""
    kind, _, pattern = (text or "same").partition(":")
    if kind not in PREDICATES:
        raise UserError(f"--bad-when {text}: expected one of {', '.join(PREDICATES)}")
    if kind in NEEDS and not pattern:
        raise UserError(f"--bad-when {text}: {kind}: needs a {NEEDS[kind]}")
    if kind not in NEEDS and pattern:
        raise UserError(f"--bad-when {text}: {kind} takes no argument")
    if kind == "metric" and pattern.count(".") < 2:
        raise UserError(
            f"--bad-when {text}: NAME is a compare metric, bench.variant.quantity "
            "(e.g. pf1.thp_never.pages_per_s)"
        )
    # metric:NAME is judged by bisection/perf.py (compare's boots and statistics), not here.
    return Predicate(kind, pattern)
