"""Projection onto the L2 ball: the L2 norm penalty as a constraint."""

import keras
from keras import ops

from kerasreg._validation import check_float
from kerasreg.api_export import kerasreg_export
from kerasreg.constraints._axis import check_axis, reduction_axes


@kerasreg_export
class L2Ball(keras.constraints.Constraint):
    """Projected gradient descent onto ``{W : ||W||_2 <= K}``.

    The lecture's norm penalty as a constraint, ``min_{Omega(W) <= K} J(W)``,
    solved by projected gradient descent: after each optimizer update the
    weights are replaced by their Euclidean projection onto the ball,

    ```
    P(W) = argmin_{||V||_2 <= K} ||V - W||_2 = W * min(1, K / ||W||_2)
    ```

    ``K`` is ``max_norm``.  With ``axis=None`` the norm is over the whole
    tensor; with ``axis`` given there is one ball per unit: the norm runs over
    ``axis`` (like Keras' ``MaxNorm``: ``axis=0`` for a Dense kernel
    ``(m, n)`` bounds each unit's incoming weight vector; ``[0, 1, 2]`` for a
    ``Conv2D`` kernel bounds each filter).

    Departure from ``keras.constraints.MaxNorm``: that one computes
    ``W * clip(||W||, 0, K) / (eps + ||W||)``, which shrinks every weight by
    the factor ``||W|| / (eps + ||W||)`` even inside the ball; this is the
    exact projection (the identity inside the ball, idempotent).  Its
    default is the whole tensor (``axis=None``) rather than ``axis=0``.

    Args:
        max_norm: float > 0, the radius ``K``. Defaults to ``3.0``.
        axis: ``None`` (whole tensor), an integer or a list of integers: the
            axes the norm runs over. Defaults to ``None``.

    Example:

    >>> layer = keras.layers.Dense(10, kernel_constraint=L2Ball(2.0, axis=0))

    Reference:
        Goodfellow, Bengio and Courville, "Deep Learning", 2016, section 7.2,
        https://www.deeplearningbook.org/contents/regularization.html
    """

    def __init__(self, max_norm=3.0, axis=None):
        self.max_norm = check_float("max_norm", max_norm, low=0.0, low_open=True)
        self.axis = check_axis(axis)

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        axes = reduction_axes(self.axis, len(w.shape))
        radius = ops.cast(self.max_norm, w.dtype)
        norm = ops.sqrt(ops.sum(ops.square(w), axis=axes, keepdims=True))
        return w * (radius / ops.maximum(norm, radius))

    def get_config(self):
        return {"max_norm": self.max_norm, "axis": self.axis}
