"""Nesterov momentum with the gradient taken at the interim point."""

import keras
from keras import ops

from kerasreg import _keras_compat
from kerasreg._validation import check_float, check_learning_rate
from kerasreg.api_export import kerasreg_export


@kerasreg_export
class Nesterov(keras.optimizers.Optimizer):
    """Nesterov momentum: the gradient is evaluated at the interim point.

    Goodfellow, Bengio and Courville's Algorithm 8.3, for the mini-batch loss
    ``L`` (element-wise, ``v`` starting at 0):

    ```
    theta~ = theta + alpha * v                  (interim point)
    g      = 1/m sum_i grad L(f(x_i; theta~), y_i)
    v     <- alpha * v - lambda * g
    theta <- theta + v
    ```

    ``lambda`` is ``learning_rate`` and ``alpha`` is ``momentum``.

    The slide writes the interim point as ``theta + v``; this class follows
    Algorithm 8.3 (and Sutskever et al., 2013), ``theta + alpha * v``, because
    that is where the momentum part of the coming step, ``alpha * v``, lands
    before the correction ``-lambda * g``: the gradient is looked up exactly
    where the step is about to go.  With ``theta + v`` the look-ahead
    overshoots by ``(1 - alpha) * v``, and at ``alpha = 0`` it would not
    reduce to plain gradient descent (the gradient would be taken at
    ``theta - lambda * g_prev`` instead of ``theta``).

    How Keras sees it: Keras computes the gradient at the model's variables,
    so during training the variables hold the interim point ``theta~``;
    after each update they are set to ``theta_new + alpha * v_new``, so the
    next gradient is taken at the next interim point, literally.  ``v`` is
    the optimizer variable ``velocity``.  When ``fit`` ends, Keras calls
    ``finalize_variable_values``, which moves the variables back to ``theta``
    (``move_to_theta``), so the trained model, ``evaluate`` and ``save``
    after ``fit`` see ``theta``.  During training, validation and
    checkpoints see ``theta~`` unless you add the
    ``kerasreg.callbacks.SwapNesterovWeights`` callback (listed before
    ``ModelCheckpoint``), which swaps ``theta`` in for evaluation, prediction
    and at each epoch's end, as Keras' ``SwapEMAWeights`` does for EMA
    weights.

    Departures and interactions:

    - A second ``fit`` (or training a reloaded model) starts from ``theta``
      with the saved ``v``.  With ``SwapNesterovWeights`` its
      ``on_train_begin`` moves the variables to ``theta + alpha * v`` first,
      and training resumes exactly.  Without it, the first step takes its
      gradient at ``theta`` (that one step is a heavy-ball momentum step,
      ``v <- alpha * v - lambda * g(theta)``) and every later step is exact.
      Per-variable flags (optimizer variables ``at_theta``) record which
      point the variables hold, so moving twice is harmless.
    - ``weight_decay`` shrinks the variable Keras holds, i.e. the interim
      point, before the update (``theta~ <- theta~ - lambda * wd * theta~``),
      and ``use_ema`` averages the interim points; both as the Keras base
      class does for every optimizer.
    - Keras' ``SGD(momentum, nesterov=True)`` keeps ``theta`` in the
      variables and uses the rewritten update
      ``theta <- theta + alpha * v_new - lambda * g`` with the gradient taken
      at ``theta``; the two give the same ``theta`` sequence only after the
      change of variables ``theta' = theta + alpha * v``.

    Args:
        learning_rate: float > 0, a ``LearningRateSchedule`` or a callable.
            Defaults to ``0.01``.
        momentum: float in [0, 1), ``alpha``. Defaults to ``0.9``.
        **kwargs: the Keras base optimizer arguments (``weight_decay``,
            ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``use_ema``,
            ``ema_momentum``, ``ema_overwrite_frequency``,
            ``loss_scale_factor``, ``gradient_accumulation_steps``, ``name``),
            which behave as in Keras' own optimizers (see above).

    Example:

    >>> x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    >>> y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32")
    >>> xv, yv = x[:16], y[:16]
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=kerasreg.optimizers.Nesterov(0.05), loss="mse")
    >>> history = model.fit(x, y, validation_data=(xv, yv), verbose=0,
    ...                     callbacks=[kerasreg.callbacks.SwapNesterovWeights()])

    Reference:
        Goodfellow, Bengio and Courville, "Deep Learning", 2016, Algorithm 8.3
        (https://www.deeplearningbook.org/contents/optimization.html);
        Sutskever, Martens, Dahl and Hinton, "On the importance of
        initialization and momentum in deep learning", ICML 2013.
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, **kwargs):
        super().__init__(learning_rate=check_learning_rate(learning_rate), **kwargs)
        self.momentum = check_float("momentum", momentum, 0.0, 1.0, high_open=True)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._velocities = self.add_optimizer_variables(var_list, "velocity")
        # 1.0 while a variable holds theta (after finalize), 0.0 while it
        # holds the interim point theta + alpha * v.
        self._at_theta = [
            None
            if v is None
            else self.add_variable(
                shape=(), dtype=var.dtype, name=f"{var.path.replace('/', '_')}_at_theta"
            )
            for var, v in zip(var_list, self._velocities)
        ]

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        index = self._get_variable_index(variable)
        v = self._velocities[index]
        at_theta = self._at_theta[index]
        alpha = self.momentum
        # theta = variable - held * v, where held = alpha (interim) or 0.
        held = ops.multiply(ops.subtract(1.0, at_theta), alpha)
        v_new = ops.subtract(ops.multiply(v, alpha), ops.multiply(gradient, learning_rate))
        # variable <- theta + v_new + alpha * v_new
        step = ops.subtract(ops.multiply(v_new, 1.0 + alpha), ops.multiply(v, held))
        self.assign(v, v_new)
        self.assign_add(variable, step)
        self.assign(at_theta, ops.zeros((), variable.dtype))

    def _move(self, var_list, to_theta):
        if not self.built:
            return
        if var_list is None:
            var_list = _keras_compat.optimizer_trainable_variables(self)
        for var in var_list:
            index = _keras_compat.optimizer_variable_index(self, var)
            if index is None or self._velocities[index] is None:
                continue
            v, at_theta = self._velocities[index], self._at_theta[index]
            if to_theta:
                var.assign(var - ops.multiply(v, self.momentum * (1.0 - at_theta)))
                at_theta.assign(ops.ones((), at_theta.dtype))
            else:
                var.assign(var + ops.multiply(v, self.momentum * at_theta))
                at_theta.assign(ops.zeros((), at_theta.dtype))

    def move_to_theta(self, var_list=None):
        """Set the variables to ``theta`` (no-op for those already there)."""
        self._move(var_list, to_theta=True)

    def move_to_interim(self, var_list=None):
        """Set the variables to ``theta + alpha * v`` (no-op for those already there)."""
        self._move(var_list, to_theta=False)

    def holds_theta(self):
        """Whether the variables currently hold ``theta`` (True before ``build``)."""
        if not self.built:
            return True
        flags = [f for f in self._at_theta if f is not None]
        return all(float(ops.convert_to_numpy(f)) == 1.0 for f in flags)

    def finalize_variable_values(self, var_list):
        """End of ``fit``: move the variables to ``theta``, then the base
        class' finalization (EMA overwrite if ``use_ema``)."""
        self.move_to_theta(var_list)
        super().finalize_variable_values(var_list)

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum})
        return config
