"""The documented switch for bitwise-reproducible training."""

import random

import keras
import numpy as np

from kerasreg._validation import check_int

__all__ = ["enable_determinism"]


def enable_determinism(seed):
    """Make training bitwise reproducible: same seed, same weights.

    Seeds Python's ``random``, NumPy and Keras' global generator
    (``keras.utils.set_random_seed``) and, on the TensorFlow backend, turns on
    ``tf.config.experimental.enable_op_determinism()`` (deterministic kernels,
    deterministic ``tf.data``; ops without a deterministic kernel raise instead
    of silently varying).  On the JAX backend, CPU execution is already
    deterministic; for GPUs set ``XLA_FLAGS=--xla_gpu_deterministic_ops=true``
    before JAX starts.

    Op determinism is process-wide and cannot be turned off again; it may slow
    training.  Components that draw randomness must get it from a
    ``keras.random.SeedGenerator`` (kerasreg's do), and ``tf.data`` shuffles
    need an explicit ``seed``.  ``PYTHONHASHSEED`` only matters for code that
    iterates over sets of strings; set it in the environment of the process.

    Args:
        seed: int in [0, 2**32 - 1].
    """
    seed = check_int("seed", seed, low=0, high=2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    return seed
