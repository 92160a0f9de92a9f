"""Sparse initialization: exactly k nonzero incoming weights per unit."""

import keras
from keras import ops

from kerasreg._validation import check_float, check_int
from kerasreg.api_export import kerasreg_export
from kerasreg.initializers._base import SeededInitializer


@kerasreg_export
class SparseInit(SeededInitializer):
    """Sparse initialization: each unit gets exactly ``k`` nonzero inputs.

    The lecture's "sparse variant when m is large": for each unit ``j``
    choose ``k`` of its ``m`` incoming weights at random positions ``S_j``
    (``|S_j| = k``, uniformly among the subsets of size ``k``, independently
    per unit) and set

    ```
    W_ij ~ N(0, stddev^2)   for i in S_j
    W_ij = 0                otherwise
    ```

    ``k`` is ``k`` and ``stddev`` is ``stddev``.  A unit is an output column
    of a Dense kernel ``(m, n)``; for a convolution kernel
    ``(*receptive_field, in_channels, out_channels)`` it is an output channel
    and its ``m = prod(receptive_field) * in_channels`` inputs are all the
    kernel entries feeding it.  Unlike the dense initializers the scale does
    not shrink with ``m``: that is the point (Martens, 2010), the total input
    of a unit does not depend on the layer width.

    Departure: none from Martens' scheme (he used ``k = 15`` and unit
    Gaussians, the defaults here).  ``stddev = 0`` would make every weight
    zero, so it is rejected.

    Args:
        k: integer >= 1, nonzero weights per unit; must be <= the fan-in of
            the shape it is called with (checked then, since the shape is
            only known at call).  Defaults to ``15``.
        stddev: float > 0, standard deviation of the nonzero weights.
            Defaults to ``1.0``.
        seed: ``None`` or an integer >= 0. With an integer every call returns
            the same values.  Defaults to ``None``.

    Example:

    >>> layer = keras.layers.Dense(300, kernel_initializer=SparseInit(k=15, seed=1))

    Reference:
        Martens, "Deep learning via Hessian-free optimization", ICML 2010,
        https://www.cs.toronto.edu/~jmartens/docs/Deep_HessianFree.pdf
    """

    def __init__(self, k=15, stddev=1.0, seed=None):
        super().__init__(seed=seed)
        self.k = check_int("k", k, low=1)
        self.stddev = check_float("stddev", stddev, low=0.0, low_open=True)

    def __call__(self, shape, dtype=None):
        shape = tuple(int(d) for d in shape)
        if len(shape) < 2:
            raise ValueError(
                "SparseInit initializes kernels of shape (..., fan_in, units); "
                f"got shape {shape}."
            )
        units = shape[-1]
        fan_in = 1
        for d in shape[:-1]:
            fan_in *= d
        if self.k > fan_in:
            raise ValueError(
                f"`k` must be <= the fan-in of the kernel ({fan_in} for shape {shape}), got {self.k}."
            )
        # Rank of i.i.d. uniforms within each unit's row: a uniformly random
        # permutation, so `rank < k` picks exactly k uniformly random positions.
        u = keras.random.uniform((units, fan_in), seed=self._seed)
        rank = ops.argsort(ops.argsort(u, axis=-1), axis=-1)
        mask = ops.cast(ops.less(rank, self.k), dtype or keras.config.floatx())
        values = keras.random.normal((units, fan_in), stddev=self.stddev, dtype=dtype, seed=self._seed + 1)
        return ops.reshape(ops.transpose(values * mask), shape)

    def get_config(self):
        return {**super().get_config(), "k": self.k, "stddev": self.stddev}
