"""A boot's phases as they happen: the kernel up after X s, suite k/n, and when the tests began.

Input: what vm's console watch matches: the kernel starting init, and the suite markers
guest.py's command writes to /dev/kmsg (so they reach the console). Output: progress
notes, and `boot_seconds` for the stage times (the kernel's boot, up to the first suite;
the rest of the boot is the tests). Writes nothing, raises nothing.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from harness.progress import note

# guest.guest_command's marker as the console shows it (after the kernel's timestamp).
SUITE_BEGIN = re.compile(rb"# harness: suite (\S+) begin")


@dataclass
class Phases:
    label: str  # what the boot runs: "smoke+demo", "gmem:fork"
    suites: int  # how many suites the boot runs: the n of "suite k/n"
    started: float = field(default_factory=time.monotonic)
    kernel_up: float | None = None  # seconds after the start
    tests_began: float | None = None
    seen: list[str] = field(default_factory=list)

    def kernel_running(self) -> None:
        """The console shows the kernel starting init."""
        if self.kernel_up is None:
            self.kernel_up = time.monotonic() - self.started
            note(f"{self.label}: kernel up after {self.kernel_up:.1f}s")

    def suite_began(self, name: bytes) -> None:
        now = time.monotonic() - self.started
        if self.tests_began is None:
            self.tests_began = now
        self.seen.append(name.decode(errors="replace"))
        total = max(self.suites, len(self.seen))
        note(f"{self.label}: suite {len(self.seen)}/{total} {self.seen[-1]} at {now:.1f}s")

    def boot_seconds(self, total: float) -> float:
        """The boot's share of `total`: until the first suite began (else the kernel came up)."""
        mark = self.tests_began if self.tests_began is not None else self.kernel_up
        return min(total, mark) if mark is not None else total
