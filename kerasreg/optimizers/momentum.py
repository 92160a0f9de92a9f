"""Gradient descent with momentum, in the lecture's (dampened) form."""

import keras
from keras import ops

from kerasreg._validation import check_float, check_learning_rate
from kerasreg.api_export import kerasreg_export


@kerasreg_export
class Momentum(keras.optimizers.Optimizer):
    """Gradient descent with momentum.

    The lecture's update, for the mini-batch gradient ``g``:

    ```
    v <- alpha * v + (1 - d) * g
    W <- W - lambda * v
    ```

    with ``v`` starting at 0.  ``lambda`` is ``learning_rate``, ``alpha`` is
    ``momentum`` and ``d`` is ``dampening``.  The lecture writes ``d = alpha``
    (an exponentially weighted average of the gradients), which is what
    ``dampening=None`` gives; ``dampening=0`` gives Polyak's heavy ball
    ``v <- alpha * v + g`` (PyTorch's ``SGD(momentum=..., dampening=0)``).

    Departures: none from the lecture.  Keras' ``SGD(momentum=alpha)`` is the
    heavy ball with the learning rate folded into its velocity
    (``m <- alpha * m - lambda * g; W <- W + m``); it equals
    ``Momentum(dampening=0)`` for a constant learning rate, but not for a
    learning-rate schedule, where ours scales the whole velocity by the
    current rate.  ``v`` is stored per weight as the optimizer variable
    ``velocity``.

    Args:
        learning_rate: float > 0, a ``LearningRateSchedule`` or a callable.
            Defaults to ``0.01``.
        momentum: float in [0, 1), ``alpha``. Defaults to ``0.9``.
        dampening: float in [0, 1] or ``None`` (``d = momentum``, the
            lecture's form), ``d``. Defaults to ``None``.
        **kwargs: the Keras base optimizer arguments (``weight_decay``,
            ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``use_ema``,
            ``ema_momentum``, ``ema_overwrite_frequency``,
            ``loss_scale_factor``, ``gradient_accumulation_steps``, ``name``),
            which behave as in Keras' own optimizers.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=kerasreg.optimizers.Momentum(0.1, momentum=0.9),
    ...               loss="mse")

    Reference:
        Polyak, "Some methods of speeding up the convergence of iteration
        methods", 1964; Goodfellow, Bengio and Courville, "Deep Learning",
        2016, Section 8.3.2 (https://www.deeplearningbook.org/).
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, dampening=None, **kwargs):
        super().__init__(learning_rate=check_learning_rate(learning_rate), **kwargs)
        self.momentum = check_float("momentum", momentum, 0.0, 1.0, high_open=True)
        self.dampening = check_float("dampening", dampening, 0.0, 1.0, allow_none=True)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._velocities = self.add_optimizer_variables(var_list, "velocity")

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        v = self._velocities[self._get_variable_index(variable)]
        d = self.momentum if self.dampening is None else self.dampening
        if d != 0.0:
            gradient = ops.multiply(gradient, 1.0 - d)
        self.assign(v, ops.add(ops.multiply(v, self.momentum), gradient))
        self.assign_sub(variable, ops.multiply(v, learning_rate))

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "dampening": self.dampening})
        return config
