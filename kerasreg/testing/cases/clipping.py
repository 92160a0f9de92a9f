"""Conformance cases for kerasreg.clipping."""

from kerasreg.testing.registry import Case, register  # noqa: F401
