"""Grouping copies by configuration: one vectorized sub-program per group, per-copy scalars substituted."""

import json

import keras
import numpy as np

from kerasreg import _keras_compat


# Scalar hyperparameters that may differ between the copies of one group, by registered class:
# attributes that the component reads only through keras.ops, so that during tracing a
# per-copy scalar tensor can stand in for the Python float (see _substituted); and
# attributes that are already non-trainable variables (they vary per copy like weights).
# Penalties and constraints are found on the model's variables, layers among all its
# (nested) layers.
_SUBSTITUTED = {
    "kerasreg>L1": ("alpha",),
    "kerasreg>L2": ("alpha",),
    "kerasreg>L2Ball": ("max_norm",),
    "kerasreg>L1Ball": ("radius",),
}
_LAYER_SUBSTITUTED = {
    "kerasreg>Dropout": ("rate",),
    "kerasreg>RandomShift": ("max_shift",),
}
_IN_VARIABLES = {"kerasreg>WeightNoise": ("stddev",)}


def _registered_name(obj):
    return keras.saving.get_registered_name(type(obj))


def _strip(config):
    """A config without the entries that may differ between copies of one group."""
    if isinstance(config, dict):
        name = config.get("registered_name")
        per_copy = _SUBSTITUTED.get(name, ()) + _LAYER_SUBSTITUTED.get(name, ()) + _IN_VARIABLES.get(name, ())
        if per_copy and isinstance(config.get("config"), dict):
            config = {**config, "config": {k: v for k, v in config["config"].items() if k not in per_copy}}
        return {k: _strip(v) for k, v in config.items() if k not in ("name", "seed")}
    if isinstance(config, (list, tuple)):
        return [_strip(v) for v in config]
    return config


def _group_key(model, optimizer):
    try:
        model_config = model.get_config()
    except Exception as error:  # noqa: BLE001
        raise ValueError(
            f"`model_fn` returned a model whose get_config() fails ({error}); kerasreg.stacked groups copies "
            "by configuration, so the model must be serializable (Sequential or Functional)."
        ) from None
    key = [type(model).__name__, _strip(model_config), type(optimizer).__name__,
           _strip(_without_learning_rate(optimizer.get_config()))]
    return json.dumps(key, sort_keys=True, default=repr)


def _without_learning_rate(config):
    """An optimizer config (wrappers' inner ones included) without numeric learning rates (variables per copy)."""
    if isinstance(config, dict):
        return {k: _without_learning_rate(v) for k, v in config.items()
                if not (k == "learning_rate" and isinstance(v, (int, float)))}
    if isinstance(config, (list, tuple)):
        return [_without_learning_rate(v) for v in config]
    return config


def _check_optimizer(optimizer, i):
    """Reject the optimizer wrappers whose update cannot run stacked (an in-graph conditional update)."""
    from kerasreg.optimizers import GradientClipping, GradientMonitoring

    seen = optimizer
    while isinstance(seen, keras.optimizers.Optimizer):
        if isinstance(seen, GradientMonitoring):
            raise ValueError(f"`optimizer_fn(copies[{i}])`: GradientMonitoring is not supported by kerasreg.stacked "
                             "(its every-N-steps record is an in-graph conditional update); pass "
                             "`gradient_norms=True` to `stacked.fit` for per-layer gradient norms instead.")
        if isinstance(seen, GradientClipping) and seen.skip_nonfinite:
            raise ValueError(f"`optimizer_fn(copies[{i}])`: GradientClipping(skip_nonfinite=True) is not supported by "
                             "kerasreg.stacked (its skipped update is an in-graph conditional update); use "
                             "skip_nonfinite=False.")
        seen = getattr(seen, "optimizer", None)


def _sites(model):
    """``(component, attribute)`` of each substitutable scalar: penalties and constraints on
    ``model``'s trainable variables, then its layers' (nested ones included)."""
    sites, seen = [], set()
    for variable in model.trainable_variables:
        for component in (variable.regularizer, variable.constraint):
            if component is None or id(component) in seen:
                continue
            seen.add(id(component))
            sites += [(component, attr) for attr in _SUBSTITUTED.get(_registered_name(component), ())]
    for layer in _keras_compat.all_layers(model):
        sites += [(layer, attr) for attr in _LAYER_SUBSTITUTED.get(_registered_name(layer), ())]
    return sites


class _substituted:
    """Within this block each site's attribute is the matching entry of ``values`` (a traced scalar)."""

    def __init__(self, sites, values):
        self.sites, self.values = sites, values

    def __enter__(self):
        self.saved = [getattr(obj, attr) for obj, attr in self.sites]
        for j, (obj, attr) in enumerate(self.sites):
            setattr(obj, attr, self.values[j])

    def __exit__(self, *exc):
        for (obj, attr), value in zip(self.sites, self.saved):
            setattr(obj, attr, value)


def _numpy(variables):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


class _Group:
    """Copies that share one configuration: one template model, stacked variable values."""

    def __init__(self, members, models, optimizers, vectorized=True):
        self.members = members  # indices into copies
        self.vectorized = vectorized  # False: one copy, trained without a vectorizing transformation
        self.model = models[0]
        optimizer = _keras_compat.stateless_optimizer(optimizers[0])
        optimizer.build(self.model.trainable_variables)
        self.optimizer = optimizer
        tv = [_numpy(m.trainable_variables) for m in models]
        ntv = [_numpy(m.non_trainable_variables) for m in models]
        for i, m in enumerate(models[1:], 1):
            shapes = [v.shape for v in tv[i]] + [v.shape for v in ntv[i]]
            if shapes != [v.shape for v in tv[0]] + [v.shape for v in ntv[0]]:
                raise ValueError(f"`model_fn`: copy {members[i]} has different variable shapes from copy {members[0]} "
                                 "although their configurations are equal.")
        # Each copy's own optimizer state (learning rate, seed-generator states of noise
        # wrappers, ...): a stateless copy of its optimizer built on its model's variables.
        ov = [_numpy(optimizer.variables)]
        for i, (opt, m) in enumerate(zip(optimizers[1:], models[1:]), 1):
            opt = _keras_compat.stateless_optimizer(opt)
            opt.build(m.trainable_variables)
            ov.append(_numpy(opt.variables))
            if [v.shape for v in ov[i]] != [v.shape for v in ov[0]]:
                raise ValueError(f"`optimizer_fn`: copy {members[i]}'s optimizer has other variables than copy "
                                 f"{members[0]}'s although their configurations are equal.")
        self.sites = _sites(self.model)
        hp = [[float(getattr(obj, attr)) for obj, attr in _sites(m)] for m in models]
        if any(len(h) != len(self.sites) for h in hp):
            raise ValueError(f"`model_fn`: copies {members} have equal configurations but different penalties, "
                             "constraints or per-copy layers (dropout, shifts).")
        self.hyperparameters = np.asarray(hp, np.float32).reshape(len(models), len(self.sites))
        stack = lambda per_copy: [np.stack(vals) for vals in zip(*per_copy)] if per_copy[0] else []  # noqa: E731
        self.state = (stack(tv), stack(ntv), stack(ov))
