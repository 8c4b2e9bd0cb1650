"""The guest a boot gets when neither the command line nor series.yaml says otherwise.

Its own module so `harness --help` can name the defaults without importing the boot
machinery (pexpect, proc): help stays fast.
"""

# One vCPU: on the 2-core TCG host, the GMEM port's 17 boots took 270 s as two 1-vCPU
# guests at once against 777 s as one 2-vCPU guest after another (both with ACPI, so the
# second CPU was real; bench/bench.py's vcpus figure, docs/measurements.md). Give a
# guest more with --cpus or series.yaml's cpus, and CONFIG_ACPI (kconfigs/acpi.config).
DEFAULT_CPUS = 1
DEFAULT_MEMORY = "1G"
DEFAULT_TIMEOUT = 600  # seconds per boot
