"""``kerasreg.stacked.fit``: K copies of one Keras model trained in one compiled program."""

import json
import time
import warnings

import keras
import numpy as np
from keras import ops

from kerasreg import _keras_compat
from kerasreg.stacked import _backend
from kerasreg.stacked.vectorize import describe, nonvectorizable_layer
from kerasreg.stacked.order import _signed, epoch_order_tensor

__all__ = ["fit", "StackedResult"]


# ---------------------------------------------------------------------------
# Arguments


def _check_copies(copies):
    if isinstance(copies, (str, bytes)) or not hasattr(copies, "__len__"):
        raise TypeError(f"`copies` must be a list of dicts with a 'seed' (or a list of int seeds), got {copies!r}.")
    if len(copies) < 1:
        raise ValueError("`copies` must hold at least one copy (K >= 1), got an empty list.")
    out = []
    for i, copy in enumerate(copies):
        if isinstance(copy, (int, np.integer)) and not isinstance(copy, bool):
            copy = {"seed": int(copy)}
        if not isinstance(copy, dict) or "seed" not in copy:
            raise ValueError(f"`copies[{i}]` must be an int seed or a dict with a 'seed' key, got {copy!r}.")
        seed = copy["seed"]
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**31:
            raise ValueError(f"`copies[{i}]['seed']` must be an int in [0, 2**31 - 1], got {seed!r}.")
        out.append({**copy, "seed": int(seed)})
    return out


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be an int >= 1, got {value!r}.")
    return int(value)


def _as_array(name, value):
    try:
        return np.asarray(keras.ops.convert_to_numpy(value))
    except Exception as error:  # noqa: BLE001 - re-raised with the argument's name
        raise TypeError(f"`{name}` must be an array, got {type(value).__name__}: {error}") from None


def _labels(name, y, n, k):
    """``y`` as per-copy labels ``(K, n, ...)``: shared ``(n, ...)`` or a list of K arrays."""
    if isinstance(y, (list, tuple)):
        if len(y) != k:
            raise ValueError(f"`{name}`: per-copy labels need one array per copy ({k}), got {len(y)}.")
        arrays = [_as_array(f"{name}[{i}]", a) for i, a in enumerate(y)]
        for i, a in enumerate(arrays):
            if a.shape != arrays[0].shape:
                raise ValueError(f"`{name}[{i}]` has shape {a.shape}, but `{name}[0]` has {arrays[0].shape}.")
        y = np.stack(arrays)
    else:
        y = np.broadcast_to(_as_array(name, y)[None], (k, *np.shape(y)))
    if y.ndim < 2 or y.shape[1] != n:
        raise ValueError(f"`{name}` has {y.shape[1] if y.ndim >= 2 else 'no'} examples, but `x` has {n}.")
    return y


def _eval_sets(validation_data, eval_sets, input_shape):
    sets = {}
    if validation_data is not None:
        sets["val"] = validation_data
    for name, data in (eval_sets or {}).items():
        if not isinstance(name, str) or not name.isidentifier() or name == "val":
            raise ValueError(f"`eval_sets`: names must be identifiers other than 'val', got {name!r}.")
        sets[name] = data
    out = {}
    for name, data in sets.items():
        arg = "validation_data" if name == "val" else f"eval_sets[{name!r}]"
        if not isinstance(data, (list, tuple)) or len(data) != 2:
            raise ValueError(f"`{arg}` must be a pair (x, y).")
        x, y = _as_array(f"{arg}[0]", data[0]), _as_array(f"{arg}[1]", data[1])
        if x.shape[1:] != input_shape:
            raise ValueError(f"`{arg}`: x has example shape {x.shape[1:]}, the training x has {input_shape}.")
        if len(y) != len(x):
            raise ValueError(f"`{arg}`: x has {len(x)} examples, y has {len(y)}.")
        out[name] = (x.astype(keras.backend.floatx()), y)
    return out


# ---------------------------------------------------------------------------
# Losses and metrics as per-batch functions


