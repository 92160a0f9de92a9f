"""The shared test base for kerasreg's own tests (and users' extensions)."""

import unittest

import keras
import numpy as np


class TestCase(unittest.TestCase):
    """Clears the Keras session and fixes the seed before every test."""

    seed = 1337

    def setUp(self):
        super().setUp()
        keras.backend.clear_session(free_memory=False)
        keras.utils.set_random_seed(self.seed)

    def assertAllClose(self, actual, desired, rtol=1e-6, atol=1e-6, msg=""):
        np.testing.assert_allclose(np.asarray(actual), np.asarray(desired), rtol=rtol, atol=atol, err_msg=msg)


def optimizer_trajectory(optimizer, initial, grad_fn, steps, stop=None):
    """Run ``steps`` optimizer updates eagerly and record the weights.

    Args:
        optimizer: a Keras optimizer.
        initial: list of numpy arrays, the starting weights.
        grad_fn: ``f(list of numpy weights) -> list of numpy gradients``,
            written in numpy by the test (the gradient of the test problem).
        steps: number of updates.
        stop: optional ``f(list of numpy weights) -> bool``; the run ends
            early (after recording) once it returns True.

    Returns:
        A list of (at most) ``steps + 1`` lists of numpy arrays: the weights
        before any update and after each one.
    """
    variables = [keras.Variable(np.array(w, dtype="float32")) for w in initial]
    history = [[np.array(v) for v in variables]]
    for _ in range(steps):
        grads = grad_fn([np.array(v) for v in variables])
        optimizer.apply([keras.ops.convert_to_tensor(np.asarray(g, "float32")) for g in grads], variables)
        history.append([np.array(v) for v in variables])
        if stop is not None and stop(history[-1]):
            break
    return history
