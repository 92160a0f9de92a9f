"""Monte Carlo dropout: the predictive mean and spread under dropout masks."""

import keras
import numpy as np

from kerasreg._validation import check_int, check_seed
from kerasreg.layers import _sampling

__all__ = ["monte_carlo_predict"]

DEFAULT_ROWS = 1024


def _walk(layer):
    yield layer
    for sub in getattr(layer, "layers", None) or ():
        yield from _walk(sub)
    inner = getattr(layer, "layer", None)
    if isinstance(inner, keras.layers.Layer):
        yield from _walk(inner)


def _inputs(x):
    """``x`` as one numpy array: an array-like, or the inputs of an iterable of batches."""
    if isinstance(x, (np.ndarray, list, tuple)) or hasattr(x, "__array__"):
        return np.asarray(x)
    if not hasattr(x, "__iter__"):
        raise TypeError(f"`x` must be an array or a dataset of batches, got {type(x).__name__}.")
    parts = []
    for batch in x:  # (x, y), (x, y, sample_weight) or x alone
        inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
        if isinstance(inputs, dict):
            raise TypeError("`x`: batches of dict inputs are not supported; pass an array.")
        parts.append(np.asarray(inputs))
    if not parts:
        raise ValueError("`x` yielded no batches.")
    return np.concatenate(parts)


def monte_carlo_predict(model, x, samples=100, batch_size=None, seed=None):
    """Monte Carlo dropout: run ``model`` ``samples`` times with dropout on.

    For ``T`` = ``samples`` forward passes with independent masks
    ``mu^(t)`` (Gal and Ghahramani, 2016):

    ```
    mean = 1/T sum_t f(x; mu^(t))
    std  = sqrt(1/T sum_t (f(x; mu^(t)) - mean)^2)
    ```

    (``std`` is the population standard deviation, ``ddof=0``.)

    Only kerasreg's dropout-like layers -- ``kerasreg.layers.Dropout``,
    ``DropConnect`` and ``StochasticDepth`` -- draw masks, exactly as they do
    in training; every other layer runs in inference mode: batch
    normalization uses (and does not update) its moving statistics, weight
    noise and data augmentation are off.  Keras' own ``keras.layers.Dropout``
    stays off (replace it with ``kerasreg.layers.Dropout``); a model with no
    kerasreg dropout-like layer is an error.

    With ``Dropout(scaling="test")`` the sampled passes use the training rule
    (mask, no ``p`` factor) while the deterministic prediction uses ``p * h``;
    with ``scaling="train"`` they use ``mask * h / p`` against ``h``.  Either
    way ``E_mu`` of the dropped layer's output equals its deterministic test
    output, so ``mean`` estimates the same network average; ``mean`` differs
    from ``model.predict`` only through the non-linearities after the
    dropout layers (which is the point of the method).

    The model is called eagerly (the dropout switch is read when the layers
    run, and eager calls never reuse a function traced without it).  When
    every sampled layer draws its masks per example (``Dropout`` without a
    batch-shared ``noise_shape``, ``StochasticDepth``), the ``T`` copies of
    ``x`` are stacked into the batch, ``batch_size`` rows per call, so a run
    costs ``T * len(x) / batch_size`` calls; a ``DropConnect`` layer (one
    kernel mask per call) needs one pass over ``x`` per sample.

    Args:
        model: a built Keras model.
        x: a numpy array (or array-like) of inputs, or a dataset of batches
            (``(x, y)`` or ``x``), such as a ``tf.data.Dataset`` from
            ``kerasreg.data.load``: its inputs are read once, in order, and
            ``mean[i]`` belongs to the ``i``-th example read.  (``load``'s
            validation and test splits keep their order; the training split
            is reshuffled at every pass.)
        samples: int >= 1, the number ``T`` of forward passes.  Defaults to
            ``100``.
        batch_size: optional int >= 1, rows per forward call; ``None``:
            ``max(len(x), 1024)``.
        seed: optional int.  With a seed, every dropout-like layer draws from
            one ``keras.random.SeedGenerator(seed)`` and the result is
            reproducible; without, each layer uses its own generator.

    Returns:
        ``(mean, std)``, numpy arrays of the model's output shape (float32).

    Reference:
        Gal and Ghahramani, "Dropout as a Bayesian Approximation: Representing
        Model Uncertainty in Deep Learning", ICML 2016,
        https://arxiv.org/abs/1506.02142.
    """
    samples = check_int("samples", samples, low=1)
    batch_size = check_int("batch_size", batch_size, low=1, allow_none=True)
    seed = check_seed(seed)
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"`model` must be a Keras model or layer, got {model!r}.")
    sampled = [layer for layer in _walk(model) if getattr(layer, "_monte_carlo", False)]
    if not sampled:
        raise ValueError(
            "`model` has no kerasreg dropout-like layer (kerasreg.layers.Dropout, "
            "DropConnect, StochasticDepth); its predictions would be deterministic."
        )
    x = _inputs(x)
    n = len(x)
    rows = batch_size or max(n, DEFAULT_ROWS)
    generator = keras.random.SeedGenerator(seed) if seed is not None else None
    total = total_sq = None
    with _sampling.sampling(generator):
        if all(layer.per_example_masks for layer in sampled):
            # Every mask is drawn per example: stack the T copies of x into
            # the batch, `rows` rows per call (each row its own masks).
            index = np.arange(samples * n) % n
            chunks = (index[i : i + rows] for i in range(0, samples * n, rows))
        else:
            # A mask is shared by the batch (DropConnect, noise_shape[0] == 1):
            # one pass of x per sample.
            chunks = (
                np.arange(i, min(i + rows, n)) for _ in range(samples) for i in range(0, n, rows)
            )
        for chunk in chunks:
            out = keras.ops.convert_to_numpy(model(x[chunk], training=False)).astype("float64")
            if total is None:
                total = np.zeros((n,) + out.shape[1:])
                total_sq = np.zeros_like(total)
            np.add.at(total, chunk, out)
            np.add.at(total_sq, chunk, out * out)
    mean = total / samples
    variance = np.maximum(total_sq / samples - mean * mean, 0.0)
    return mean.astype("float32"), np.sqrt(variance).astype("float32")