def _loss_function(loss):
    loss = keras.losses.get(loss)
    if loss is None or not callable(loss):
        raise ValueError(f"`loss` must be a Keras loss (a name, a function or a Loss), got {loss!r}.")
    if isinstance(loss, keras.losses.Loss):
        # A Loss object reduces with its own reduction (Keras' default: the mean).
        return lambda y, p: ops.cast(loss(y, p), "float32")
    return lambda y, p: ops.mean(ops.cast(loss(y, p), "float32"))


def _accuracy(y_true, y_pred):
    if len(y_true.shape) == len(y_pred.shape) and y_pred.shape[-1] > 1:  # one-hot labels
        return ops.cast(ops.argmax(y_true, axis=-1) == ops.argmax(y_pred, axis=-1), "float32")
    if y_pred.shape[-1] == 1:  # binary: probabilities thresholded at 0.5, as Keras does
        y_true = ops.reshape(y_true, (-1,))
        return ops.cast(ops.cast(ops.reshape(y_pred, (-1,)) > 0.5, "float32") == ops.cast(y_true, "float32"), "float32")
    y_true = ops.reshape(y_true, (-1,))
    return ops.cast(ops.cast(ops.argmax(y_pred, axis=-1), "int32") == ops.cast(y_true, "int32"), "float32")


def _metric_functions(metrics):
    out = {}
    for i, metric in enumerate(metrics or ()):
        if metric in ("accuracy", "acc"):
            out["accuracy"] = _accuracy
        elif callable(metric) and not isinstance(metric, keras.metrics.Metric):
            out[getattr(metric, "__name__", f"metric_{i}")] = metric
        else:
            raise ValueError(
                f"`metrics[{i}]`: give 'accuracy' or a function (y_true, y_pred) -> one value per example, "
                f"got {metric!r} (stateful keras.metrics.Metric objects are not supported)."
            )
    return out


# ---------------------------------------------------------------------------
# Grouping copies


# Scalar hyperparameters that may differ between the copies of one group, by registered class:
# attributes that the component reads only through keras.ops, so that during tracing a
# per-copy scalar tensor can stand in for the Python float (see _substituted); and
# attributes that are already non-trainable variables (they vary per copy like weights).
_SUBSTITUTED = {
    "kerasreg>L1": ("alpha",),
    "kerasreg>L2": ("alpha",),
    "kerasreg>L2Ball": ("max_norm",),
    "kerasreg>L1Ball": ("radius",),
}
_IN_VARIABLES = {"kerasreg>WeightNoise": ("stddev",)}


def _registered_name(obj):
    return keras.saving.get_registered_name(type(obj))


def _strip(config):
    """A config without the entries that may differ between copies of one group."""
    if isinstance(config, dict):
        per_copy = _SUBSTITUTED.get(config.get("registered_name"), ()) + _IN_VARIABLES.get(
            config.get("registered_name"), ())
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
    """``(component, attribute)`` of each substitutable scalar on ``model``'s trainable variables."""
    sites, seen = [], set()
    for variable in model.trainable_variables:
        for component in (variable.regularizer, variable.constraint):
            if component is None or id(component) in seen:
                continue
            seen.add(id(component))
            sites += [(component, attr) for attr in _SUBSTITUTED.get(_registered_name(component), ())]
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
            raise ValueError(f"`model_fn`: copies {members} have equal configurations but different penalties "
                             "or constraints on their variables.")
        self.hyperparameters = np.asarray(hp, np.float32).reshape(len(models), len(self.sites))
        stack = lambda per_copy: [np.stack(vals) for vals in zip(*per_copy)] if per_copy[0] else []  # noqa: E731
        self.state = (stack(tv), stack(ntv), stack(ov))


# ---------------------------------------------------------------------------
# The compiled program


