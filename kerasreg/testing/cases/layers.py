"""Conformance cases for kerasreg.layers."""

from kerasreg.testing.registry import Case, register  # noqa: F401
