"""Stochastic depth (drop-path) for residual branches."""

import keras
from keras import ops

from kerasreg._validation import check_float, check_seed
from kerasreg.api_export import kerasreg_export
from kerasreg.layers import _sampling


@kerasreg_export
class StochasticDepth(keras.layers.Layer):
    """Drop a residual branch per example.

    Applied to the output ``f(x)`` of a residual branch, ``y = x +
    StochasticDepth(rate)(f(x))``:

    ```
    training:   out_n = b_n * f(x)_n / p,   b_n ~ Bernoulli(p), one per example n
    inference:  out   = f(x)
    ```

    ``p = 1 - rate`` is the survival probability.  Convention (timm's
    ``drop_path`` with ``scale_by_keep=True``): survivors are scaled by
    ``1/p`` in training so inference is the identity; Huang et al. instead
    leave training unscaled and multiply the branch by ``p`` at test time.
    Both have the same expectation.  Huang et al. drop a branch for the whole
    mini-batch; per-example drops (as in timm and Keras-CV) give a less noisy
    gradient.  Monte Carlo dropout switches this layer on.

    Args:
        rate: float in [0, 1), the probability of dropping the branch.
        seed: optional int, seed of the layer's ``SeedGenerator``.
        **kwargs: base layer arguments.

    Example:

    >>> x = keras.Input((16,))
    >>> branch = keras.layers.Dense(16, activation="relu")  # a residual branch
    >>> y = x + kerasreg.layers.StochasticDepth(0.1)(branch(x))

    Reference:
        Huang, Sun, Liu, Sedra and Weinberger, "Deep Networks with Stochastic
        Depth", ECCV 2016, https://arxiv.org/abs/1603.09382.
    """

    _monte_carlo = True
    per_example_masks = True  # one Bernoulli draw per example

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_float("rate", rate, 0.0, 1.0, high_open=True)
        self.seed = check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.built = True

    def call(self, inputs, training=False):
        if not _sampling.active(training) or self.rate == 0:
            return inputs
        shape = ops.shape(inputs)
        noise_shape = (shape[0],) + (1,) * (len(shape) - 1)
        seed = _sampling.sampling_seed(self.seed_generator)
        return keras.random.dropout(inputs, self.rate, noise_shape=noise_shape, seed=seed)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
