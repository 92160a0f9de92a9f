"""A study's claims: checks that hold only when a whole 95% interval is on the claimed side.

Comparisons of two quantities are *paired*: for each seed ``i`` the
difference ``d_i = a_i - b_i`` of two variants trained with that seed (same
split, initial weights and data order), then the t interval of the ``d_i``
(``kerasreg.study.stats``).  One-sample checks take the interval of one
quantity's per-seed values.

==========================  =================================  ============================
check                       holds iff (``[low, high]`` = CI)   reads as
==========================  =================================  ============================
``Less(a, b, margin)``      ``high <  margin``                 a < b + margin
``AtMost(a, b, margin)``    ``high <= margin``                 a <= b + margin
``Greater(a, b, margin)``   ``low  >  margin``                 a > b + margin
``AtLeast(a, b, margin)``   ``low  >= margin``                 a >= b + margin
``Below(q, threshold)``     ``high <  threshold``              q < threshold
``Above(q, threshold)``     ``low  >  threshold``              q > threshold
==========================  =================================  ============================

A check whose interval cannot be computed (fewer than 2 seeds, a value not
finite) does not hold.
"""

import math
import numbers

import numpy as np

from kerasreg.study.stats import fmt, t_interval

__all__ = ["Check", "Less", "AtMost", "Greater", "AtLeast", "Below", "Above"]


def _check_name(arg, value):
    if not isinstance(value, str) or not value:
        raise TypeError(f"`{arg}` must be a quantity name (non-empty str), got {value!r}.")
    return value


def _check_number(arg, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"`{arg}` must be a finite number, got {value!r}.")
    return float(value)


class Check:
    """Base class: a claim about per-seed quantities, judged on a 95% t interval.

    Subclasses set ``op`` (``"<"``, ``"<="``, ``">"``, ``">="``) and
    ``paired``; ``evaluate`` does the rest.
    """

    op = None
    paired = True
    _WORDS = {"<": "below", "<=": "at most", ">": "above", ">=": "at least"}

    def __init__(self, *quantities, threshold, describe=None):
        self.quantities = tuple(quantities)
        self.threshold = threshold
        if describe is not None and not isinstance(describe, str):
            raise TypeError(f"`describe` must be a str or None, got {describe!r}.")
        self.describe = describe

    @property
    def name(self):
        """The check as a formula, e.g. ``test_loss/l2 - test_loss/baseline < 0``."""
        left = " - ".join(self.quantities)
        return f"{left} {self.op} {self.threshold:g}"

    def sample(self, per_seed):
        """The per-seed values the interval is taken of (differences when paired)."""
        missing = [q for q in self.quantities if q not in per_seed]
        if missing:
            raise KeyError(f"check {self.name!r}: the study measured no quantity {missing[0]!r}; "
                           f"measured: {', '.join(sorted(per_seed))}.")
        values = [np.asarray(per_seed[q], dtype="float64").ravel() for q in self.quantities]
        if self.paired:
            a, b = values
            if a.shape != b.shape:
                raise ValueError(f"check {self.name!r}: {self.quantities[0]!r} has {a.size} values and "
                                 f"{self.quantities[1]!r} {b.size}; a paired comparison needs one per seed for both.")
            return a - b
        return values[0]

    def holds(self, low, high):
        t = self.threshold
        if not (math.isfinite(low) and math.isfinite(high)):
            return False
        return {"<": high < t, "<=": high <= t, ">": low > t, ">=": low >= t}[self.op]

    def evaluate(self, per_seed, confidence=0.95):
        """The check's record: name, n, mean, ci95, op, threshold, held, ..."""
        iv = t_interval(self.sample(per_seed), confidence)
        return {
            "name": self.name,
            "describe": self.describe or self.name,
            "kind": type(self).__name__,
            "quantities": list(self.quantities),
            "paired": self.paired,
            "n": iv.n,
            "mean": iv.mean,
            "ci95": [iv.low, iv.high],
            "op": self.op,
            "threshold": self.threshold,
            "held": bool(self.holds(iv.low, iv.high)),
            "words": self.words(iv),
        }

    def words(self, iv):
        """One sentence on what was measured, for the report."""
        what = (f"the paired difference {self.quantities[0]} − {self.quantities[1]}" if self.paired
                else f"the measured {self.quantities[0]}")
        side = f"{self._WORDS[self.op]} {self.threshold:g}"
        if not (math.isfinite(iv.low) and math.isfinite(iv.high)):
            return f"{what} is {fmt(iv)}: no interval, so it is not shown to lie {side}."
        if self.holds(iv.low, iv.high):
            return f"{what} is {fmt(iv)}, 95% CI [{iv.low:.4g}, {iv.high:.4g}]: entirely {side}."
        return (f"{what} is {fmt(iv)}, 95% CI [{iv.low:.4g}, {iv.high:.4g}]: the interval is not "
                f"entirely {side}.")


class _Paired(Check):
    def __init__(self, a, b, margin=0.0, describe=None):
        super().__init__(_check_name("a", a), _check_name("b", b),
                         threshold=_check_number("margin", margin), describe=describe)
        if a == b:
            raise ValueError(f"`a` and `b` must be different quantities, got {a!r} twice.")
        self.margin = self.threshold


class _OneSample(Check):
    paired = False

    def __init__(self, quantity, threshold, describe=None):
        super().__init__(_check_name("quantity", quantity),
                         threshold=_check_number("threshold", threshold), describe=describe)


class Less(_Paired):
    """``a < b + margin`` over seeds: holds iff the CI of ``a_i - b_i`` lies below ``margin``."""

    op = "<"


class AtMost(_Paired):
    """``a <= b + margin`` over seeds: holds iff the CI of ``a_i - b_i`` is at most ``margin``."""

    op = "<="


class Greater(_Paired):
    """``a > b + margin`` over seeds: holds iff the CI of ``a_i - b_i`` lies above ``margin``."""

    op = ">"


class AtLeast(_Paired):
    """``a >= b + margin`` over seeds: holds iff the CI of ``a_i - b_i`` is at least ``margin``."""

    op = ">="


class Below(_OneSample):
    """``quantity < threshold``: holds iff the quantity's CI lies below ``threshold``."""

    op = "<"


class Above(_OneSample):
    """``quantity > threshold``: holds iff the quantity's CI lies above ``threshold``."""

    op = ">"
