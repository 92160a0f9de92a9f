"""Shared pieces of kerasreg's random initializers (private)."""

import random

import keras

from kerasreg._validation import check_seed


def compute_fans(shape):
    """``(fan_in, fan_out)`` of a weight shape, as Keras computes them.

    A Dense kernel ``(m, n)`` has fan-in ``m`` and fan-out ``n``; a convolution
    kernel ``(*receptive_field, in_channels, out_channels)`` has fan-in
    ``prod(receptive_field) * in_channels`` and fan-out
    ``prod(receptive_field) * out_channels``; a vector ``(n,)`` has both
    equal to ``n``; a scalar has both equal to 1.
    """
    shape = tuple(int(d) for d in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = 1
    for d in shape[:-2]:
        receptive_field *= d
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class SeededInitializer(keras.initializers.Initializer):
    """An initializer with an integer ``seed`` (``None``: drawn once, here).

    Like Keras' own random initializers, an instance with an integer seed
    returns the same values on every call; ``seed=None`` draws one integer
    seed at construction from Python's ``random`` (which
    ``keras.utils.set_random_seed`` seeds), so one instance is still
    reproducible.  ``get_config`` returns the seed as given.
    """

    def __init__(self, seed=None):
        self.seed = check_seed(seed)
        self._seed = self.seed if self.seed is not None else random.randint(1, 10**9)

    def get_config(self):
        return {"seed": self.seed}
