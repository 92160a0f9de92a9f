"""Axis handling shared by the ball projections (private)."""

import numbers


def check_axis(axis):
    """``None``, an int, or a list/tuple of distinct ints; returned as given
    (a tuple becomes a list, so that it survives a JSON config round trip)."""
    if axis is None:
        return None
    if isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
        return int(axis)
    if isinstance(axis, (list, tuple)) and axis and all(
        isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axis
    ):
        if len(set(int(a) for a in axis)) != len(axis):
            raise ValueError(f"`axis` must not repeat an axis, got {axis!r}.")
        return [int(a) for a in axis]
    raise ValueError(
        f"`axis` must be None, an integer or a non-empty list of integers, got {axis!r}."
    )


def reduction_axes(axis, ndim):
    """The axes a norm runs over, as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = [axis] if isinstance(axis, int) else list(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"`axis` {axis!r} is out of range for a tensor of rank {ndim}.")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"`axis` {axis!r} names the same axis twice for rank {ndim}.")
    return tuple(sorted(out))
