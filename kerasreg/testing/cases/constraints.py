"""Conformance cases for kerasreg.constraints."""

from kerasreg.testing.registry import Case, register  # noqa: F401
