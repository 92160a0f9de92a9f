"""Euclidean projection onto the L1 ball (Duchi et al., 2008)."""

import keras
from keras import ops

from kerasreg._validation import check_float
from kerasreg.api_export import kerasreg_export
from kerasreg.constraints._axis import check_axis, reduction_axes


def project_rows_onto_l1_ball(v, radius):
    """Project each row of the 2-D tensor ``v`` onto ``{x : ||x||_1 <= radius}``."""
    d = v.shape[-1]
    a = ops.abs(v)
    u = ops.flip(ops.sort(a, axis=-1), axis=-1)  # |v| sorted, largest first
    cssv = ops.cumsum(u, axis=-1)
    j = ops.arange(1, d + 1, dtype=v.dtype)
    # rho = max{j : u_j - (cssv_j - r) / j > 0}; the condition holds exactly
    # on a prefix j = 1..rho, and always for j = 1 (it reads r > 0).
    positive = ops.greater(u - (cssv - radius) / j, 0)
    rho = ops.maximum(ops.sum(ops.cast(positive, "int32"), axis=-1, keepdims=True), 1)
    cssv_rho = ops.take_along_axis(cssv, rho - 1, axis=-1)
    theta = ops.maximum((cssv_rho - radius) / ops.cast(rho, v.dtype), 0.0)
    return ops.sign(v) * ops.maximum(a - theta, 0.0)


@kerasreg_export
class L1Ball(keras.constraints.Constraint):
    """Projected gradient descent onto ``{W : ||W||_1 <= r}``.

    The lecture's L1 penalty as a constraint, ``min_{Omega(W) <= K} J(W)``
    with ``Omega = ||.||_1``: after each optimizer update the weights are
    replaced by their Euclidean projection onto the L1 ball,

    ```
    P(v) = argmin_{||w||_1 <= r} ||w - v||_2
         = sign(v) * max(|v| - theta, 0)
    ```

    with ``theta = 0`` if ``||v||_1 <= r`` and otherwise the soft threshold
    solving ``sum_i max(|v_i| - theta, 0) = r``, found by Duchi et al.'s
    sort-based algorithm: sort ``|v|`` decreasingly into ``u``, let
    ``rho = max{j : u_j - (sum_{i<=j} u_i - r) / j > 0}`` and
    ``theta = (sum_{i<=rho} u_i - r) / rho``.  ``r`` is ``radius``.  With
    ``axis=None`` the ball is over the whole tensor; with ``axis`` given each
    unit has its own ball, the norm running over ``axis`` (as in Keras'
    ``MaxNorm``: ``axis=0`` for a Dense kernel bounds each unit's incoming
    weights).  Unlike the L2 ball the projection sets small weights exactly
    to zero: sparse weights.  Cost ``O(d log d)`` per ball (the sort).

    No departure from the paper (its Figure 1 algorithm, vectorized).

    Args:
        radius: float > 0, the radius ``r``. Defaults to ``1.0``.
        axis: ``None`` (whole tensor), an integer or a list of integers: the
            axes the norm runs over. Defaults to ``None``.

    Example:

    >>> layer = keras.layers.Dense(10, kernel_constraint=L1Ball(4.0, axis=0))

    Reference:
        Duchi, Shalev-Shwartz, Singer and Chandra, "Efficient projections
        onto the l1-ball for learning in high dimensions", ICML 2008,
        https://doi.org/10.1145/1390156.1390191
    """

    def __init__(self, radius=1.0, axis=None):
        self.radius = check_float("radius", radius, low=0.0, low_open=True)
        self.axis = check_axis(axis)

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        shape = tuple(w.shape)
        ndim = len(shape)
        axes = reduction_axes(self.axis, ndim)
        kept = tuple(a for a in range(ndim) if a not in axes)
        perm = kept + axes
        moved = ops.transpose(w, perm) if perm != tuple(range(ndim)) else w
        rows = 1
        for a in kept:
            rows *= shape[a]
        cols = 1
        for a in axes:
            cols *= shape[a]
        radius = ops.cast(self.radius, w.dtype)
        projected = project_rows_onto_l1_ball(ops.reshape(moved, (rows, cols)), radius)
        projected = ops.reshape(projected, tuple(shape[a] for a in perm))
        if perm != tuple(range(ndim)):
            inverse = [0] * ndim
            for i, a in enumerate(perm):
                inverse[a] = i
            projected = ops.transpose(projected, inverse)
        return projected

    def get_config(self):
        return {"radius": self.radius, "axis": self.axis}
