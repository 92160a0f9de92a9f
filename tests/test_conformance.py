"""The shared conformance suite: every registered component, every promise."""

import pytest

from kerasreg.testing.conformance import CHECKS
from kerasreg.testing.registry import all_cases

pytestmark = pytest.mark.jax_pass

CASES = all_cases()


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_conformance(case, check, tmp_path):
    CHECKS[check](case, tmp_path)


def test_registry_is_not_empty():
    assert len(CASES) >= 1
