"""Conformance cases for kerasreg.schedules."""

from kerasreg.testing.registry import Case, register  # noqa: F401
