"""Add norm penalties to an already built model (one someone else wrote)."""

import keras

__all__ = ["add_penalties"]

# Kernel variables Keras layers create, and the constructor argument that
# holds each one's regularizer (so that get_config / .keras files keep it).
_KERNEL_ATTRS = {
    "kernel": "kernel_regularizer",
    "recurrent_kernel": "recurrent_regularizer",
    "depthwise_kernel": "depthwise_regularizer",
    "pointwise_kernel": "pointwise_regularizer",
}


def _walk(layer, seen):
    """``layer`` and every layer inside it (nested models, wrappers, RNN cells)."""
    if id(layer) in seen:
        return
    seen.add(id(layer))
    yield layer
    children = list(getattr(layer, "layers", None) or []) if isinstance(layer, keras.Model) else []
    for attr in ("layer", "cell", "forward_layer", "backward_layer"):
        child = getattr(layer, attr, None)
        if isinstance(child, keras.layers.Layer):
            children.append(child)
    for cell in getattr(getattr(layer, "cell", None), "cells", None) or []:
        children.append(cell)
    for child in children:
        yield from _walk(child, seen)


def _kernels(layer):
    """``(attribute, variable)`` for each kernel variable ``layer`` owns."""
    out = []
    for attr in _KERNEL_ATTRS:
        try:
            value = getattr(layer, attr, None)
        except Exception:  # an unbuilt layer's property may raise
            value = None
        if isinstance(value, keras.Variable):
            out.append((attr, value))
    return out


def add_penalties(model, kernel=None, activity=None, activity_layers=None, copy=False):
    """Regularize a built Sequential or Functional model: penalize its kernels.

    The lecture's ``L_R(W) = L(W) + alpha * Omega(W)``, with ``Omega`` applied
    to every *kernel* (weight matrix or convolution filter) and not to the
    biases ("biases not penalized"), nor to normalization parameters
    (``gamma``, ``beta``, moving statistics) nor embeddings.  Each kernel gets
    its own term in ``model.losses``; the weights are not changed, so a
    trained model can be fine-tuned with a penalty.  An activity penalty
    (``alpha * Omega(h)``, the lecture's sparse representations) can be put on
    hidden layers' outputs too.

    Kernels are the variables Keras layers call ``kernel``,
    ``recurrent_kernel``, ``depthwise_kernel`` and ``pointwise_kernel``
    (Dense, EinsumDense, Conv*, SeparableConv*, DepthwiseConv*, RNN cells),
    found in nested models and wrappers too.  The penalty is set both on the
    variable (so ``model.losses`` has it at once) and on the layer's
    ``*_regularizer`` attribute (so ``get_config`` and ``.keras`` files keep
    it).  A kernel that already had a regularizer gets the new one instead.

    Compile the returned model afterwards (a model compiled earlier must be
    compiled again: its training function was traced without the penalties).

    Args:
        model: a built ``keras.Model`` (Sequential, Functional, or a
            subclassed model whose layers are reachable through ``layers``).
        kernel: regularizer for every kernel (e.g. ``kerasreg.regularizers.L2(1e-3)``,
            or any name ``keras.regularizers.get`` accepts), or ``None``.
        activity: activity regularizer for hidden layers' outputs (e.g.
            ``ActivityL1(1e-4)`` or ``KLSparsity(0.05, 0.3)``), or ``None``.
        activity_layers: names (or layer objects) of the layers that get
            ``activity``; ``None`` means every layer that has a kernel except
            the last one (the output layer) in ``model.layers`` order.
        copy: ``False`` (default) changes ``model`` in place and returns it;
            ``True`` leaves ``model`` untouched and returns a clone
            (``keras.models.clone_model``) with the same weights.

    Returns:
        The regularized model, ready for ``compile``.

    Example:

    >>> pretrained = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(1)])
    >>> model = add_penalties(pretrained, kernel=kerasreg.regularizers.L2(1e-3))
    >>> model.compile(optimizer="sgd", loss="mse")
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")
    if not model.built:
        raise ValueError("`model` must be built (call it on data or build it) before add_penalties.")
    if kernel is None and activity is None:
        raise ValueError("Give `kernel` and/or `activity`: there is no penalty to add.")
    kernel = keras.regularizers.get(kernel) if kernel is not None else None
    activity = keras.regularizers.get(activity) if activity is not None else None
    if copy:
        clone = keras.models.clone_model(model)
        clone.set_weights(model.get_weights())
        model = clone

    layers = [layer for layer in _walk(model, set()) if layer is not model]
    with_kernel = [layer for layer in layers if _kernels(layer)]
    if kernel is not None:
        for layer in with_kernel:
            for attr, variable in _kernels(layer):
                if variable.trainable:
                    variable.regularizer = kernel
                    if hasattr(layer, _KERNEL_ATTRS[attr]):
                        setattr(layer, _KERNEL_ATTRS[attr], kernel)

    if activity is not None:
        if activity_layers is None:
            targets = [layer for layer in with_kernel if layer in model.layers][:-1]
        else:
            by_name = {layer.name: layer for layer in layers}
            targets = []
            for item in activity_layers:
                # By name, so that layer objects of the original also name
                # the clone's layers when copy=True.
                name = item.name if isinstance(item, keras.layers.Layer) else item
                if name not in by_name:
                    raise ValueError(
                        f"`activity_layers`: no layer named {name!r} in the model; "
                        f"layers are {sorted(by_name)}."
                    )
                targets.append(by_name[name])
        for layer in targets:
            layer.activity_regularizer = activity
    return model
