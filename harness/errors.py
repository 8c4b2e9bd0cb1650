"""The two families of harness failures (kernel failures are results, not errors).

UserError: bad input or usage -> exit 2. EnvError: the machine lacks something -> exit 3.
Only cli.main turns them into one line on stderr.
Interrupted: a signal (SIGINT/SIGTERM/SIGHUP) -> exit 128 + signum.
"""

import signal


class HarnessError(Exception):
    exit_status = 1


class UserError(HarnessError):
    """The series, its series.yaml or the command line is wrong."""

    exit_status = 2


class EnvError(HarnessError):
    """A tool or package is missing; the message says how to install it."""

    exit_status = 3


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP arrived: unwinds like Ctrl-C, so every cleanup path
    that kills child process groups runs; cli.main exits 128 + signum."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def interrupt_message(err: KeyboardInterrupt) -> str:
    """What the "interrupted" Case says: which signal stopped the run."""
    signum = getattr(err, "signum", signal.SIGINT)
    if signum == signal.SIGINT:
        return "interrupted by the user (Ctrl-C)"
    return f"interrupted by {signal.Signals(signum).name}"


def interrupt_status(err: KeyboardInterrupt) -> int:
    """The shell's convention: 128 + the signal number (130 for Ctrl-C)."""
    return 128 + int(getattr(err, "signum", signal.SIGINT))
