"""Conformance cases for kerasreg.initializers."""

from kerasreg.testing.registry import Case, register  # noqa: F401
