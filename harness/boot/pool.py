"""Boots side by side (`harness test --jobs N`): up to N at once, each result handed back
in the boots' own order, so results and stage times read as if they ran one by one.

Input: one callable per boot, taking a stop Event (vm.boot ends its boot, QEMU's group
killed, once it is set), how many may run at once, and a callback for each result.
Output: the callback's calls, in the order of the boots and in the calling (main) thread:
only that thread touches the run dir. Writes nothing itself.
Errors: a signal (KeyboardInterrupt, errors.Interrupted) or a boot's own exception stops
every running boot, waits until each has killed and reaped its processes, then propagates.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
Boot = Callable[[threading.Event | None], T]

MEMINFO = Path("/proc/meminfo")
_SIZE = re.compile(r"(\d+)([KMGT]?)", re.I)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def run_in_order(boots: Sequence[Boot[T]], at_once: int, done: Callable[[int, T], None]) -> None:
    """Run `boots`, `at_once` at a time; done(i, result) in order as each is ready.
    One at a time they run in this thread, as before there were pools: a signal then
    unwinds straight through the boot's console watch."""
    if at_once <= 1 or len(boots) <= 1:
        for i, boot in enumerate(boots):
            done(i, boot(None))
        return
    stop = threading.Event()
    # Threads, not processes: a boot waits on QEMU's console; the work is QEMU's.
    pool = ThreadPoolExecutor(max_workers=at_once, thread_name_prefix="boot")
    try:
        futures: list[Future[T]] = [pool.submit(boot, stop) for boot in boots]
        for i, future in enumerate(futures):
            done(i, future.result())  # a signal interrupts this wait in the main thread
    except BaseException:
        stop.set()  # the running boots kill their QEMU; the queued ones never start
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def at_once(jobs: int, boots: int, guest_memory: str, available: int | None = None) -> int:
    """How many boots may run side by side: at most `jobs`, no more than there are boots,
    and no more guests than the host's available memory holds (at least one)."""
    free = available_memory() if available is None else available
    size = memory_bytes(guest_memory)
    fits = free // size if free and size else jobs
    return max(1, min(jobs, boots, fits))


def memory_bytes(text: str) -> int:
    """vng's --memory ("2G", "512M", "1024": MiB as QEMU reads a bare number) in bytes; 0
    when it cannot be read (then memory sets no limit)."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        return 0
    number, unit = match.groups()
    return int(number) * (_UNITS[unit.upper()] if unit else _UNITS["M"])


def available_memory() -> int:
    """MemAvailable in bytes, 0 when /proc/meminfo does not say."""
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0
