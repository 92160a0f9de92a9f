"""The L1 weight penalty, alpha * ||W||_1."""

import keras
from keras import ops

from kerasreg._validation import check_float
from kerasreg.api_export import kerasreg_export


@kerasreg_export
class L1(keras.regularizers.Regularizer):
    """L1 norm penalty, which encourages sparse weights.

    The regularized loss is ``L_R(W) = L(W) + alpha * Omega(W)`` with

    ```
    Omega(W) = ||W||_1 = sum_ij |W_ij|
    ```

    so the penalty returned is ``alpha * sum(|W|)``; ``alpha`` is ``alpha``.

    Departure from the lecture: one slide writes ``Omega(W) = 1/2 ||W||_1``.
    The 1/2 of the L2 penalty is there to cancel the 2 of the derivative of a
    square; ``|W|`` has no square, so the factor only halves ``alpha``.  We
    follow the issue, Keras (``keras.regularizers.L1(l1)`` is identical) and
    Goodfellow et al. (eq. 7.18): ``Omega(W) = ||W||_1``.  The lecture's
    version is ``L1(alpha / 2)``.

    Args:
        alpha: float >= 0, the penalty weight. Defaults to ``0.01``.

    Example:

    >>> layer = keras.layers.Dense(10, kernel_regularizer=L1(0.003))

    Reference:
        Goodfellow, Bengio and Courville, "Deep Learning", 2016, section 7.1.2,
        https://www.deeplearningbook.org/contents/regularization.html
    """

    def __init__(self, alpha=0.01):
        self.alpha = check_float("alpha", alpha, low=0.0)

    def __call__(self, x):
        x = ops.convert_to_tensor(x)
        return ops.cast(self.alpha, x.dtype) * ops.sum(ops.abs(x))

    def get_config(self):
        return {"alpha": self.alpha}
