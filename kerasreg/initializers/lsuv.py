"""Layer-sequential unit-variance (LSUV) data-dependent initialization."""

import dataclasses
import math

import keras
import numpy as np

from kerasreg._validation import check_float, check_int, check_seed

__all__ = ["LSUVLayerReport", "lsuv_initialize"]


@dataclasses.dataclass
class LSUVLayerReport:
    """What LSUV did to one layer.

    Attributes:
        layer: the layer's name.
        variance: the variance of the layer's output on the batch after the
            last rescaling.
        iterations: how many times the kernel was rescaled.
        converged: whether ``|variance - 1| < tol``.
    """

    layer: str
    variance: float
    iterations: int
    converged: bool


def _kernel_layers(model):
    """Layers owning a ``kernel`` variable, in the model's layer order."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found.extend(_kernel_layers(layer))
            continue
        kernel = getattr(layer, "kernel", None)
        if isinstance(kernel, keras.Variable) and kernel.trainable:
            found.append(layer)
    return found


def lsuv_initialize(model, x, tol=0.1, max_iter=10, orthonormal=True, seed=None):
    """LSUV: orthonormal pre-initialization, then unit output variance per layer.

    Mishkin and Matas' algorithm, on a built model and a batch ``x``:

    ```
    pre-initialize each kernel W_L with an orthonormal matrix
    for each layer L with a kernel, in order:
        repeat while |Var(B_L) - 1| >= tol and iterations < max_iter:
            forward pass on x;  v = Var(B_L)
            W_L <- W_L / sqrt(v)
    ```

    ``B_L`` is the output of layer ``L`` on the batch and ``Var`` the variance
    over all its entries; ``tol`` is ``Tol_var`` and ``max_iter`` is
    ``T_max`` of the paper.  Layers are taken in ``model.layers`` order
    (topological for Functional models; nested models are entered), so every
    layer is rescaled after the layers feeding it, as the algorithm needs.
    Biases are left as they are (zero for a fresh model).

    Departure: the paper's Caffe layers have the nonlinearity as a separate
    layer, so ``B_L`` is the pre-activation; a Keras layer with a fused
    ``activation`` is measured at its output, after the activation (what a
    sub-model ending at that layer returns).  With ReLU or a linear
    activation and zero bias scaling ``W`` scales the output, so the loop
    converges; a saturating activation (``tanh``, ``sigmoid``) may not be able
    to reach variance 1 and is then reported with ``converged=False``.

    Args:
        model: a built ``keras.Model`` (Sequential or Functional) with
            defined ``inputs``; modified in place.
        x: a batch of inputs (numpy array or tensor, or a list for several
            inputs), large enough for a variance estimate (the paper uses
            a mini-batch; >= 32 examples is sensible).
        tol: float > 0, the tolerance ``Tol_var``. Defaults to ``0.1``.
        max_iter: integer >= 1, the most rescalings per layer ``T_max``.
            Defaults to ``10``.
        orthonormal: whether to do the orthonormal pre-initialization
            (``keras.initializers.Orthogonal``); ``False`` keeps the current
            kernels and only rescales them.  Defaults to ``True``.
        seed: ``None`` or an integer >= 0 for the orthonormal matrices.

    Returns:
        A list of :class:`LSUVLayerReport`, one per layer with a kernel, in
        the order processed.

    Example:

    >>> x_train = np.random.default_rng(0).normal(size=(512, 16)).astype("float32")
    >>> model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu"),
    ...                           keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1)])
    >>> report = lsuv_initialize(model, x_train[:256])
    >>> [round(float(r.variance), 1) for r in report]
    [1.0, 1.0, 1.0]

    Reference:
        Mishkin and Matas, "All you need is a good init", ICLR 2016,
        https://arxiv.org/abs/1511.06422
    """
    tol = check_float("tol", tol, low=0.0, low_open=True)
    max_iter = check_int("max_iter", max_iter, low=1)
    seed = check_seed(seed)
    if not isinstance(model, keras.Model) or not model.built:
        raise ValueError(f"`model` must be a built keras.Model, got {model!r}.")
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError("`model` must have defined inputs (a Sequential or Functional model).")
    inputs = inputs[0] if len(inputs) == 1 else inputs
    layers = _kernel_layers(model)
    if orthonormal:
        for i, layer in enumerate(layers):
            kernel = layer.kernel
            init = keras.initializers.Orthogonal(seed=None if seed is None else seed + i)
            kernel.assign(init(tuple(kernel.shape), dtype=kernel.dtype))
    report = []
    for layer in layers:
        sub = keras.Model(inputs, layer.output)
        iterations = 0
        variance = float(np.var(keras.ops.convert_to_numpy(sub(x, training=False))))
        while abs(variance - 1.0) >= tol and iterations < max_iter:
            if not (variance > 0.0 and math.isfinite(variance)):
                break  # a dead layer (all outputs equal) cannot be rescaled
            layer.kernel.assign(layer.kernel / math.sqrt(variance))
            iterations += 1
            variance = float(np.var(keras.ops.convert_to_numpy(sub(x, training=False))))
        report.append(
            LSUVLayerReport(layer.name, variance, iterations, bool(abs(variance - 1.0) < tol))
        )
    return report
