"""AdaGrad, with the lecture's placement of delta (outside the square root)."""

import keras
from keras import initializers, ops

from kerasreg._validation import check_float, check_learning_rate
from kerasreg.api_export import kerasreg_export


@kerasreg_export
class AdaGrad(keras.optimizers.Optimizer):
    """AdaGrad: per-parameter learning rates from the accumulated squared gradient.

    The lecture's update, for the mini-batch gradient ``g`` (element-wise):

    ```
    r <- r + g^2
    W <- W - lambda / (delta + sqrt(r)) * g
    ```

    ``lambda`` is ``learning_rate``, ``delta`` is ``epsilon`` and ``r`` starts
    at ``initial_accumulator_value``.

    Departures: none from the lecture.  Keras' ``Adagrad`` puts its epsilon
    inside the square root, ``W <- W - lambda * g / sqrt(r + epsilon)``, and
    defaults to ``initial_accumulator_value=0.1`` and ``learning_rate=0.001``;
    here ``delta`` is added to ``sqrt(r)`` as in the lecture and in Duchi et
    al., so the first step with ``r_0 = 0`` moves each weight by about
    ``lambda * sign(g)``.  ``r`` is stored per weight as the optimizer
    variable ``accumulator``.

    Args:
        learning_rate: float > 0, a ``LearningRateSchedule`` or a callable.
            Defaults to ``0.01``.
        epsilon: float > 0, ``delta``. Defaults to ``1e-7``.
        initial_accumulator_value: float >= 0, the starting value of ``r``.
            Defaults to ``0.0``.
        **kwargs: the Keras base optimizer arguments (``weight_decay``,
            ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``use_ema``,
            ``ema_momentum``, ``ema_overwrite_frequency``,
            ``loss_scale_factor``, ``gradient_accumulation_steps``, ``name``),
            which behave as in Keras' own optimizers.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=kerasreg.optimizers.AdaGrad(0.05), loss="mse")

    Reference:
        Duchi, Hazan and Singer, "Adaptive Subgradient Methods for Online
        Learning and Stochastic Optimization", JMLR 2011
        (https://jmlr.org/papers/v12/duchi11a.html); Goodfellow, Bengio and
        Courville, "Deep Learning", 2016, Algorithm 8.4.
    """

    def __init__(self, learning_rate=0.01, epsilon=1e-7, initial_accumulator_value=0.0, **kwargs):
        super().__init__(learning_rate=check_learning_rate(learning_rate), **kwargs)
        self.epsilon = check_float("epsilon", epsilon, 0.0, low_open=True)
        self.initial_accumulator_value = check_float(
            "initial_accumulator_value", initial_accumulator_value, 0.0
        )

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulators = self.add_optimizer_variables(
            var_list, "accumulator", initializer=initializers.Constant(self.initial_accumulator_value)
        )

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        r = self._accumulators[self._get_variable_index(variable)]
        self.assign_add(r, ops.square(gradient))
        self.assign_sub(
            variable,
            ops.divide(ops.multiply(learning_rate, gradient), ops.add(ops.sqrt(r), self.epsilon)),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {"epsilon": self.epsilon, "initial_accumulator_value": self.initial_accumulator_value}
        )
        return config
