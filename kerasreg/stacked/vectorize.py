"""Which layers ``kerasreg.stacked`` may vectorize, and the early check that names one that cannot.

A group of copies is trained by one vectorized program (``jax.vmap`` /
``tf.vectorized_map``).  Not every layer survives that transformation: on
JAX a host callback (``jax.pure_callback`` without a ``vmap_method``)
cannot be batched; on TensorFlow an operation with no vectorization rule
(``Svd``, ``Qr``, ``Bitcast``, ``DenseBincount``, a boolean mask's
``Where``, ...) makes ``tf.vectorized_map`` fall back to a while loop over
the copies.  Before anything is compiled, ``fit`` traces every layer of each
group's model that is not known to vectorize, alone, vectorized over two
copies with its gradient (a trace only: nothing runs or compiles), so that
such a layer is named before the long trace of the whole program.

Known to vectorize (not traced): the layers in ``_KNOWN`` below, and any
layer class with a class attribute ``vectorizable = True`` (the protocol for
one's own layers).  A class with ``vectorizable = False`` is never vectorized.
"""

import inspect

import keras
import numpy as np
from keras import ops

from kerasreg.stacked import _backend

__all__ = ["nonvectorizable_layer", "model_layers"]


def _known():
    import kerasreg.layers

    layers = keras.layers
    names = ["InputLayer", "Dense", "EinsumDense", "Activation", "ReLU", "LeakyReLU", "Softmax", "ELU",
             "PReLU", "Dropout", "GaussianNoise", "GaussianDropout", "AlphaDropout", "SpatialDropout1D",
             "SpatialDropout2D", "BatchNormalization", "LayerNormalization", "UnitNormalization",
             "Flatten", "Reshape", "Permute", "RepeatVector", "Identity", "Rescaling", "Normalization",
             "Conv1D", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "MaxPooling1D", "MaxPooling2D",
             "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
             "GlobalMaxPooling1D", "GlobalMaxPooling2D", "Add", "Subtract", "Multiply", "Average",
             "Concatenate", "Embedding", "ActivityRegularization"]
    known = tuple(getattr(layers, n) for n in names if hasattr(layers, n))
    # kerasreg's layers that tests/test_stacked.py trains stacked against training alone.
    return known + (kerasreg.layers.Dropout, kerasreg.layers.BatchNormalization, kerasreg.layers.WeightNoise)


def model_layers(model):
    """``model``'s layers, nested models opened (a wrapper layer counts as one layer)."""
    out = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out += model_layers(layer)
        else:
            out.append(layer)
    return out


def _declared(layer):
    flag = getattr(type(layer), "vectorizable", None)
    return flag if isinstance(flag, bool) else None


def _probe(layer):
    """Trace ``layer`` vectorized over 2 copies with its gradient; the error raised, or ``None``."""
    try:
        inputs = layer.input
    except (AttributeError, ValueError):  # a shared layer: left to the trace of the whole program
        return None
    x = keras.tree.map_structure(
        lambda t: np.zeros((2, 2, *[1 if d is None else d for d in t.shape[1:]]), t.dtype), inputs)
    tv = [np.zeros((2, *v.shape), v.dtype) for v in layer.trainable_variables]
    ntv = [np.zeros((2, *v.shape), v.dtype) for v in layer.non_trainable_variables]
    kwargs = {"training": True} if "training" in inspect.signature(layer.call).parameters else {}

    def copy_loss(tv, ntv, x):
        y, _ = layer.stateless_call(tv, ntv, x, **kwargs)
        return ops.sum(ops.stack([ops.sum(ops.cast(t, "float32")) for t in keras.tree.flatten(y)])), ()

    step = _backend.vectorized_value_and_grad(copy_loss, strict=True)
    try:
        _backend.trace(step, tv, ntv, x)
    except Exception as error:  # noqa: BLE001 - returned, to be re-raised with the layer named
        return error
    return None


def nonvectorizable_layer(model):
    """The first layer of ``model`` that cannot be vectorized, with the reason, or ``None``.

    Returns ``(layer, reason)``.
    """
    known = _known()
    for layer in model_layers(model):
        declared = _declared(layer)
        if declared is True or (declared is None and type(layer) in known):
            continue
        if declared is False:
            return layer, f"{type(layer).__name__}.vectorizable is False"
        error = _probe(layer)
        if error is not None:
            return layer, _reason(error)
    return None


def _reason(error):
    """The line of a tracing error that says what failed (TensorFlow's first lines are its traceback)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    hits = [line for line in lines if "vectoriz" in line or "vmap" in line]
    return f"{type(error).__name__}: {(hits or lines or [''])[0][:300]}"


def describe(layer):
    """``'ClassName' layer 'name'``, as errors and warnings name a layer."""
    return f"{type(layer).__name__} layer {layer.name!r}"
