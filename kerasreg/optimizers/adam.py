"""Adam, as Kingma and Ba's Algorithm 1 and the lecture write it."""

import keras
from keras import ops

from kerasreg._validation import check_float, check_learning_rate
from kerasreg.api_export import kerasreg_export


@kerasreg_export
class Adam(keras.optimizers.Optimizer):
    """Adam: RMSProp plus momentum, with bias-corrected moment estimates.

    The lecture's update (Kingma and Ba's Algorithm 1), for the mini-batch
    gradient ``g`` at step ``t = 1, 2, ...`` (element-wise):

    ```
    v <- beta_1 * v + (1 - beta_1) * g
    r <- beta_2 * r + (1 - beta_2) * g^2
    v_hat = v / (1 - beta_1^t)
    r_hat = r / (1 - beta_2^t)
    W <- W - lambda * v_hat / (delta + sqrt(r_hat))
    ```

    ``lambda`` is ``learning_rate``, ``beta_1`` and ``beta_2`` are the lecture's
    ``rho_1`` and ``rho_2``, ``delta`` is ``epsilon``; ``v`` and ``r`` start at
    0.  The code evaluates the last line in the algebraically equal form
    ``W <- W - a_t * v / (delta * s_t + sqrt(r))`` with the scalars
    ``s_t = sqrt(1 - beta_2^t)`` and ``a_t = lambda * s_t / (1 - beta_1^t)``,
    which costs no more element-wise work than Keras' own ``Adam``.

    Departures: none from the lecture.  Keras' ``Adam`` uses the "epsilon hat"
    form from the end of Kingma and Ba's Section 2,
    ``W <- W - a_t * v / (epsilon_hat + sqrt(r))`` with a constant
    ``epsilon_hat``; that equals this rule with a step-dependent
    ``delta = epsilon_hat / sqrt(1 - beta_2^t)``, so the two differ in the
    first steps (most when ``sqrt(r)`` is comparable to epsilon) and agree as
    ``t`` grows.  The default ``epsilon`` here is the paper's ``1e-8``, Keras'
    is ``1e-7``.  ``v`` and ``r`` are stored per weight as the optimizer
    variables ``momentum`` and ``velocity``, as Keras names them.

    Args:
        learning_rate: float > 0, a ``LearningRateSchedule`` or a callable.
            Defaults to ``0.001``.
        beta_1: float in [0, 1), decay of the first moment. Defaults to ``0.9``.
        beta_2: float in [0, 1), decay of the second moment. Defaults to
            ``0.999``.
        epsilon: float > 0, ``delta``. Defaults to ``1e-8``.
        **kwargs: the Keras base optimizer arguments (``weight_decay``,
            ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``use_ema``,
            ``ema_momentum``, ``ema_overwrite_frequency``,
            ``loss_scale_factor``, ``gradient_accumulation_steps``, ``name``),
            which behave as in Keras' own optimizers.  With
            ``gradient_accumulation_steps``, ``t`` counts updates, not
            micro-batches, as in Keras.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="kerasreg>Adam", loss="mse")

    Reference:
        Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR
        2015 (https://arxiv.org/abs/1412.6980), Algorithm 1.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8, **kwargs):
        super().__init__(learning_rate=check_learning_rate(learning_rate), **kwargs)
        self.beta_1 = check_float("beta_1", beta_1, 0.0, 1.0, high_open=True)
        self.beta_2 = check_float("beta_2", beta_2, 0.0, 1.0, high_open=True)
        self.epsilon = check_float("epsilon", epsilon, 0.0, low_open=True)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        learning_rate = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        t = ops.cast(self.iterations + 1, dtype)
        correction_1 = 1.0 - ops.power(ops.cast(self.beta_1, dtype), t)
        s = ops.sqrt(1.0 - ops.power(ops.cast(self.beta_2, dtype), t))
        a = ops.divide(ops.multiply(learning_rate, s), correction_1)
        index = self._get_variable_index(variable)
        v = self._momentums[index]
        r = self._velocities[index]
        self.assign(v, ops.add(ops.multiply(v, self.beta_1), ops.multiply(gradient, 1.0 - self.beta_1)))
        self.assign(
            r, ops.add(ops.multiply(r, self.beta_2), ops.multiply(ops.square(gradient), 1.0 - self.beta_2))
        )
        self.assign_sub(
            variable,
            ops.divide(ops.multiply(v, a), ops.add(ops.sqrt(r), ops.multiply(s, self.epsilon))),
        )

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
