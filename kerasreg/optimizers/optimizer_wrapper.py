"""The shared base of kerasreg's optimizer wrappers (Lookahead, clipping, noise)."""

import keras
from keras import ops

from kerasreg import _keras_compat
from kerasreg.distribute.replicas import cross_replica_sum, num_replicas_in_sync, replica_cond

# Keras' base optimizer arguments with their defaults.  A wrapper has no
# learning rate or update of its own, so these belong on the inner optimizer
# (where they keep working: the wrapper calls its full ``apply``).
_BASE_DEFAULTS = {
    "learning_rate": None,
    "weight_decay": None,
    "clipnorm": None,
    "clipvalue": None,
    "global_clipnorm": None,
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}


class OptimizerWrapper(keras.optimizers.Optimizer):
    """Base class: a ``keras.optimizers.Optimizer`` around any inner optimizer.

    A subclass overrides ``_apply_wrapped(grads, variables)`` (and ``build``
    for its own state), calling ``self._apply_inner(grads, variables)`` to run
    the inner optimizer's complete ``apply`` — so the inner optimizer's Keras
    base arguments (``weight_decay``, ``use_ema``, ``gradient_accumulation_steps``,
    ``loss_scale_factor``, ...) behave exactly as without the wrapper.

    What the base provides:

    * ``variables`` is the wrapper's own state followed by the inner
      optimizer's, so ``.keras`` files, checkpoints and JAX's
      ``stateless_apply`` carry both.
    * ``learning_rate``, ``scale_loss`` and ``finalize_variable_values`` are
      the inner optimizer's; ``iterations`` counts calls to ``apply``.
    * ``_global_gradient(grads)``: the gradient summed over ``tf.distribute``
      replicas (and divided by the inner optimizer's ``loss_scale_factor``),
      and ``_apply_inner(G, variables)``, which hands ``G`` back in the form
      the inner optimizer's own all-reduce turns into exactly ``G``.
    * ``_cond_apply(pred, fn, *args)``: run a stateful ``fn`` (e.g. the inner
      update) only when ``pred``, in-graph, on every backend and under
      ``tf.distribute``.
    * ``get_config`` / ``from_config`` that serialize the inner optimizer.

    Args:
        optimizer: the inner ``keras.optimizers.Optimizer`` (Keras' or
            kerasreg's), or anything ``keras.optimizers.get`` accepts.
        name: optional name of the wrapper.
        **kwargs: Keras' base optimizer arguments are accepted only at their
            defaults (so configs of other tools load); anything else raises
            a ``ValueError`` saying to set it on the inner optimizer.
    """

    def __init__(self, optimizer, name=None, **kwargs):
        for arg, default in _BASE_DEFAULTS.items():
            if arg in kwargs:
                value = kwargs.pop(arg)
                if value is not default and value != default:
                    raise ValueError(
                        f"{type(self).__name__} does not take `{arg}`; set `{arg}` on "
                        f"the inner `optimizer` instead (got {arg}={value!r})."
                    )
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected arguments {sorted(kwargs)}.")
        super().__init__(learning_rate=0.0, name=name)
        if isinstance(optimizer, (str, dict)):
            try:
                optimizer = keras.optimizers.get(optimizer)
            except ValueError as e:
                raise ValueError(f"`optimizer`: {e}") from e
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            raise TypeError(
                f"`optimizer` must be a keras.optimizers.Optimizer (Keras' or kerasreg's), "
                f"got {optimizer!r} of type {type(optimizer).__name__}."
            )
        self.optimizer = optimizer

    # -- state -----------------------------------------------------------
    def build(self, var_list):
        if not self.optimizer.built:
            self.optimizer.build(var_list)
        super().build(var_list)

    @property
    def variables(self):
        return super().variables + list(self.optimizer.variables)

    def _add_state(self, name, shape=(), dtype="float32", initializer="zeros"):
        """A non-trainable optimizer variable, identical on every replica."""
        return self.add_variable(
            shape=shape, dtype=dtype, initializer=initializer,
            aggregation="only_first_replica", name=name,
        )

    # -- delegated to the inner optimizer -----------------------------------
    @property
    def learning_rate(self):
        return self.optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self.optimizer.learning_rate = learning_rate

    def scale_loss(self, loss):
        return self.optimizer.scale_loss(loss)

    def finalize_variable_values(self, var_list):
        self.optimizer.finalize_variable_values(var_list)

    # -- the update ----------------------------------------------------------
    def apply(self, grads, trainable_variables=None):
        grads = list(grads)
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `trainable_variables`, the optimizer "
                    "must already be built; call `optimizer.build(variables)` first."
                )
            trainable_variables = _keras_compat.optimizer_trainable_variables(self)
        else:
            trainable_variables = list(trainable_variables)
            if not self.built:
                if not self.optimizer.built:
                    # Outside our name scope, so that its variables' paths are
                    # the same as when Keras builds a loaded model's optimizer.
                    self.optimizer.build(trainable_variables)
                with keras.name_scope(self.name, caller=self):
                    self.build(trainable_variables)
                self.built = True
            _keras_compat.check_variables_are_known(self, trainable_variables)
        if len(grads) == 0:
            return
        with keras.name_scope(self.name, caller=self):
            self._apply_wrapped(grads, trainable_variables)
        self.iterations.assign_add(1)

    def _apply_wrapped(self, grads, variables):
        """Override: transform ``grads`` and call ``self._apply_inner``."""
        self.optimizer.apply(grads, variables)

    def _global_gradient(self, grads):
        """The unscaled gradient summed over replicas (``None`` entries kept)."""
        grads = cross_replica_sum(grads)
        scale = self.optimizer.loss_scale_factor
        if scale is not None:
            grads = [None if g is None else g / scale for g in grads]
        return grads

    def _apply_inner(self, global_grads, variables):
        """Run the inner optimizer on a gradient made by ``_global_gradient``.

        Undoes what ``_global_gradient`` did: multiplies by the inner
        ``loss_scale_factor`` (the inner ``apply`` divides by it) and divides
        by the number of replicas (the inner ``apply`` sums over them).
        """
        factor = 1.0 / num_replicas_in_sync()
        if self.optimizer.loss_scale_factor is not None:
            factor *= self.optimizer.loss_scale_factor
        if factor != 1.0:
            global_grads = [
                None if g is None else g * ops.cast(factor, g.dtype) for g in global_grads
            ]
        self.optimizer.apply(global_grads, variables)

    def _cond_apply(self, pred, fn, *args):
        """Run the stateful ``fn(*args)`` only where ``pred`` holds, in-graph.

        TensorFlow: a ``tf.cond`` (taken in the cross-replica context under
        ``tf.distribute``, since ``fn`` may ``merge_call``).  JAX: both the
        update and the identity are computed functionally and ``ops.cond``
        selects the new values of every model and optimizer variable (JAX
        forbids side effects inside ``lax.cond``).  Other backends: ``if``.
        """
        if keras.backend.backend() != "jax":
            replica_cond(pred, fn, lambda *a: None, args=args)
            return
        state = list(_keras_compat.optimizer_trainable_variables(self)) + self.variables

        def run(branch):
            def traced():
                mapping = [(v, v.value) for v in state]
                with keras.StatelessScope(state_mapping=mapping) as scope:
                    branch(*args)
                return [scope.get_current_value(v) for v in state]

            return traced

        new_values = ops.cond(pred, run(fn), run(lambda *a: None))
        for v, value in zip(state, new_values):
            v.assign(value)

    # -- serialization -----------------------------------------------------
    def get_config(self):
        return {"name": self.name, "optimizer": keras.saving.serialize_keras_object(self.optimizer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if "optimizer" not in config:  # e.g. compile(optimizer="kerasreg>GradientClipping"): no inner optimizer
            raise ValueError(
                f"`{cls.__name__}` wraps another optimizer, so it cannot be made from its name alone "
                f"(got the config {config!r}). Pass an instance, e.g. "
                f"`model.compile(optimizer=kerasreg.optimizers.{cls.__name__}(kerasreg.optimizers.Adam(1e-3)))`."
            )
        optimizer = keras.saving.deserialize_keras_object(config.pop("optimizer"), custom_objects=custom_objects)
        return cls(optimizer, **config)


def global_norm(tensors):
    """sqrt(sum_i ||t_i||^2) over the non-``None`` tensors, in float32."""
    squares = [ops.sum(ops.square(ops.cast(t, "float32"))) for t in tensors if t is not None]
    return ops.sqrt(ops.sum(ops.stack(squares)))