def _build_program(groups, x, ys, seeds, hps, eval_data, loss_fn, metric_fns, batch_size):
    n = x.shape[0]
    steps, rem = divmod(n, batch_size)
    metric_names = list(metric_fns)

    def make_step(group):
        model, optimizer = group.model, group.optimizer

        sites = group.sites

        def copy_loss(tv, ntv, idx, y, hp):
            xb, yb = ops.take(x, idx, axis=0), ops.take(y, idx, axis=0)
            with _substituted(sites, [hp[j] for j in range(len(sites))]):
                y_pred, ntv, losses = model.stateless_call(tv, ntv, xb, training=True, return_losses=True)
            total = loss_fn(yb, y_pred)
            if losses:
                total = total + ops.sum(ops.stack([ops.cast(v, "float32") for v in losses]))
            sums = [ops.sum(fn(yb, y_pred)) for fn in metric_fns.values()]
            return total, (ntv, sums)

        value_and_grad = _backend.vectorized_value_and_grad(copy_loss, vectorize=group.vectorized)

        def copy_apply(ov, grads, tv, hp):
            with _substituted(sites, [hp[j] for j in range(len(sites))]):  # constraints
                tv, ov = optimizer.stateless_apply(ov, grads, tv)
            return ov, tv

        apply = _backend.vectorized(copy_apply, vectorize=group.vectorized)

        def step(tv, ntv, ov, idx, y, hp):
            (total, (ntv, sums)), grads = value_and_grad(tv, ntv, idx, y, hp)
            ov, tv = apply(ov, grads, tv, hp)
            size = idx.shape[1]
            return tv, ntv, ov, [total * size, *[s for s in sums]]

        return step

    def make_eval(group):
        model = group.model

        def copy_eval(tv, ntv, xe, ye):
            y_pred, _ = model.stateless_call(tv, ntv, xe, training=False)
            return [loss_fn(ye, y_pred), *[ops.mean(fn(ye, y_pred)) for fn in metric_fns.values()]]

        return copy_eval

    steps_fns = [make_step(g) for g in groups]
    eval_fns = [make_eval(g) for g in groups]

    def history_names():
        names = ["loss", *metric_names]
        for set_name in eval_data:
            names += [f"{set_name}_loss", *[f"{set_name}_{m}" for m in metric_names]]
        return names

    names = history_names()

    def program(state, epoch0, n_epochs):
        histories = [[ops.zeros((n_epochs, len(g.members)), "float32") for _ in names] for g in groups]

        def epoch_body(e, carry):
            # The epoch number is carried through the loop rather than computed from a captured
            # epoch0: TensorFlow's XLA bridge folded the captured value into a compile-time
            # constant, so each call with a new first epoch compiled the program again.
            state, histories, epoch = carry
            new_state, new_histories = [], []
            for gi, group in enumerate(groups):
                tv, ntv, ov = state[gi]
                k = len(group.members)
                order = epoch_order_tensor(seeds[gi], epoch, n)
                y = ys[gi]
                sums = [ops.zeros((k,), "float32") for _ in range(1 + len(metric_names))]

                hp = hps[gi]

                def step_body(s, c, gi=gi, order=order, y=y, k=k, hp=hp):
                    tv, ntv, ov, sums = c
                    # A gather, not ops.slice: TensorFlow's XLA bridge makes a slice's start a
                    # compile-time constant where it can, and recompiles for every new value.
                    idx = ops.take(order, ops.cast(s, "int32") * batch_size + ops.arange(batch_size, dtype="int32"),
                                   axis=1)
                    tv, ntv, ov, new = steps_fns[gi](tv, ntv, ov, idx, y, hp)
                    return tv, ntv, ov, [a + b for a, b in zip(sums, new)]

                if steps:
                    tv, ntv, ov, sums = ops.fori_loop(0, steps, step_body, (tv, ntv, ov, sums))
                if rem:
                    idx = order[:, steps * batch_size:]
                    tv, ntv, ov, new = steps_fns[gi](tv, ntv, ov, idx, y, hp)
                    sums = [a + b for a, b in zip(sums, new)]
                values = [s / n for s in sums]
                for set_name, (xe, ye) in eval_data.items():
                    fn = eval_fns[gi]
                    out = _backend.vectorized(lambda tv, ntv, fn=fn, xe=xe, ye=ye: fn(tv, ntv, xe, ye),
                                              vectorize=group.vectorized)(tv, ntv)
                    values += list(out)
                new_state.append((tv, ntv, ov))
                row = ops.arange(n_epochs, dtype="int32")[:, None] == ops.cast(e, "int32")  # (n_epochs, 1)
                new_histories.append([
                    ops.where(row, ops.reshape(ops.cast(v, "float32"), (1, k)), h)
                    for h, v in zip(histories[gi], values)
                ])
            return new_state, new_histories, epoch + 1

        state, histories, _ = ops.fori_loop(0, n_epochs, epoch_body,
                                            (state, histories, ops.cast(epoch0, "int32")))
        return state, histories

    return program, names


