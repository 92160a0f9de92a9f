"""Gradient clipping around any optimizer, on the gradient summed over replicas."""

import keras
from keras import ops

from kerasreg import _keras_compat
from kerasreg._validation import check_bool, check_choice, check_float, check_int
from kerasreg.api_export import kerasreg_export
from kerasreg.optimizers.optimizer_wrapper import OptimizerWrapper, global_norm

MODES = ("norm", "global_norm", "value", "agc", "percentile")


@kerasreg_export
class GradientClipping(OptimizerWrapper):
    """Clip the gradient, then let the inner optimizer update with it.

    The lecture's rule (``mode="global_norm"``), for the gradient ``g`` of all
    trainable variables together and the threshold ``u``:

    ```
    if ||g|| > u:   g <- g * u / ||g||
    ```

    ``u`` is ``threshold``.  The other modes:

    * ``"norm"``: the same rule for each variable's gradient ``g_i`` alone.
    * ``"value"``: ``g <- clip(g, -u, u)`` elementwise.
    * ``"agc"`` (adaptive gradient clipping, Brock et al., 2021): for each
      output unit ``i`` (a slice along the last axis of a Keras kernel, as
      ``Dense`` ``(in, out)`` and ``Conv`` ``(..., in, out)`` store them; a
      vector or scalar is one unit) with weights ``W_i`` and gradient ``G_i``,
      ``if ||G_i|| / max(||W_i||, epsilon) > lambda: G_i <- lambda *
      max(||W_i||, epsilon) / ||G_i|| * G_i``; ``lambda`` is ``threshold``.
    * ``"percentile"`` (AutoClip, Seetharaman et al., 2020): append the
      global norm ``||g||`` to the history of norms, set ``u`` to the
      ``percentile``-th percentile of that history (numpy's linear
      interpolation) and clip by global norm; ``threshold`` is not used.

    Under ``tf.distribute`` every norm is that of the gradient summed over
    replicas (the gradient of the global batch), so 2 replicas train exactly
    as 1.  Keras' own ``global_clipnorm``/``clipnorm`` clip each replica's
    share before the all-reduce instead (tensorflow/tensorflow#33929).  The
    price is one extra all-reduce of the gradient per step.

    Departures: AutoClip's history is a ring buffer of the last
    ``history_size`` norms (the paper keeps all of them), stored in the
    optimizer so that it is saved with the model; the rules clip exactly at
    ``u`` (PyTorch's ``clip_grad_norm_`` divides by ``||g|| + 1e-6``).

    State, as non-trainable optimizer variables (read them in callbacks,
    e.g. ``kerasreg.callbacks.ClippingMonitor``):

    * ``global_norm``: pre-clip global norm of the (summed) gradient at the
      last step.
    * ``clipped``: 1.0 if the last step clipped anything, else 0.0.
    * ``clip_count``: cumulative number of steps that clipped.
    * ``skipped_steps``: cumulative number of non-finite steps skipped.
    * ``first_nonfinite``: index (into the trainable variables) of the first
      variable whose gradient was non-finite at the last such step, -1 if
      none yet; ``nonfinite_step``: that step's index (0-based, counted in
      ``iterations``), -1 if none.  ``nonfinite_variable_path()`` gives the
      variable's path.

    With ``skip_nonfinite=True`` a step whose gradient has a NaN or inf
    leaves the model and every optimizer slot untouched (the inner update is
    skipped in-graph) and adds 1 to ``skipped_steps``; without it, the step
    is applied and ``kerasreg.callbacks.StopOnNonFinite`` can stop training.

    Args:
        optimizer: the inner optimizer (Keras' or kerasreg's).
        mode: one of ``"global_norm"`` (default), ``"norm"``, ``"value"``,
            ``"agc"``, ``"percentile"``.
        threshold: float > 0; ``u`` (norm, global_norm, value) or ``lambda``
            (agc). Defaults to ``1.0``.
        percentile: float in (0, 100], AutoClip's ``p``. Defaults to ``10.0``.
        history_size: int >= 1, AutoClip's window. Defaults to ``1000``.
        epsilon: float > 0, AGC's floor on the weight norm. Defaults to ``1e-3``.
        skip_nonfinite: bool. Defaults to ``False``.
        name: optional name.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> opt = GradientClipping(kerasreg.optimizers.SGD(0.1), threshold=1.0)
    >>> model.compile(optimizer=opt, loss="mse")

    References:
        Pascanu, Mikolov, Bengio, "On the difficulty of training recurrent
        neural networks", 2013, https://arxiv.org/abs/1211.5063.
        Brock, De, Smith, Simonyan, "High-Performance Large-Scale Image
        Recognition Without Normalization", 2021, https://arxiv.org/abs/2102.06171.
        Seetharaman, Wichern, Pardo, Le Roux, "AutoClip: Adaptive Gradient
        Clipping for Source Separation Networks", 2020, https://arxiv.org/abs/2007.14469.
    """

    def __init__(self, optimizer, mode="global_norm", threshold=1.0, percentile=10.0,
                 history_size=1000, epsilon=1e-3, skip_nonfinite=False, name=None, **kwargs):
        super().__init__(optimizer, name=name, **kwargs)
        self.mode = check_choice("mode", mode, MODES)
        self.threshold = check_float("threshold", threshold, low=0.0, low_open=True)
        self.percentile = check_float("percentile", percentile, low=0.0, high=100.0, low_open=True)
        self.history_size = check_int("history_size", history_size, low=1)
        self.epsilon = check_float("epsilon", epsilon, low=0.0, low_open=True)
        self.skip_nonfinite = check_bool("skip_nonfinite", skip_nonfinite)

    def build(self, var_list):
        super().build(var_list)
        self.global_norm = self._add_state("global_norm")
        self.clipped = self._add_state("clipped")
        self.clip_count = self._add_state("clip_count", dtype="int32")
        self.skipped_steps = self._add_state("skipped_steps", dtype="int32")
        minus_one = keras.initializers.Constant(-1)
        self.first_nonfinite = self._add_state("first_nonfinite", dtype="int32", initializer=minus_one)
        self.nonfinite_step = self._add_state("nonfinite_step", dtype="int32", initializer=minus_one)
        if self.mode == "percentile":
            self.norm_history = self._add_state("norm_history", shape=(self.history_size,))
            self.history_count = self._add_state("history_count", dtype="int32")

    def nonfinite_variable_path(self):
        """Path of the variable whose gradient first went non-finite at the
        last non-finite step, or ``None`` (reads a variable: call eagerly)."""
        index = int(self.first_nonfinite.numpy())
        if index < 0:
            return None
        return _keras_compat.optimizer_trainable_variables(self)[index].path

    # -- the update ----------------------------------------------------------
    def _apply_wrapped(self, grads, variables):
        grads = self._global_gradient(grads)
        present = [i for i, g in enumerate(grads) if g is not None]
        norm = global_norm(grads)
        finite_each = ops.stack([ops.all(ops.isfinite(grads[i])) for i in present])
        finite = ops.all(finite_each)
        self._record_nonfinite(finite, finite_each, present)

        clipped_grads, did_clip = self._clip(grads, variables, norm, finite)
        did_clip = ops.logical_and(did_clip, finite)
        self.global_norm.assign(norm)
        self.clipped.assign(ops.cast(did_clip, "float32"))
        self.clip_count.assign_add(ops.cast(did_clip, "int32"))
        if self.skip_nonfinite:
            self.skipped_steps.assign_add(ops.cast(ops.logical_not(finite), "int32"))
            self._cond_apply(finite, self._apply_inner, clipped_grads, variables)
        else:
            self._apply_inner(clipped_grads, variables)

    def _record_nonfinite(self, finite, finite_each, present):
        indices = ops.convert_to_tensor(present, dtype="int32")
        first = ops.take(indices, ops.argmin(ops.cast(finite_each, "int32")))
        step = ops.cast(self.iterations, "int32")
        self.first_nonfinite.assign(ops.where(finite, self.first_nonfinite.value, first))
        self.nonfinite_step.assign(ops.where(finite, self.nonfinite_step.value, step))

    def _clip(self, grads, variables, norm, finite):
        """Return the clipped gradients and whether anything was clipped."""
        u = self.threshold
        if self.mode in ("global_norm", "percentile"):
            if self.mode == "percentile":
                u = self._autoclip_threshold(norm, finite)
            over = ops.greater(norm, u)
            factor = ops.where(over, u / ops.where(over, norm, 1.0), 1.0)
            return [None if g is None else g * ops.cast(factor, g.dtype) for g in grads], over
        out, flags = [], []
        for g, v in zip(grads, variables):
            if g is None:
                out.append(None)
                continue
            if self.mode == "value":
                new = ops.clip(g, -u, u)
                flags.append(ops.any(ops.greater(ops.abs(g), u)))
            else:
                g32 = ops.cast(g, "float32")
                if self.mode == "norm":
                    g_norm = ops.sqrt(ops.sum(ops.square(g32)))
                    limit = ops.convert_to_tensor(u, "float32")
                else:  # agc
                    g_norm = _unitwise_norm(g32)
                    w_norm = _unitwise_norm(ops.cast(v, "float32"))
                    limit = u * ops.maximum(w_norm, self.epsilon)
                over = ops.greater(g_norm, limit)
                factor = ops.where(over, limit / ops.where(over, g_norm, 1.0), 1.0)
                new = g * ops.cast(factor, g.dtype)
                flags.append(ops.any(over))
            out.append(new)
        return out, ops.any(ops.stack(flags))

    def _autoclip_threshold(self, norm, finite):
        """Push ``norm`` (if finite) into the ring buffer; its percentile."""
        size = self.history_size
        count = self.history_count.value
        slot = ops.arange(size, dtype="int32")
        pushed = ops.where(ops.equal(slot, ops.mod(count, size)), norm, self.norm_history.value)
        history = ops.where(finite, pushed, self.norm_history.value)
        count = count + ops.cast(finite, "int32")
        self.norm_history.assign(history)
        self.history_count.assign(count)
        n = ops.maximum(ops.minimum(count, size), 1)
        ordered = ops.sort(ops.where(ops.less(slot, n), history, float("inf")))
        position = ops.cast(n - 1, "float32") * (self.percentile / 100.0)
        low = ops.cast(ops.floor(position), "int32")
        high = ops.minimum(low + 1, n - 1)
        fraction = position - ops.cast(low, "float32")
        lo, hi = ops.take(ordered, low), ops.take(ordered, high)
        return lo + fraction * (hi - lo)

    def get_config(self):
        config = super().get_config()
        config.update({
            "mode": self.mode,
            "threshold": self.threshold,
            "percentile": self.percentile,
            "history_size": self.history_size,
            "epsilon": self.epsilon,
            "skip_nonfinite": self.skip_nonfinite,
        })
        return config


def _unitwise_norm(x):
    """L2 norm per output unit (all axes but the last); whole norm for ndim <= 1."""
    if len(x.shape) <= 1:
        return ops.sqrt(ops.sum(ops.square(x)))
    return ops.sqrt(ops.sum(ops.square(x), axis=tuple(range(len(x.shape) - 1)), keepdims=True))
