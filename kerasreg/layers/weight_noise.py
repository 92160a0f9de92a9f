"""Additive Gaussian noise on the weights of a wrapped layer."""

import keras
from keras import ops

from kerasreg._validation import check_float
from kerasreg.api_export import kerasreg_export
from kerasreg.layers._kernel_wrapper import KernelWrapper


@kerasreg_export
class WeightNoise(KernelWrapper):
    """Weight noise: the wrapped layer computes with ``W + eps`` in training.

    The lecture's "random perturbation of network weights": in training,

    ```
    eps ~ N(0, sigma^2)   (a fresh draw at every call, i.e. every step)
    r   = layer(x; W + eps)
    ```

    and at inference ``r = layer(x; W)``.  ``sigma`` is ``stddev``.  The
    gradient of the loss flows to ``W`` through ``W + eps`` (``d(W+eps)/dW =
    I``), so ``W`` is trained to do well under perturbation -- to first order
    a penalty ``sigma^2 ||dL/dh dh/dW||^2``, the regularization term the
    lecture mentions.  Only the weights named ``kernel`` are perturbed.

    ``stddev`` is held in a non-trainable ``keras.Variable``, the attribute
    ``layer.stddev``; the traced training step reads it, so a callback can
    anneal it during ``fit`` with ``layer.stddev.assign(v)`` without
    retracing (``kerasreg.callbacks.WeightNoiseCallback`` does this).  It is
    saved with the weights; ``get_config()["stddev"]`` is its current value
    as a float.  Monte Carlo dropout does not switch weight noise on.

    Args:
        layer: a Dense or Conv layer (any layer with a weight named
            ``kernel``).
        stddev: float >= 0, ``sigma``.
        seed: optional int, seed of the layer's ``SeedGenerator``.
        **kwargs: base layer arguments.

    Example:

    >>> h = keras.Input((32,))
    >>> h = kerasreg.layers.WeightNoise(keras.layers.Dense(64), stddev=0.01)(h)

    Reference:
        Graves, "Practical Variational Inference for Neural Networks", NIPS
        2011; An, "The Effects of Adding Noise During Backpropagation
        Training on a Generalization Performance", Neural Computation 1996.
    """

    def __init__(self, layer, stddev, seed=None, **kwargs):
        super().__init__(layer, seed=seed, **kwargs)
        stddev = check_float("stddev", stddev, low=0.0)
        self.stddev = self.add_weight(
            shape=(),
            name="stddev",
            initializer=keras.initializers.Constant(stddev),
            dtype="float32",
            trainable=False,
            autocast=False,
        )

    def call(self, inputs, training=False):
        if not training:
            return self.layer(inputs)
        seed = self.seed_generator

        def add_noise(kernel):
            sigma = ops.cast(self.stddev, kernel.dtype)
            noise = keras.random.normal(ops.shape(kernel), dtype=kernel.dtype, seed=seed)
            return kernel + sigma * noise

        return self.perturbed_call(inputs, add_noise)

    def get_config(self):
        stddev = float(ops.convert_to_numpy(self.stddev))
        return {**super().get_config(), "stddev": stddev}
