"""Per-layer gradient norms of stacked copies, under ``kerasreg.callbacks.GradientMonitor``'s tags.

For copy ``k``, layer ``L`` (its trainable variables ``w_j``, ``j in L``) and
step ``t`` of epoch ``e`` (``T_e`` steps, the last one short when the batch
size does not divide the number of examples):

```
||g_L||_t = sqrt( sum_{j in L} sum (dLoss_t / dw_j)^2 )
history["grad_norm/layer/<L>"][k, e] = 1/T_e sum_t ||g_L||_t
history["grad_norm/global"][k, e]    = 1/T_e sum_t sqrt( sum_j sum (dLoss_t / dw_j)^2 )
```

``Loss_t`` is the training loss of the step's batch with the penalties (the
gradient the optimizer is given, before any wrapper clips it).  A layer is
``GradientMonitor``'s: the variables sharing a path prefix, without the model's
own name (``dense_1/kernel`` and ``dense_1/bias`` form ``dense_1``).

Names are canonical: every copy builds its own model, so Keras numbers its
automatically named layers on (``dense_4``, ``dense_5`` for the third copy).
Within each model, automatically named layers are renamed in order of
appearance as a fresh process would name them (``dense``, ``dense_1``, ...), so
copies of one architecture share keys; a name given by the user is kept.
"""

import re

import keras
from keras import ops

from kerasreg.optimizers.gradient_monitoring import safe_norm

__all__ = ["layer_tags", "layer_norms", "GLOBAL"]

GLOBAL = "grad_norm/global"


def _snake(name):
    # Keras' automatic layer name: the class name in snake case (keras.src.utils.naming.to_snake_case).
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _walk(layer):
    yield layer
    children = layer.layers if isinstance(layer, keras.Model) else [
        v for k, v in vars(layer).items() if not k.startswith("_") and isinstance(v, keras.layers.Layer)]
    for child in children:
        yield from _walk(child)


def _canonical_names(model):
    """``{name: canonical name}`` for the automatically named layers of ``model``."""
    out, counts = {}, {}
    for layer in _walk(model):
        base = _snake(type(layer).__name__)
        if layer is model or layer.name in out or not re.fullmatch(re.escape(base) + r"(_\d+)?", layer.name):
            continue
        j = counts.get(base, 0)
        counts[base] = j + 1
        out[layer.name] = base if j == 0 else f"{base}_{j}"
    return out


def layer_tags(model):
    """``{"grad_norm/layer/<layer>": [indices into model.trainable_variables]}``, in variable order."""
    names = _canonical_names(model)
    prefix = f"{model.name}/"
    tags = {}
    for j, variable in enumerate(model.trainable_variables):
        path = variable.path[len(prefix):] if variable.path.startswith(prefix) else variable.path
        parts = [names.get(part, part) for part in path.split("/")]
        layer = "/".join(parts[:-1]) if len(parts) > 1 else parts[0]
        tags.setdefault(f"grad_norm/layer/{layer}", []).append(j)
    return tags


def layer_norms(grads, groups):
    """Per copy, ``[||g_L|| for L in groups] + [||g||]``: float32 tensors ``(K,)``.

    ``grads``: gradients stacked over copies (leading axis K; ``None`` counts as
    zero); ``groups``: lists of indices into ``grads``.

    As in ``kerasreg.optimizers.GradientMonitoring``: ``sqrt(sum g^2)``, and
    where a sum of squares overflowed float32 or is below ``1e-20`` (squares
    of entries below ~1e-23 are 0; the lecture's vanishing network) every norm
    of the step is recomputed scaled by the largest entry, in a tensor ``cond``
    that runs only then.
    """
    grads = [None if g is None else ops.cast(g, "float32") for g in grads]
    squares = []
    for g in grads:
        if g is None:
            squares.append(None)
            continue
        g2 = ops.square(g)
        squares.append(ops.sum(g2, axis=tuple(range(1, len(g.shape)))) if len(g.shape) > 1 else g2)
    present = [s for s in squares if s is not None]
    zero = ops.zeros_like(present[0])

    def plain():
        per_layer = [ops.sqrt(sum((squares[j] for j in idx if squares[j] is not None), zero))
                     for idx in groups]
        return per_layer + [ops.sqrt(sum(present, zero))]

    def combined(norms):  # sqrt(sum_j n_j^2), as safely
        return safe_norm(ops.stack(norms), axis=0) if norms else zero

    def safe():
        # per copy: a stacked scalar variable's norm is |g|
        norms = [None if g is None else safe_norm(g, axis=tuple(range(1, len(g.shape))))
                 if len(g.shape) > 1 else ops.abs(g) for g in grads]
        per_layer = [combined([norms[j] for j in idx if norms[j] is not None]) for idx in groups]
        return per_layer + [combined([n for n in norms if n is not None])]

    total = sum(present, zero)  # the largest sum: finite means none overflowed
    trusted = ops.logical_and(ops.all(ops.isfinite(total)),
                              ops.all(ops.stack([ops.all(s >= 1e-20) for s in present])))
    return list(ops.cond(trusted, plain, safe))
