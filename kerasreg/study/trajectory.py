"""The path of an optimizer on a problem whose gradient is written in numpy."""

import keras
import numpy as np

from kerasreg._validation import check_int

__all__ = ["trajectory"]


def trajectory(optimizer, initial, grad_fn, steps, stop=None):
    """Run ``steps`` optimizer updates on a numpy-gradient problem; record the weights.

    ``w_0 = initial``; for ``t = 0, 1, ...``: ``g_t = grad_fn(w_t)``,
    ``w_{t+1} = optimizer.apply(g_t, w_t)`` (in float32), until ``steps``
    updates are made or ``stop(w_{t+1})`` is true.

    The numbers are those of ``kerasreg.testing.optimizer_trajectory``
    (eager); on TensorFlow the update runs as one traced ``tf.function``,
    which is several times faster for small problems.

    Args:
        optimizer: a Keras optimizer, not yet built.
        initial: list of numpy arrays, the starting weights.
        grad_fn: ``f(list of numpy weights) -> list of numpy gradients``.
        steps: int >= 0, the most updates.
        stop: optional ``f(list of numpy weights) -> bool``, checked after
            each update (after recording it).

    Returns:
        At most ``steps + 1`` lists of numpy arrays: the weights before any
        update, then after each.

    Example (gradient descent on ``w^2``: ``w <- w - 0.1 * 2 w``):

    >>> path = kerasreg.study.trajectory(kerasreg.optimizers.SGD(0.1), [np.array([1.0])],
    ...                                  lambda ws: [2 * ws[0]], steps=3)
    >>> [round(float(ws[0][0]), 4) for ws in path]
    [1.0, 0.8, 0.64, 0.512]
    """
    steps = check_int("steps", steps, low=0)
    variables = [keras.Variable(np.array(w, dtype="float32")) for w in initial]
    optimizer.build(variables)

    def apply(grads):
        optimizer.apply(grads, variables)
        return [keras.ops.convert_to_tensor(v) for v in variables]

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        apply = tf.function(apply, autograph=False)
    history = [[np.array(v) for v in variables]]
    for _ in range(steps):
        grads = grad_fn(history[-1])
        values = apply([keras.ops.convert_to_tensor(np.asarray(g, "float32")) for g in grads])
        history.append([keras.ops.convert_to_numpy(v) for v in values])
        if stop is not None and stop(history[-1]):
            break
    return history
