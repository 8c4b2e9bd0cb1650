"""The data of `harness compare`: what one boot measured, and what the comparison concluded.

Input: nothing (types only). Output: frozen dataclasses and enums shared by metrics, stats,
table and html. No I/O, no errors raised.
"""

from __future__ import annotations

import enum
import math
import statistics
from dataclasses import dataclass, field


class Better(enum.Enum):
    """Which direction of a metric is an improvement."""

    HIGHER = "higher"
    LOWER = "lower"


class Side(enum.Enum):
    """A is the base kernel, B the patched one."""

    A = "A"
    B = "B"


class Verdict(enum.Enum):
    """What the boots say about B against A for one metric."""

    BETTER = "better"
    WORSE = "worse"
    SAME = "same"
    INCONCLUSIVE = "inconclusive"
    # Only one side printed the metric: nothing to compare, and not part of the Holm family.
    MISSING = "missing"
    # Its boot-to-boot noise would hide even a large change (stats.py, power.py): shown,
    # but not part of the Holm family.
    UNMEASURABLE = "unmeasurable"


@dataclass(frozen=True)
class Metric:
    """One `# metric:` line of one boot: its inner repetitions."""

    name: str
    unit: str
    better: Better
    samples: tuple[float, ...]

    @property
    def value(self) -> float:
        """The boot's value: the median of its inner repetitions (the boot is the replicate)."""
        return float(statistics.median(self.samples))


@dataclass(frozen=True)
class SlabDelta:
    """One `# slab:` line: how much one slab cache grew during one metadata scenario."""

    scenario: str
    cache: str
    bytes: int
    objs: int


@dataclass(frozen=True)
class LockClass:
    """One `# lock:` line: one lock class in one serialization scenario of one boot."""

    scenario: str  # SCEN.MODE, e.g. anon4k.threads
    name: str  # lockdep's class name, without its "#N" and "/N" suffixes
    acq_per_op: float  # exclusive acquisitions per operation
    shared_pct: float  # of them, on instances two tasks on disjoint memory both took
    hold_ns_per_op: float  # exclusive hold time per operation
    serial_pct: float  # shared_pct x hold time, in % of the operation's time


@dataclass(frozen=True)
class ParseWarning:
    """A line that looked like ours but could not be used, and why."""

    line_no: int
    reason: str
    text: str


@dataclass(frozen=True)
class BootSample:
    """Everything one boot of one side produced."""

    side: Side
    index: int
    metrics: dict[str, Metric]
    slabs: tuple[SlabDelta, ...] = ()
    info: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    qemu_cmdline: str = ""
    console: str = ""
    ok: bool = True
    reason: str = ""
    warnings: tuple[ParseWarning, ...] = ()
    kvm_failed: str = ""  # KVM failed this guest and it was booted again under TCG
    locks: tuple[LockClass, ...] = ()


@dataclass(frozen=True)
class MetricResult:
    """One metric compared across the boots of both sides. Percentages are of A's median."""

    name: str
    unit: str
    better: Better
    a_values: tuple[float, ...]
    b_values: tuple[float, ...]
    median_a: float
    median_b: float
    change_pct: float
    ci95_pct: tuple[float, float]
    p: float
    p_holm: float
    stdev_a: float
    stdev_b: float
    cv_a: float
    cv_b: float
    verdict: Verdict
    boots_needed: int | None
    mde_pct: float
    # Holm-adjusted p of the equivalence test (SAME when < alpha); p and p_holm are those
    # of the worse/better test against the threshold.
    p_same: float = math.nan

    @property
    def n_a(self) -> int:
        return len(self.a_values)

    @property
    def n_b(self) -> int:
        return len(self.b_values)


@dataclass(frozen=True)
class SlabResult:
    """One slab cache in one metadata scenario: median growth per side over the boots."""

    scenario: str
    cache: str
    median_bytes_a: float
    median_bytes_b: float
    pages: int | None

    @property
    def delta_bytes(self) -> float:
        return self.median_bytes_b - self.median_bytes_a

    @property
    def bytes_per_page_a(self) -> float | None:
        return None if not self.pages else self.median_bytes_a / self.pages

    @property
    def bytes_per_page_b(self) -> float | None:
        return None if not self.pages else self.median_bytes_b / self.pages

    @property
    def delta_per_page(self) -> float | None:
        return None if not self.pages else self.delta_bytes / self.pages


@dataclass(frozen=True)
class ExcludedBoot:
    """A boot left out of the statistics (ok=False), kept so the report can say why."""

    side: Side
    index: int
    reason: str


@dataclass(frozen=True)
class Comparison:
    """The whole answer of `harness compare`, ready for table.py and html.py."""

    results: tuple[MetricResult, ...]
    slabs: tuple[SlabResult, ...]
    meta: dict[str, str]
    threshold_pct: float
    alpha: float
    n_a: int
    n_b: int
    # Size of the Holm family: the measurable metrics that both sides printed.
    family_size: int
    excluded: tuple[ExcludedBoot, ...] = ()
