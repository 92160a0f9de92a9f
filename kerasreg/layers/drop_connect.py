"""DropConnect: drop weights rather than units."""

import keras

from kerasreg._validation import check_float
from kerasreg.api_export import kerasreg_export
from kerasreg.layers import _sampling
from kerasreg.layers._kernel_wrapper import KernelWrapper


@kerasreg_export
class DropConnect(KernelWrapper):
    """DropConnect: a binary mask on the kernel of a wrapped Dense/Conv layer.

    Wan et al.'s rule for a layer ``r = a(W v)``: in training each weight is
    kept with probability ``p`` and zeroed otherwise,

    ```
    training:   r = a((M * W / p) v),      M_jk ~ Bernoulli(p)
    inference:  r = a(W v)
    ```

    ``p = 1 - rate``.  Inference rule (stated, as the brief asks): the mean
    field / inverted-scaling one.  The kept weights are scaled by ``1/p`` in
    training, so ``E_M[(M * W / p) v] = W v``: the pre-activation is unbiased
    and inference is the deterministic layer, at no extra cost, exactly as
    inverted dropout.  Wan et al. instead approximate ``E_M[a((M*W) v)]`` at
    test time by moment-matching a Gaussian and sampling it; that is more
    accurate under a strong non-linearity but costs many samples per
    prediction, and ``monte_carlo_predict`` gives the sampled estimate when
    it is wanted.  Only the weights named ``kernel`` are masked; biases are
    not (Wan et al. fold the bias into ``W``).

    Departure: one mask per call (per mini-batch), shared by its examples;
    Wan et al. draw a mask per example, which for a ``Dense(n)`` layer costs a
    ``batch x fan_in x n`` tensor.

    Args:
        layer: a ``keras.layers.Dense``, ``Conv1D/2D/3D`` (any layer with a
            weight named ``kernel``).
        rate: float in [0, 1), the probability ``1 - p`` of dropping a weight.
        seed: optional int, seed of the layer's ``SeedGenerator``.
        **kwargs: base layer arguments.

    Example:

    >>> h = keras.Input((32,))
    >>> h = kerasreg.layers.DropConnect(keras.layers.Dense(64), rate=0.3)(h)

    Reference:
        Wan, Zeiler, Zhang, LeCun and Fergus, "Regularization of Neural
        Networks using DropConnect", ICML 2013,
        https://proceedings.mlr.press/v28/wan13.html.
    """

    _monte_carlo = True
    per_example_masks = False  # one kernel mask per call

    def __init__(self, layer, rate, seed=None, **kwargs):
        super().__init__(layer, seed=seed, **kwargs)
        self.rate = check_float("rate", rate, 0.0, 1.0, high_open=True)

    def call(self, inputs, training=False):
        if not _sampling.active(training) or self.rate == 0:
            return self.layer(inputs)
        seed = _sampling.sampling_seed(self.seed_generator)

        def drop(kernel):
            return keras.random.dropout(kernel, self.rate, seed=seed)

        return self.perturbed_call(inputs, drop)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}

