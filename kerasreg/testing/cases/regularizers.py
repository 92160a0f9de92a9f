"""Conformance cases for kerasreg.regularizers."""

from kerasreg.testing.registry import Case, register  # noqa: F401