# ---------------------------------------------------------------------------
# Public


class StackedResult:
    """What ``fit`` returns: per-copy histories and final weights.

    Attributes:
        copies: the copies as given (dicts with at least ``"seed"``).
        history: dict ``name -> float array (K, epochs)``: ``loss`` (training
            loss with the penalties, averaged over the epoch's batches as
            Keras' ``fit`` reports it), each metric, and for every evaluation
            set ``S`` (``val`` for ``validation_data``) ``S_loss`` (without
            penalties) and ``S_<metric>``, computed after each epoch.
        groups: list of lists of copy indices trained by one vectorized
            sub-program (copies whose configurations differ only in seeds,
            learning rates and the per-copy scalars listed in the module
            docstring share one).
        call_seconds: wall time of each compiled call (the first includes
            tracing and compilation; ``epochs_per_call`` sets their number).
    """

    def __init__(self, copies, history, groups, states, model_fn):
        self.copies = copies
        self.history = history
        self.groups = groups
        self._states = states
        self._model_fn = model_fn

    def __len__(self):
        return len(self.copies)

    def _locate(self, i):
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -len(self) <= i < len(self):
            raise IndexError(f"copy index must be an int in [0, {len(self)}), got {i!r}.")
        i = int(i) % len(self)
        for gi, members in enumerate(self.groups):
            if i in members:
                return gi, members.index(i)
        raise AssertionError("unreachable")

    def variables(self, i):
        """Copy ``i``'s final ``(trainable, non_trainable)`` variable values (numpy lists)."""
        gi, j = self._locate(i)
        tv, ntv, _ = self._states[gi]
        return [np.asarray(v[j]) for v in tv], [np.asarray(v[j]) for v in ntv]

    def get_model(self, i):
        """Copy ``i`` as an ordinary Keras model (built by ``model_fn``, not compiled) with its final weights."""
        trainable, non_trainable = self.variables(i)
        keras.utils.set_random_seed(self.copies[i]["seed"])
        model = self._model_fn(self.copies[i])
        for variable, value in zip(model.trainable_variables, trainable):
            variable.assign(value)
        for variable, value in zip(model.non_trainable_variables, non_trainable):
            variable.assign(value)
        return model


