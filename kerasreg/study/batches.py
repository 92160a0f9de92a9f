"""Seeded, shuffled training batches for ``model.fit``: one tf.data pipeline for every recipe."""

from kerasreg._validation import check_int

__all__ = ["batches", "steps_per_epoch"]


def steps_per_epoch(n, batch_size):
    """Batches in one pass over ``n`` examples: ``ceil(n / batch_size)`` (the last batch may be short).

    >>> kerasreg.study.steps_per_epoch(1437, 32)
    45
    """
    n = check_int("n", n, low=1)
    batch_size = check_int("batch_size", batch_size, low=1)
    return -(-n // batch_size)


def batches(x, y, batch_size, seed):
    """``(x, y)`` as an endless ``tf.data`` stream of shuffled batches, the order drawn from ``seed``.

    Each pass over the data is a fresh permutation (``shuffle`` over the
    whole set, reshuffled every pass) cut into batches of ``batch_size``, the
    last one short when ``batch_size`` does not divide ``len(x)``; the passes
    follow one another without end.  Give ``model.fit`` the stream with
    ``steps_per_epoch=steps_per_epoch(len(x), batch_size)`` so that a Keras
    epoch is one pass.  The same ``seed`` gives the same sequence of passes
    in every run and for every model, so variants of one seed see their
    examples in the same order.  tf.data feeds every Keras backend.

    Args:
        x, y: arrays with the same first dimension ``n >= 1``.
        batch_size: int >= 1.
        seed: int in ``[0, 2**31 - 1]``.

    Returns:
        A ``tf.data.Dataset`` of ``(x_batch, y_batch)``.

    Example:

    >>> x, y = np.arange(10.0)[:, None], np.arange(10)
    >>> stream = kerasreg.study.batches(x, y, batch_size=4, seed=0)
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> history = model.fit(stream, steps_per_epoch=kerasreg.study.steps_per_epoch(10, 4), epochs=2, verbose=0)
    >>> len(history.history["loss"])
    2
    """
    import tensorflow as tf  # tf.data feeds every backend

    from kerasreg.data.loading import _silence_keras_shuffle_reminder

    if len(x) != len(y):
        raise ValueError(f"`x` and `y` must hold the same number of examples, got {len(x)} and {len(y)}.")
    check_int("len(x)", len(x), low=1)
    batch_size = check_int("batch_size", batch_size, low=1)
    seed = check_int("seed", seed, low=0, high=2**31 - 1)
    # Shuffled here: Keras' reminder that fit(shuffle=True) ignores a tf.data dataset is noise (kerasreg.data's filter).
    _silence_keras_shuffle_reminder()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).repeat()
