"""The guest a boot gets when neither the command line nor series.yaml says otherwise.

Its own module so `harness --help` can name the defaults without importing the boot
machinery (pexpect, proc): help stays fast.
"""

from pathlib import Path

# One vCPU: on the 2-core TCG host, the GMEM port's 17 boots took 270 s as two 1-vCPU
# guests at once against 777 s as one 2-vCPU guest after another (both with ACPI, so the
# second CPU was real; bench/bench.py's vcpus figure, docs/measurements.md). Give a
# guest more with --cpus or series.yaml's cpus, and CONFIG_ACPI (kconfigs/acpi.config).
DEFAULT_CPUS = 1
DEFAULT_MEMORY = "1G"
DEFAULT_TIMEOUT = 600  # seconds per boot

# Where the guest mounts a fresh filesystem of its own over the host's (virtme-ng's init:
# a tmpfs on /var/tmp; /run, /proc, /sys, /dev): a run directory there, which the guest
# runs its suites from, is empty in the guest, and no suite would ever start.
GUEST_PRIVATE = ("/var/tmp", "/run", "/proc", "/sys", "/dev")


def guest_hidden(path: Path) -> str:
    """The guest-private dir `path` is under ('' when the guest sees it)."""
    resolved = path.absolute().resolve()
    for top in GUEST_PRIVATE:
        if resolved == Path(top) or Path(top) in resolved.parents:
            return top
    return ""