def fit(model_fn, optimizer_fn, copies, x, y, *, loss, metrics=("accuracy",), epochs, batch_size=32,
        validation_data=None, eval_sets=None, epochs_per_call=None, vectorize="auto"):
    """Train K copies of one Keras model at once; see the ``kerasreg.stacked`` module docstring."""
    copies = _check_copies(copies)
    if vectorize not in (True, False, "auto") or isinstance(vectorize, (int, float)) and not isinstance(vectorize, bool):
        raise ValueError(f"`vectorize` must be True, False or 'auto', got {vectorize!r}.")
    epochs = _positive_int("epochs", epochs)
    batch_size = _positive_int("batch_size", batch_size)
    epochs_per_call = epochs if epochs_per_call is None else _positive_int("epochs_per_call", epochs_per_call)
    if not callable(model_fn):
        raise TypeError(f"`model_fn` must be a function copy -> keras.Model, got {model_fn!r}.")
    if not callable(optimizer_fn):
        raise TypeError(f"`optimizer_fn` must be a function copy -> keras optimizer, got {optimizer_fn!r}.")
    x = _as_array("x", x).astype(keras.backend.floatx())
    n, k = len(x), len(copies)
    if n < 1:
        raise ValueError("`x` holds no examples.")
    y = _labels("y", y, n, k)
    loss_fn = _loss_function(loss)
    metric_fns = _metric_functions(metrics)

    models, optimizers, keys = [], [], {}
    for i, copy in enumerate(copies):
        keras.utils.set_random_seed(copy["seed"])
        model = model_fn(copy)
        if not isinstance(model, keras.Model):
            raise TypeError(f"`model_fn(copies[{i}])` must return a keras.Model, got {type(model).__name__}.")
        if not model.built or not model.trainable_variables:
            raise ValueError(f"`model_fn(copies[{i}])` returned an unbuilt model (give it a keras.Input).")
        if tuple(model.inputs[0].shape[1:]) != x.shape[1:] if getattr(model, "inputs", None) else False:
            raise ValueError(f"`x` has example shape {x.shape[1:]}, the model expects {tuple(model.inputs[0].shape[1:])}.")
        optimizer = optimizer_fn(copy)
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            raise TypeError(f"`optimizer_fn(copies[{i}])` must return a keras optimizer, got {type(optimizer).__name__}.")
        _check_optimizer(optimizer, i)
        models.append(model)
        optimizers.append(optimizer)
        keys.setdefault(_group_key(model, optimizer), []).append(i)
    eval_data = _eval_sets(validation_data, eval_sets, x.shape[1:])

    groups = []
    for members in keys.values():
        alone = vectorize is False
        if not alone:
            found = nonvectorizable_layer(models[members[0]])
            if found is not None:
                layer, reason = found
                message = (f"kerasreg.stacked cannot vectorize the {describe(layer)} of the model built for "
                           f"copies {members} ({reason}).")
                if vectorize is True:
                    raise ValueError(f"{message} Pass `vectorize=False` (or 'auto') to train these copies one at a "
                                     "time in the same program, or make the layer vectorizable (no host callbacks, "
                                     "operations that jax.vmap / tf.vectorized_map can batch).")
                warnings.warn(f"{message} These copies are trained one at a time (`vectorize='auto'`).", stacklevel=2)
                alone = True
        if alone:
            groups += [_Group([i], [models[i]], [optimizers[i]], vectorized=False) for i in members]
        else:
            groups.append(_Group(members, [models[i] for i in members], [optimizers[i] for i in members]))
    del models, optimizers
    seeds = [ops.convert_to_tensor(np.array([_signed(copies[i]["seed"]) for i in g.members], np.int32)) for g in groups]
    ys = [ops.convert_to_tensor(y[g.members]) for g in groups]
    eval_tensors = {name: (ops.convert_to_tensor(xe), ops.convert_to_tensor(ye)) for name, (xe, ye) in eval_data.items()}
    hps = [ops.convert_to_tensor(g.hyperparameters) for g in groups]
    program, names = _build_program(groups, ops.convert_to_tensor(x), ys, seeds, hps, eval_tensors, loss_fn,
                                    metric_fns, batch_size)
    run = _backend.compile_function(program)

    state = [tuple([ops.convert_to_tensor(v) for v in part] for part in g.state) for g in groups]
    chunks = [[[] for _ in names] for _ in groups]
    done = 0
    call_seconds = []
    while done < epochs:
        length = min(epochs_per_call, epochs - done)
        start = time.perf_counter()
        try:
            state, histories = run(state, np.int32(done), length)
        except Exception as error:
            if done or vectorize is False:
                raise
            raise RuntimeError(
                f"kerasreg.stacked: tracing or compiling the training program failed ({type(error).__name__}: "
                f"{str(error).strip()[:2000]}). If a layer cannot be vectorized, `vectorize=False` trains each copy "
                "alone in the same program."
            ) from error
        for gi in range(len(groups)):
            for j in range(len(names)):
                chunks[gi][j].append(np.asarray(keras.ops.convert_to_numpy(histories[gi][j])))
        call_seconds.append(time.perf_counter() - start)
        done += length
    history = {name: np.zeros((k, epochs), np.float32) for name in names}
    for gi, g in enumerate(groups):
        for j, name in enumerate(names):
            history[name][g.members] = np.concatenate(chunks[gi][j], axis=0).T
    states = [tuple([np.asarray(keras.ops.convert_to_numpy(v)) for v in part] for part in s) for s in state]
    result = StackedResult(copies, history, [g.members for g in groups], states, model_fn)
    result.call_seconds = call_seconds
    return result
