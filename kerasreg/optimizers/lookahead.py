"""Lookahead: k fast steps forward, one step back (Zhang et al., 2019)."""

from keras import ops

from kerasreg._validation import check_float, check_int
from kerasreg.api_export import kerasreg_export
from kerasreg.optimizers.optimizer_wrapper import OptimizerWrapper


@kerasreg_export
class Lookahead(OptimizerWrapper):
    """Lookahead around any optimizer.

    The fast weights ``theta`` take ``k`` steps of the inner optimizer from
    the slow weights ``phi``; then (Zhang et al., Algorithm 1):

    ```
    phi   <- phi + alpha * (theta - phi)
    theta <- phi
    ```

    ``k`` is ``sync_period`` and ``alpha`` is ``slow_step_size``.  ``phi``
    starts at the weights the first step sees.

    Details: ``phi`` is stored as optimizer slots (one per trainable
    variable, saved with the model) and refreshed from ``theta`` at the start
    of every period, where the two are equal anyway; so weights loaded or set
    between periods are picked up.  Periods count the inner optimizer's
    updates (its ``iterations``), so inner gradient accumulation is honoured.
    The inner optimizer's state (momentum, moments) is kept across a sync,
    as in the paper's experiments.

    Args:
        optimizer: the inner optimizer (Keras' or kerasreg's).
        sync_period: int >= 1, ``k``. Defaults to ``5``.
        slow_step_size: float in (0, 1], ``alpha``. Defaults to ``0.5``.
        name: optional name.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> opt = Lookahead(keras.optimizers.Adam(1e-3), sync_period=6)
    >>> model.compile(optimizer=opt, loss="mse")

    Reference:
        Zhang, Lucas, Hinton, Ba, "Lookahead Optimizer: k steps forward,
        1 step back", 2019, https://arxiv.org/abs/1907.08610.
    """

    def __init__(self, optimizer, sync_period=5, slow_step_size=0.5, name=None, **kwargs):
        super().__init__(optimizer, name=name, **kwargs)
        self.sync_period = check_int("sync_period", sync_period, low=1)
        self.slow_step_size = check_float("slow_step_size", slow_step_size, low=0.0, high=1.0,
                                          low_open=True)

    def build(self, var_list):
        super().build(var_list)
        self.slow_weights = self.add_optimizer_variables(var_list, "slow")

    def _apply_wrapped(self, grads, variables):
        k = self.sync_period
        before = ops.add(self.optimizer.iterations, 0)  # a snapshot, not the variable
        starts = ops.equal(ops.mod(before, k), 0)
        pairs = [(v, self.slow_weights[self._get_variable_index(v)]) for v in variables]
        pairs = [(v, s) for v, s in pairs if s is not None]
        for v, slow in pairs:
            slow.assign(ops.where(starts, v.value, slow.value))
        self.optimizer.apply(grads, variables)
        after = ops.add(self.optimizer.iterations, 0)
        sync = ops.logical_and(ops.not_equal(after, before), ops.equal(ops.mod(after, k), 0))
        alpha = self.slow_step_size
        for v, slow in pairs:
            phi = slow.value + ops.cast(alpha, v.dtype) * (v.value - slow.value)
            slow.assign(ops.where(sync, phi, slow.value))
            v.assign(ops.where(sync, phi, v.value))

    def get_config(self):
        config = super().get_config()
        config.update({"sync_period": self.sync_period, "slow_step_size": self.slow_step_size})
        return config
