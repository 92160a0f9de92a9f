"""RMSProp, with the lecture's placement of delta (outside the square root)."""

import keras
from keras import ops

from kerasreg._validation import check_float, check_learning_rate
from kerasreg.api_export import kerasreg_export


@kerasreg_export
class RMSProp(keras.optimizers.Optimizer):
    """RMSProp: AdaGrad with an exponentially weighted average of squared gradients.

    The lecture's update, for the mini-batch gradient ``g`` (element-wise):

    ```
    r <- rho * r + (1 - rho) * g^2
    W <- W - lambda / (delta + sqrt(r)) * g
    ```

    ``lambda`` is ``learning_rate``, ``rho`` is ``rho``, ``delta`` is
    ``epsilon``; ``r`` starts at 0.

    Departures: none from the lecture.  Keras' ``RMSprop`` puts its epsilon
    inside the square root, ``W <- W - lambda * g / sqrt(r + epsilon)``, and
    adds optional ``momentum`` and ``centered`` variants, which this class
    leaves out (the lecture has neither).  ``r`` is stored per weight as the
    optimizer variable ``velocity``, as Keras names it.

    Args:
        learning_rate: float > 0, a ``LearningRateSchedule`` or a callable.
            Defaults to ``0.001``.
        rho: float in [0, 1), the decay of the average. Defaults to ``0.9``.
        epsilon: float > 0, ``delta``. Defaults to ``1e-7``.
        **kwargs: the Keras base optimizer arguments (``weight_decay``,
            ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``use_ema``,
            ``ema_momentum``, ``ema_overwrite_frequency``,
            ``loss_scale_factor``, ``gradient_accumulation_steps``, ``name``),
            which behave as in Keras' own optimizers.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=kerasreg.optimizers.RMSProp(1e-3, rho=0.9), loss="mse")

    Reference:
        Hinton, Srivastava and Swersky, "Neural Networks for Machine
        Learning", lecture 6e, 2012
        (https://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf);
        Goodfellow, Bengio and Courville, "Deep Learning", 2016, Algorithm 8.5.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=check_learning_rate(learning_rate), **kwargs)
        self.rho = check_float("rho", rho, 0.0, 1.0, high_open=True)
        self.epsilon = check_float("epsilon", epsilon, 0.0, low_open=True)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._velocities = self.add_optimizer_variables(var_list, "velocity")

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        r = self._velocities[self._get_variable_index(variable)]
        self.assign(
            r, ops.add(ops.multiply(r, self.rho), ops.multiply(ops.square(gradient), 1.0 - self.rho))
        )
        self.assign_sub(
            variable,
            ops.divide(ops.multiply(learning_rate, gradient), ops.add(ops.sqrt(r), self.epsilon)),
        )

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "epsilon": self.epsilon})
        return config
