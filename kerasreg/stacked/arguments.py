"""The arguments of ``kerasreg.stacked.fit`` checked, and its loss and metrics made per-batch functions."""

import keras
import numpy as np
from keras import ops


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
