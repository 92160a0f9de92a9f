"""The lecture's initialization for ReLU units: N(0, 2/m), untruncated."""

import math

import keras

from kerasreg.api_export import kerasreg_export
from kerasreg.initializers._base import SeededInitializer, compute_fans


@kerasreg_export
class He(SeededInitializer):
    """He initialization, the lecture's recommendation for ReLU units.

    For a layer with ``m`` inputs:

    ```
    W_ij ~ N(0, 2/m)
    ```

    ``m`` is the fan-in of the shape being initialized (for a Dense kernel
    ``(m, n)`` it is ``m``; for a convolution kernel it is receptive field
    size times input channels, as Keras computes it).  The factor 2 makes up
    for ReLU zeroing half of its inputs.

    Departure from Keras: ``keras.initializers.HeNormal`` draws the same
    variance from a normal *truncated* at two standard deviations; this one is
    the untruncated normal the lecture writes.

    Args:
        seed: ``None`` or an integer >= 0. With an integer every call returns
            the same values.  Defaults to ``None``.

    Example:

    >>> layer = keras.layers.Dense(300, activation="relu",
    ...                            kernel_initializer=He(seed=1))

    Reference:
        He, Zhang, Ren and Sun, "Delving Deep into Rectifiers", ICCV 2015,
        https://arxiv.org/abs/1502.01852
    """

    def __call__(self, shape, dtype=None):
        fan_in, _ = compute_fans(shape)
        stddev = math.sqrt(2.0 / fan_in)
        return keras.random.normal(shape, stddev=stddev, dtype=dtype, seed=self._seed)
