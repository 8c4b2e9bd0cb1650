"""The two families of harness failures (kernel failures are results, not errors).

UserError: bad input or usage -> exit 2. EnvError: the machine lacks something -> exit 3.
Only cli.main turns them into one line on stderr.
"""


class HarnessError(Exception):
    exit_status = 1


class UserError(HarnessError):
    """The series, its series.yaml or the command line is wrong."""

    exit_status = 2


class EnvError(HarnessError):
    """A tool or package is missing; the message says how to install it."""

    exit_status = 3
