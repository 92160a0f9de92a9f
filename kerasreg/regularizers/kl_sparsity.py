"""KL-divergence sparsity penalty on mean activations (sparse autoencoders)."""

import keras
from keras import ops

from kerasreg._validation import check_float
from kerasreg.api_export import kerasreg_export


@kerasreg_export
class KLSparsity(keras.regularizers.Regularizer):
    """KL sparsity penalty: push each unit's mean activation towards ``rho``.

    For a layer output ``h`` with values in (0, 1) (e.g. sigmoid units) and a
    mini-batch of ``B`` examples, with ``rho_hat_j`` the mean activation of
    unit ``j`` over the batch,

    ```
    rho_hat_j = 1/B sum_b h_bj,     clipped to [epsilon, 1 - epsilon]
    weight * Omega(h) = weight * sum_j KL(rho || rho_hat_j)
      KL(rho || rho_hat) = rho log(rho / rho_hat)
                           + (1 - rho) log((1 - rho) / (1 - rho_hat))
    ```

    ``rho`` is ``target``, ``weight`` is ``weight`` (the lecture's ``alpha``)
    and ``epsilon`` is ``epsilon``.  For outputs with more than two axes a
    unit is a channel (last axis) and the mean runs over the batch and all
    other axes.  The penalty is zero when every unit's mean equals ``rho``
    and grows as means move away, so a small ``rho`` gives a sparse code.

    How it meets Keras: Keras divides whatever an activity regularizer
    returns by the batch size ``B`` before adding it to ``layer.losses``.
    This penalty is already a batch statistic, so ``__call__`` returns
    ``B * weight * sum_j KL`` and ``layer.losses`` holds exactly
    ``weight * sum_j KL(rho || rho_hat_j)``.  Called directly on a tensor it
    returns the value times ``B``.

    Under a multi-replica strategy each replica computes ``rho_hat`` on its
    own share of the batch (like unsynchronized batch normalization), so the
    penalty differs from the single-replica one.

    Args:
        target: float in (0, 1), the target mean activation ``rho``.
            Defaults to ``0.05``.
        weight: float >= 0, the penalty weight. Defaults to ``1.0``.
        epsilon: float in (0, 0.5), the clip that keeps the logarithms finite.
            Defaults to ``1e-7``.

    Example:

    >>> code = keras.layers.Dense(64, activation="sigmoid",
    ...                           activity_regularizer=KLSparsity(0.05, 0.3))

    Reference:
        Ng, "Sparse autoencoder", CS294A lecture notes, 2011,
        https://web.stanford.edu/class/cs294a/sparseAutoencoder.pdf
    """

    def __init__(self, target=0.05, weight=1.0, epsilon=1e-7):
        self.target = check_float("target", target, low=0.0, high=1.0, low_open=True, high_open=True)
        self.weight = check_float("weight", weight, low=0.0)
        self.epsilon = check_float("epsilon", epsilon, low=0.0, high=0.5, low_open=True, high_open=True)

    def __call__(self, x):
        x = ops.convert_to_tensor(x)
        # standardize_dtype: torch's dtype is torch.float16, not the string.
        if keras.backend.standardize_dtype(x.dtype) in ("float16", "bfloat16"):
            # Mixed precision: sum (and clip) in float32; 1 - 1e-7 is 1 in float16.
            x = ops.cast(x, "float32")
        dtype = x.dtype
        if len(x.shape) < 2:
            x = ops.reshape(x, (-1, 1))
        reduce_axes = tuple(range(len(x.shape) - 1))
        rho_hat = ops.clip(ops.mean(x, axis=reduce_axes), self.epsilon, 1.0 - self.epsilon)
        rho = ops.cast(self.target, dtype)
        kl = rho * ops.log(rho / rho_hat) + (1.0 - rho) * ops.log((1.0 - rho) / (1.0 - rho_hat))
        batch = ops.cast(ops.shape(x)[0], dtype)
        return ops.cast(self.weight, dtype) * ops.sum(kl) * batch

    def get_config(self):
        return {"target": self.target, "weight": self.weight, "epsilon": self.epsilon}
