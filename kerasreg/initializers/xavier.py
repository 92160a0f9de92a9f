"""The lecture's Xavier initialization: N(0, 1/m), untruncated."""

import math

import keras

from kerasreg.api_export import kerasreg_export
from kerasreg.initializers._base import SeededInitializer, compute_fans


@kerasreg_export
class Xavier(SeededInitializer):
    """Xavier initialization, as the lecture writes it.

    For a layer with ``m`` inputs:

    ```
    W_ij ~ N(0, 1/m)
    ```

    ``m`` is the fan-in of the shape being initialized (for a Dense kernel
    ``(m, n)`` it is ``m``; for a convolution kernel it is receptive field
    size times input channels, as Keras computes it).  The heuristic makes
    every output of a linear layer have (about) unit variance when its inputs
    do.

    Departures and names: this is the distribution Keras calls LeCun normal
    (``keras.initializers.LecunNormal``), but Keras *truncates* its normals at
    two standard deviations (and rescales to keep the variance); this one is
    the untruncated normal the lecture writes.  Keras' ``GlorotNormal`` /
    ``GlorotUniform`` use ``2/(m+n)`` instead (the lecture's
    :class:`NormalizedUniform` is ``GlorotUniform``).

    Args:
        seed: ``None`` or an integer >= 0. With an integer every call returns
            the same values.  Defaults to ``None``.

    Example:

    >>> layer = keras.layers.Dense(300, kernel_initializer=Xavier(seed=1))

    Reference:
        LeCun, Bottou, Orr and Mueller, "Efficient BackProp", 1998;
        Glorot and Bengio, "Understanding the difficulty of training deep
        feedforward neural networks", AISTATS 2010,
        https://proceedings.mlr.press/v9/glorot10a.html
    """

    def __call__(self, shape, dtype=None):
        fan_in, _ = compute_fans(shape)
        stddev = math.sqrt(1.0 / fan_in)
        return keras.random.normal(shape, stddev=stddev, dtype=dtype, seed=self._seed)
