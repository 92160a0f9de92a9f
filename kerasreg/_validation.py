"""Argument validation shared by every kerasreg constructor.

Each checker names the argument, states the valid range and echoes the value,
so that ``Momentum(momentum=1.2)`` fails at construction with
``ValueError: `momentum` must be in [0, 1), got 1.2`` instead of deep inside
tracing.  Numbers are converted with ``float()`` / ``int()`` (so ``momentum=0``
works); booleans, NaN and infinities are rejected unless explicitly allowed.
"""

import math
import numbers

__all__ = ["check_float", "check_int", "check_choice", "check_bool", "check_learning_rate", "check_seed"]


def _bound(x):
    return str(x) if isinstance(x, int) else f"{x:g}"


def _interval(low, high, low_open, high_open):
    left = "(" if low_open or low is None else "["
    right = ")" if high_open or high is None else "]"
    lo = "-inf" if low is None else _bound(low)
    hi = "inf" if high is None else _bound(high)
    return f"{left}{lo}, {hi}{right}"


def check_float(name, value, low=None, high=None, *, low_open=False,
                high_open=False, allow_none=False, allow_inf=False):
    """Return ``float(value)`` if it lies in the interval, else raise.

    Args:
        name: the argument's name, as the user typed it.
        value: the value given.
        low, high: bounds (``None`` for unbounded).
        low_open, high_open: whether the bound itself is excluded.
        allow_none: accept ``None`` and return it.
        allow_inf: accept ``+-inf`` (still subject to the bounds).
    """
    interval = _interval(low, high, low_open, high_open)
    if value is None:
        if allow_none:
            return None
        raise TypeError(f"`{name}` must be a number in {interval}, got None.")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        # numpy scalars are numbers.Real; strings, lists and tensors are not.
        raise TypeError(
            f"`{name}` must be a number in {interval}, got {value!r} "
            f"of type {type(value).__name__}."
        )
    v = float(value)
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        raise ValueError(f"`{name}` must be a finite number in {interval}, got {value!r}.")
    bad = (
        (low is not None and (v < low or (low_open and v == low)))
        or (high is not None and (v > high or (high_open and v == high)))
    )
    if bad:
        raise ValueError(f"`{name}` must be in {interval}, got {value!r}.")
    return v


def check_int(name, value, low=None, high=None, *, allow_none=False):
    """Return ``int(value)`` for an integral value in ``[low, high]``, else raise."""
    interval = _interval(low, high, False, False)
    if value is None:
        if allow_none:
            return None
        raise TypeError(f"`{name}` must be an integer in {interval}, got None.")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"`{name}` must be an integer in {interval}, got {value!r} "
            f"of type {type(value).__name__}."
        )
    if isinstance(value, numbers.Integral):
        v = int(value)
    else:
        f = float(value)
        if not math.isfinite(f) or f != int(f):
            raise ValueError(f"`{name}` must be an integer in {interval}, got {value!r}.")
        v = int(f)
    if (low is not None and v < low) or (high is not None and v > high):
        raise ValueError(f"`{name}` must be an integer in {interval}, got {value!r}.")
    return v


def check_choice(name, value, choices):
    """Return ``value`` if it is one of ``choices``, else raise listing them."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"`{name}` must be one of {listed}; got {value!r}.")
    return value


def check_bool(name, value):
    """Return ``bool(value)`` for a real boolean, else raise."""
    if not isinstance(value, bool):
        # numpy bools are fine too
        try:
            import numpy as np

            if isinstance(value, np.bool_):
                return bool(value)
        except ImportError:  # pragma: no cover
            pass
        raise TypeError(f"`{name}` must be True or False, got {value!r}.")
    return value


FLOAT32_TINY = 1.1754943508222875e-38  # smallest normal float32
FLOAT32_MAX = 3.4028234663852886e38
SEED_MAX = 2**31 - 1


def check_learning_rate(value, name="learning_rate"):
    """A positive number representable in float32, or a schedule / callable.

    Keras keeps the learning rate in a float32 variable: a rate that rounds
    to 0 or to infinity there would silently change (and its saved config
    would no longer load), so it is rejected here.
    """
    if callable(value) or hasattr(value, "get_config"):
        return value
    return check_float(name, value, low=FLOAT32_TINY, high=FLOAT32_MAX)


def check_seed(value, name="seed"):
    """``None`` or an integer seed in ``[0, 2**31 - 1]`` (what every backend's RNG takes)."""
    return check_int(name, value, low=0, high=SEED_MAX, allow_none=True)
