"""Suites: the tests run in the guest (guest-tests, KUnit, kselftest), the tests a series brings,
and the KTAP they print.
"""
