"""harness: apply, build, boot and test a kernel patch series; report as JUnit."""

__version__ = "0.1.0"
