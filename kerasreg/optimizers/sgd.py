"""Plain stochastic gradient descent, as the lecture writes it."""

import keras
from keras import ops

from kerasreg._validation import check_learning_rate
from kerasreg.api_export import kerasreg_export


@kerasreg_export
class SGD(keras.optimizers.Optimizer):
    """Stochastic gradient descent.

    The lecture's update, for the mini-batch gradient
    ``g = 1/m sum_i grad_W L(f(x_i; W), y_i)``:

    ```
    W <- W - lambda * g
    ```

    ``lambda`` is ``learning_rate``.  No departures from the lecture.

    Args:
        learning_rate: float > 0, a ``LearningRateSchedule`` or a callable.
            Defaults to ``0.01``.
        **kwargs: the Keras base optimizer arguments (``weight_decay``,
            ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``use_ema``,
            ``ema_momentum``, ``ema_overwrite_frequency``,
            ``loss_scale_factor``, ``gradient_accumulation_steps``, ``name``),
            which behave as in Keras' own optimizers.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=kerasreg.optimizers.SGD(0.1), loss="mse")

    Reference:
        Robbins and Monro, "A Stochastic Approximation Method", 1951.
    """

    def __init__(self, learning_rate=0.01, **kwargs):
        super().__init__(learning_rate=check_learning_rate(learning_rate), **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        self.assign_sub(variable, ops.multiply(learning_rate, gradient))
