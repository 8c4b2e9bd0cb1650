"""The guest a boot gets when neither the command line nor series.yaml says otherwise.

Its own module so `harness --help` can name the defaults without importing the boot
machinery (pexpect, proc): help stays fast.
"""

DEFAULT_CPUS = 2
DEFAULT_MEMORY = "1G"
DEFAULT_TIMEOUT = 600  # seconds per boot
