"""One compiled model for many runs: ``snapshot`` / ``restore`` its state, ``reinitialize`` its weights by seed.

Tracing a Keras model's train function costs about a second on a CPU; a
small model trains an epoch in milliseconds.  A recipe that trains the same
architecture for many seeds, learning rates or penalties therefore compiles
one model, takes a ``snapshot`` after ``compile``, and before each run
``restore``s it and ``reinitialize``s its weights from the run's seed.  The
result is the same as building and compiling the model afresh with those
initializers.
"""

import contextlib
import math

import keras
import numpy as np

from kerasreg._validation import check_int

__all__ = ["snapshot", "restore", "reinitialize", "KERNEL_SEED_STRIDE", "SEED_STATE_STRIDE"]

KERNEL_SEED_STRIDE = 7919  # the 1000th prime: layer i's kernel is drawn with seed + 7919 i
SEED_STATE_STRIDE = 104729  # the 10000th prime: layer i's random state starts at seed + 104729 i


def snapshot(model):
    """The state of a compiled model and its optimizer, to start training again from.

    Returns:
        An opaque state for ``restore``: the values of ``model.variables``
        (weights, BN statistics, dropout seed states) and of the optimizer's
        variables (its iteration count and slots), built now if need be.

    Raises:
        ValueError: ``model`` is not compiled with an optimizer.
    """
    if getattr(model, "optimizer", None) is None:
        raise ValueError("`model` must be compiled (with an optimizer) before `snapshot`.")
    if not model.optimizer.built:
        # Slots live where the model does: under its tf.distribute strategy, if any.
        strategy = getattr(model, "distribute_strategy", None)
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            model.optimizer.build(model.trainable_variables)
    return ([keras.ops.convert_to_numpy(v) for v in model.variables],
            [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables])


def restore(model, state, learning_rate=None):
    """Put ``model`` and its optimizer back to ``state`` (from ``snapshot``); return ``model``.

    Args:
        model: the model the snapshot was taken of.
        state: what ``snapshot(model)`` returned.
        learning_rate: optional new constant learning rate (float > 0); the
            optimizer must have been built with a constant rate.  It is a
            variable, so the traced train function is reused.
    """
    model_values, optimizer_values = state
    variables, opt_variables = model.variables, model.optimizer.variables
    if len(variables) != len(model_values) or len(opt_variables) != len(optimizer_values):
        raise ValueError("`state` was not taken of this model and optimizer (variable counts differ).")
    for v, value in zip([*variables, *opt_variables], [*model_values, *optimizer_values]):
        v.assign(value)
    if learning_rate is not None:
        if not (isinstance(learning_rate, (int, float)) and math.isfinite(learning_rate) and learning_rate > 0):
            raise ValueError(f"`learning_rate` must be a float > 0, got {learning_rate!r}.")
        model.optimizer.learning_rate = float(learning_rate)
    return model


def reinitialize(layers, seed, initializer=keras.initializers.GlorotUniform):
    """Draw the initial weights of ``layers`` from ``seed``, as building them afresh would.

    For the ``i``-th of ``layers`` (``i = 0, 1, ...``)::

        kernel_i  <- initializer(seed = s + 7919 i)(shape of kernel_i)
        bias_i    <- 0
        state_i   <- [(s + 104729 i) mod 2^31, 0]

    ``s`` is ``seed``; ``state_i`` is the state of the layer's
    ``seed_generator`` (``Dropout``'s masks, for example), so the layer draws
    the random numbers it would draw if built with that seed.  A layer without
    a kernel, a bias or a seed generator keeps what it lacks; every other
    variable (batch-norm statistics, the optimizer's slots) is left alone, so
    ``restore`` a ``snapshot`` first.  Two calls with the same seed give the
    same weights: variants of one seed start from the same draw.

    Args:
        layers: a ``keras.Model`` (its ``layers``) or a list of built layers;
            the position in the list is ``i``.
        seed: int in ``[0, 2**31 - 1]``.
        initializer: ``initializer(seed=int)`` returns a Keras initializer
            (an initializer class such as the default
            ``keras.initializers.GlorotUniform``, Keras' default for
            ``Dense``), or ``None`` to leave the kernels as they are.

    Returns:
        The list of layers.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    >>> layers = kerasreg.study.reinitialize(model, seed=7)
    >>> expected = keras.initializers.GlorotUniform(seed=7 + 7919)((3, 2))
    >>> bool(np.allclose(model.layers[1].kernel, expected))
    True
    """
    seed = check_int("seed", seed, low=0, high=2**31 - 1)
    if initializer is not None and not callable(initializer):
        raise TypeError(f"`initializer` must be callable as initializer(seed=int), or None; got {initializer!r}.")
    layers = list(layers.layers if isinstance(layers, keras.Model) else layers)
    for i, layer in enumerate(layers):
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and initializer is not None:
            draw = initializer(seed=seed + KERNEL_SEED_STRIDE * i)
            kernel.assign(draw(tuple(kernel.shape), dtype=kernel.dtype))
        bias = getattr(layer, "bias", None)
        if bias is not None:
            bias.assign(np.zeros(tuple(bias.shape), dtype=bias.dtype))
        generator = getattr(layer, "seed_generator", None)
        if generator is not None:  # a SeedGenerator's state is (seed, counter)
            state = generator.state
            state.assign(np.array([(seed + SEED_STATE_STRIDE * i) % 2**31, 0], dtype=state.dtype))
    return layers
