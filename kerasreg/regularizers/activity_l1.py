"""L1 penalty on hidden outputs, for sparse representations."""

import keras
from keras import ops

from kerasreg._validation import check_float
from kerasreg.api_export import kerasreg_export


@kerasreg_export
class ActivityL1(keras.regularizers.Regularizer):
    """L1 penalty on a layer's output ``h``: sparse representations.

    The lecture's ``L_R = L(theta; X, y) + alpha * Omega(h)`` with ``Omega``
    the L1 norm of the hidden output, averaged over the mini-batch of ``B``
    examples:

    ```
    alpha * Omega(h) = alpha * 1/B * sum_b sum_j |h_bj|
    ```

    ``alpha`` is ``alpha``; ``j`` runs over all entries of one example's
    output (units, and positions for convolutions).  Use it as a layer's
    ``activity_regularizer``.

    How the mean arises: Keras divides whatever an activity regularizer
    returns by the batch size ``B`` before adding it to ``layer.losses``.
    So ``__call__`` returns ``alpha * sum_bj |h_bj|`` (the sum over the whole
    batch) and ``layer.losses`` holds the per-example mean above, which keeps
    the penalty's weight against the (mean) data loss independent of ``B``.
    Called directly on a tensor it returns the batch sum.

    Args:
        alpha: float >= 0, the penalty weight. Defaults to ``0.01``.

    Example:

    >>> layer = keras.layers.Dense(64, activation="relu",
    ...                            activity_regularizer=ActivityL1(0.003))

    Reference:
        Goodfellow, Bengio and Courville, "Deep Learning", 2016, section 7.10,
        https://www.deeplearningbook.org/contents/regularization.html
    """

    def __init__(self, alpha=0.01):
        self.alpha = check_float("alpha", alpha, low=0.0)

    def __call__(self, x):
        x = ops.convert_to_tensor(x)
        # standardize_dtype: torch's dtype is torch.float16, not the string.
        if keras.backend.standardize_dtype(x.dtype) in ("float16", "bfloat16"):
            # Mixed precision: sum (and clip) in float32; 1 - 1e-7 is 1 in float16.
            x = ops.cast(x, "float32")
        return ops.cast(self.alpha, x.dtype) * ops.sum(ops.abs(x))

    def get_config(self):
        return {"alpha": self.alpha}
