"""Per-seed values on a matplotlib axis: a mean with its 95% t interval, as points or as a band."""

import numpy as np

from kerasreg.study.stats import t_interval

__all__ = ["plot_interval", "plot_band"]


def plot_interval(ax, x, values, spread=0.1, **kwargs):
    """At ``x``: the mean of ``values`` with its 95% t interval as an error bar, and each value as a grey dot.

    The error bar spans ``[low, high]`` of ``t_interval(values)``; the dots
    (one per seed) stand ``spread`` to the right of it.  ``kwargs`` go to
    ``ax.errorbar`` (default ``fmt="o", capsize=4``).

    Returns:
        The ``Interval``.
    """
    values = np.asarray(values, dtype="float64").ravel()
    iv = t_interval(values)
    ax.errorbar([x], [iv.mean], yerr=[[iv.mean - iv.low], [iv.high - iv.mean]], **{"fmt": "o", "capsize": 4, **kwargs})
    ax.plot(np.full(len(values), x) + spread, values, ".", color="grey")
    return iv


def plot_band(ax, x, curves, fmt="-", alpha=0.2, **kwargs):
    """The mean curve of ``curves`` (seeds x points) with its pointwise 95% t interval as a band.

    ``fmt`` and ``kwargs`` go to ``ax.plot``; the band takes the line's
    colour, with opacity ``alpha``.

    Returns:
        The line (``matplotlib.lines.Line2D``).
    """
    curves = np.asarray(curves, dtype="float64")
    if curves.ndim != 2 or curves.shape[1] != len(x):
        raise ValueError(f"`curves` must have shape (seeds, len(x)) = (n, {len(x)}), got {curves.shape}.")
    intervals = [t_interval(c) for c in curves.T]
    line, = ax.plot(x, [iv.mean for iv in intervals], fmt, **kwargs)
    ax.fill_between(x, [iv.low for iv in intervals], [iv.high for iv in intervals], color=line.get_color(),
                    alpha=alpha)
    return line
