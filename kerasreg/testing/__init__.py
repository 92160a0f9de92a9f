"""Testing support: the conformance registry and suite, and a test base."""

from kerasreg.testing.registry import Case, all_cases, get_case, register
from kerasreg.testing.test_case import TestCase, optimizer_trajectory

__all__ = ["Case", "TestCase", "all_cases", "get_case", "optimizer_trajectory", "register"]
