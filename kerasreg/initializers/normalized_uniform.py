"""The lecture's normalized initialization: U(-sqrt(6/(m+n)), sqrt(6/(m+n)))."""

import math

import keras

from kerasreg.api_export import kerasreg_export
from kerasreg.initializers._base import SeededInitializer, compute_fans


@kerasreg_export
class NormalizedUniform(SeededInitializer):
    """Normalized initialization, as the lecture writes it.

    For a layer with ``m`` inputs and ``n`` outputs:

    ```
    W_ij ~ U(-sqrt(6 / (m + n)), +sqrt(6 / (m + n)))
    ```

    ``m`` and ``n`` are the fan-in and fan-out of the shape being initialized
    (for a convolution kernel both are multiplied by the receptive field size,
    as Keras computes them).  The variance is ``2 / (m + n)``: a compromise
    between unit forward activation variance (``1/m``) and unit backward
    gradient variance (``1/n``).

    This is exactly Keras' ``keras.initializers.GlorotUniform`` (no
    departure); it is here under the lecture's name, next to its siblings.

    Args:
        seed: ``None`` or an integer >= 0. With an integer every call returns
            the same values.  Defaults to ``None``.

    Example:

    >>> layer = keras.layers.Dense(300, kernel_initializer=NormalizedUniform(seed=1))

    Reference:
        Glorot and Bengio, "Understanding the difficulty of training deep
        feedforward neural networks", AISTATS 2010,
        https://proceedings.mlr.press/v9/glorot10a.html
    """

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return keras.random.uniform(shape, minval=-limit, maxval=limit, dtype=dtype, seed=self._seed)
