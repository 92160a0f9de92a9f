"""``kerasreg.stacked.fit``: K copies of one Keras model trained in one compiled program."""

import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
from keras import ops

from kerasreg.stacked import _backend
from kerasreg.stacked.arguments import (_as_array, _check_copies, _eval_sets, _labels, _loss_function,
                                        _metric_functions, _positive_int)
from kerasreg.stacked.grouping import _check_optimizer, _group_key, _Group
from kerasreg.stacked.order import _signed
from kerasreg.stacked.program import _build_program
from kerasreg.stacked.result import StackedResult
from kerasreg.stacked.vectorize import describe, nonvectorizable_layer

__all__ = ["fit", "StackedResult"]


def fit(model_fn, optimizer_fn, copies, x, y, *, loss, metrics=("accuracy",), epochs, batch_size=32,
        validation_data=None, eval_sets=None, epochs_per_call=None, vectorize="auto", gradient_norms=False,
        programs="auto"):
    """Train K copies of one Keras model at once; see the ``kerasreg.stacked`` module docstring."""
    copies = _check_copies(copies)
    if not (isinstance(vectorize, bool) or vectorize == "auto"):
        raise ValueError(f"`vectorize` must be True, False or 'auto', got {vectorize!r}.")
    if not isinstance(gradient_norms, bool):
        raise ValueError(f"`gradient_norms` must be True or False, got {gradient_norms!r}.")
    if programs != "auto":
        programs = _positive_int("programs", programs)
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
    x_tensor = ops.convert_to_tensor(x)
    parts = _partition(groups, _backend.default_programs(len(groups)) if programs == "auto" else programs)
    runs, names, state = [], [None] * len(groups), [None] * len(groups)
    for part in parts:  # one compiled program per part, the parts run side by side
        program, part_names = _build_program([groups[g] for g in part], x_tensor, [ys[g] for g in part],
                                             [seeds[g] for g in part], [hps[g] for g in part], eval_tensors,
                                             loss_fn, metric_fns, batch_size, gradient_norms)
        runs.append(_backend.compile_function(program))
        for g, group_names in zip(part, part_names):
            names[g] = group_names
            state[g] = tuple([ops.convert_to_tensor(v) for v in piece] for piece in groups[g].state)

    traced = set()
    chunks = [[[] for _ in group_names] for group_names in names]
    done = 0
    call_seconds = []
    pool = ThreadPoolExecutor(len(parts)) if len(parts) > 1 else None
    try:
        while done < epochs:
            length = min(epochs_per_call, epochs - done)
            start = time.perf_counter()
            try:
                part_states = [[state[g] for g in part] for part in parts]
                if length not in traced:
                    for run, part_state in zip(runs, part_states):  # Python tracing: one thread
                        run.trace(part_state, np.int32(done), length)
                    traced.add(length)
                calls = [(run, part_state) for run, part_state in zip(runs, part_states)]
                if pool is None:
                    outputs = [run(part_state, np.int32(done), length) for run, part_state in calls]
                else:
                    futures = [pool.submit(run, part_state, np.int32(done), length) for run, part_state in calls]
                    outputs = [future.result() for future in futures]
            except Exception as error:
                if done or vectorize is False:
                    raise
                raise RuntimeError(
                    f"kerasreg.stacked: tracing or compiling the training program failed ({type(error).__name__}: "
                    f"{str(error).strip()[:2000]}). If a layer cannot be vectorized, `vectorize=False` trains each "
                    "copy alone in the same program."
                ) from error
            for part, (part_state, histories) in zip(parts, outputs):
                for j, g in enumerate(part):
                    state[g] = part_state[j]
                    for r in range(len(names[g])):
                        chunks[g][r].append(np.asarray(keras.ops.convert_to_numpy(histories[j][r])))
            call_seconds.append(time.perf_counter() - start)
            done += length
    finally:
        if pool is not None:
            pool.shutdown()
    # A gradient-norm row of a layer that a copy's model does not have stays NaN.
    history = {name: np.full((k, epochs), np.nan, np.float32) for group_names in names for name in group_names}
    for gi, g in enumerate(groups):
        for j, name in enumerate(names[gi]):
            history[name][g.members] = np.concatenate(chunks[gi][j], axis=0).T
    states = [tuple([np.asarray(keras.ops.convert_to_numpy(v)) for v in part] for part in s) for s in state]
    result = StackedResult(copies, history, [g.members for g in groups], states, model_fn)
    result.call_seconds = call_seconds
    return result


def _partition(groups, programs):
    """Group indices split into at most ``programs`` parts of about equal work (copies x weights per
    group; largest first, each to the lightest part), each part in group order."""
    cost = [len(g.members) * sum(int(np.prod(v.shape[1:])) for v in g.state[0]) for g in groups]
    parts = [[] for _ in range(min(programs, len(groups)))]
    load = [0] * len(parts)
    for g in sorted(range(len(groups)), key=lambda g: -cost[g]):
        lightest = load.index(min(load))
        parts[lightest].append(g)
        load[lightest] += cost[g]
    return [sorted(part) for part in parts]
