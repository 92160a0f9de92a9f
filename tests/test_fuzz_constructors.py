"""Property-based bad-input tests over every constructor in the conformance registry.

For every numeric constructor argument of every registered case (numeric:
its example value or its default is an int or float):

* NaN, +-inf, a string and a list are rejected at construction with a
  ValueError or TypeError whose message names the argument;
* every other number (hypothesis draws them; the case's own ``bad`` values,
  0, the negated example and huge values are always tried) is either rejected
  the same way, or accepted -- and then the object survives a config round
  trip with that value.  No other exception type is ever allowed.

The test is generic: a component joins it by joining the registry.  Also:
nothing in kerasreg unpickles or evaluates untrusted data.
"""

import inspect
import math
import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kerasreg.testing.registry import all_cases

pytestmark = pytest.mark.jax_pass

ALWAYS_INVALID = [float("nan"), float("inf"), float("-inf"), "0.3", [0.3]]


def _numeric(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _numeric_params():
    pairs = []
    for case in all_cases():
        kwargs = case.get_kwargs()
        for name, p in inspect.signature(case.cls.__init__).parameters.items():
            if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            example_value = kwargs.get(name, p.default)
            if _numeric(example_value):
                pairs.append(pytest.param(case, name, example_value, id=f"{case.name}-{name}"))
    return pairs


PARAMS = _numeric_params()


def _seeds(case, name, example_value):
    """The case's own bad values for this argument, 0, -example, huge ones."""
    seeds = [0, -example_value, -1, 1e30, -1e30]
    for overrides, argname in case.bad:
        if argname == name and name in overrides and _numeric(overrides[name]):
            seeds.append(overrides[name])
    return seeds


def _check(case, name, value, must_reject):
    try:
        obj = case.make(**{name: value})
    except (ValueError, TypeError) as e:
        assert name in str(e), f"{case.name}({name}={value!r}): message {str(e)!r} does not name `{name}`"
        return
    # Any other exception propagates and fails the test.
    assert not must_reject, f"{case.name}({name}={value!r}) was accepted"
    config = obj.get_config()
    clone = case.cls.from_config(config)
    assert type(clone) is case.cls
    if name in config and isinstance(value, (int, float)) and _numeric(config[name]):
        assert math.isclose(float(config[name]), float(value), rel_tol=1e-6, abs_tol=1e-12), (
            f"{case.name}: config[{name!r}] = {config[name]!r} after constructing with {value!r}"
        )
        assert math.isclose(float(clone.get_config()[name]), float(value), rel_tol=1e-6, abs_tol=1e-12)


def test_registry_has_numeric_arguments():
    assert len(PARAMS) >= 10, "the registry lists too few numeric arguments to fuzz"


@pytest.mark.parametrize("case, name, example_value", PARAMS)
def test_always_invalid_values_are_rejected(case, name, example_value):
    for value in ALWAYS_INVALID:
        _check(case, name, value, must_reject=True)


@pytest.mark.slow
@pytest.mark.parametrize("case, name, example_value", PARAMS)
def test_numbers_are_rejected_by_name_or_round_trip(case, name, example_value):
    for value in _seeds(case, name, example_value):
        _check(case, name, value, must_reject=False)

    is_int = isinstance(example_value, (int, np.integer))
    # float32 numbers: Keras keeps hyperparameters in float32 variables (see
    # test_learning_rate_below_float32_is_rejected for what lies below).
    numbers = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False, width=32)
    if is_int:
        numbers = st.integers(min_value=-10**6, max_value=10**6) | numbers

    @settings(max_examples=3, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(value=numbers)
    @example(value=example_value)
    def fuzz(value):
        _check(case, name, value, must_reject=False)

    fuzz()


def test_learning_rate_below_float32_is_rejected():
    # Keras keeps the rate in float32: 1e-50 would become 0.0 and its config would not load.
    from kerasreg.testing.registry import get_case

    _check(get_case("SGD"), "learning_rate", 1e-50, must_reject=True)


def test_example_arguments_round_trip():
    for case in all_cases():
        obj = case.make()
        clone = case.cls.from_config(obj.get_config())
        assert type(clone) is case.cls, case.name


FORBIDDEN = {
    "pickle": re.compile(r"\bimport\s+(c?pickle|dill|cloudpickle|marshal|shelve)\b|\bpickle\.|allow_pickle\s*=\s*True"),
    "eval": re.compile(r"(?<![\w.])eval\s*\("),
    "exec": re.compile(r"(?<![\w.])exec\s*\("),
    "unsafe Keras loading": re.compile(r"safe_mode\s*=\s*False|enable_unsafe_deserialization"),
    "yaml.load": re.compile(r"yaml\.(unsafe_)?load\s*\("),
}


def test_library_never_unpickles_or_evaluates():
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kerasreg")
    found = []
    n_files = 0
    for dirpath, _, files in os.walk(root):
        for fname in files:
            if not fname.endswith(".py"):
                continue
            n_files += 1
            path = os.path.join(dirpath, fname)
            with open(path, encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    for what, pattern in FORBIDDEN.items():
                        if pattern.search(line):
                            found.append(f"{os.path.relpath(path, root)}:{lineno}: {what}: {line.strip()}")
    assert n_files > 10
    assert not found, "\n".join(found)


def test_forbidden_patterns_match_what_they_should():
    bad = ["import pickle", "x = pickle.loads(b)", "np.load(p, allow_pickle=True)", "eval(s)",
           "exec(code)", "keras.saving.load_model(p, safe_mode=False)",
           "keras.config.enable_unsafe_deserialization()", "yaml.load(f)"]
    good = ["np.load(p, allow_pickle=False)", "model.evaluate(x)", "self._eval(x)", "obj.exec(q)"]
    for line in bad:
        assert any(p.search(line) for p in FORBIDDEN.values()), line
    for line in good:
        assert not any(p.search(line) for p in FORBIDDEN.values()), line
