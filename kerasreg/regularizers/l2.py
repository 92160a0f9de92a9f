"""The lecture's L2 weight penalty, alpha * 1/2 ||W||_2^2."""

import keras
from keras import ops

from kerasreg._validation import check_float
from kerasreg.api_export import kerasreg_export


@kerasreg_export
class L2(keras.regularizers.Regularizer):
    """L2 norm penalty ("weight decay"), as the lecture writes it.

    The regularized loss is ``L_R(W) = L(W) + alpha * Omega(W)`` with

    ```
    Omega(W) = 1/2 ||W||_2^2 = 1/2 sum_ij W_ij^2
    ```

    so the penalty returned is ``alpha * 1/2 * sum(W**2)`` and its gradient is
    ``alpha * W``: the SGD step becomes
    ``W <- W - lambda * dL/dW - lambda * alpha * W`` (weights decay in
    proportion to their size).  ``alpha`` is ``alpha``.

    Departure from Keras: ``keras.regularizers.L2(l2)`` returns
    ``l2 * sum(W**2)``, without the 1/2; ``kerasreg.regularizers.L2(alpha)``
    equals ``keras.regularizers.L2(alpha / 2)``.

    Args:
        alpha: float >= 0, the penalty weight. Defaults to ``0.01``.

    Example:

    >>> layer = keras.layers.Dense(10, kernel_regularizer=L2(0.003))

    Reference:
        Goodfellow, Bengio and Courville, "Deep Learning", 2016, section 7.1.1,
        https://www.deeplearningbook.org/contents/regularization.html
    """

    def __init__(self, alpha=0.01):
        self.alpha = check_float("alpha", alpha, low=0.0)

    def __call__(self, x):
        x = ops.convert_to_tensor(x)
        return ops.cast(0.5 * self.alpha, x.dtype) * ops.sum(ops.square(x))

    def get_config(self):
        return {"alpha": self.alpha}
