"""The statistics of a study: a two-sided t interval for the mean over seeds.

For ``n`` values ``x_1 ... x_n`` (one per seed; for a comparison, the paired
differences ``d_i = a_i - b_i`` of two variants trained with the same seed)::

    mean = (1/n) sum_i x_i
    s    = sqrt( sum_i (x_i - mean)^2 / (n - 1) )
    CI   = mean -+ t_{(1 + c)/2, n-1} * s / sqrt(n)

``c`` is ``confidence`` (0.95) and ``t_{q, n-1}`` the ``q`` quantile of
Student's t distribution with ``n - 1`` degrees of freedom.  The interval
assumes the seeds' values are independent and roughly normal; with 5-10
seeds it is wider than a normal interval (``t_{0.975,4} = 2.776`` against
1.96), as it should be.

Reference: Student (1908), "The probable error of a mean", Biometrika 6(1).
"""

import math
from typing import NamedTuple

import numpy as np

__all__ = ["Interval", "t_interval", "fmt"]


class Interval(NamedTuple):
    """A mean with its confidence interval ``[low, high]`` over ``n`` values."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self):
        """``(high - low) / 2``: the ``+-`` of ``mean +- half_width``."""
        return (self.high - self.low) / 2.0

    def __str__(self):
        return fmt(self)


def t_quantile(q, df):
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom."""
    from scipy.special import stdtrit  # scipy comes with scikit-learn, a dependency

    return float(stdtrit(df, q))


def t_interval(values, confidence=0.95):
    """Mean and two-sided t interval of ``values`` (1-D; one value per seed).

    Args:
        values: sequence of floats, ``n >= 2`` of them for an interval.
        confidence: float in (0, 1), default 0.95.

    Returns:
        ``Interval(mean, low, high, n)``.  With fewer than 2 values, or any
        value not finite, ``low`` and ``high`` are NaN (no interval; a check
        on it does not hold).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"`confidence` must be in (0, 1), got {confidence!r}.")
    x = np.asarray(values, dtype="float64").ravel()
    n = int(x.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n < 2 or not np.all(np.isfinite(x)):
        return Interval(mean, math.nan, math.nan, n)
    sd = float(x.std(ddof=1))
    half = t_quantile(0.5 + confidence / 2.0, n - 1) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def _number(v, digits):
    if not math.isfinite(v):
        return str(v)
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}"


def fmt(values_or_interval, digits=3):
    """``"mean ± half-width (n)"`` for an ``Interval`` or for raw per-seed values.

    ``digits`` significant digits for the mean; the half-width is written to
    the same decimal place.
    """
    iv = values_or_interval if isinstance(values_or_interval, Interval) else t_interval(values_or_interval)
    if not math.isfinite(iv.half_width):
        return f"{_number(iv.mean, digits)} (n={iv.n}, no interval)"
    if not math.isfinite(iv.mean) or iv.mean == 0 or abs(iv.mean) >= 1e4 or abs(iv.mean) < 1e-3:
        return f"{_number(iv.mean, digits)} ± {_number(iv.half_width, 2)} (n={iv.n})"
    # Same decimal place for both numbers: 0.412 ± 0.013, 12.3 ± 1.4.
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(iv.mean)))))
    return f"{iv.mean:.{decimals}f} ± {iv.half_width:.{decimals}f} (n={iv.n})"
