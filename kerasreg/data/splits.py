"""Seeded, disjoint train / validation / test splits by index."""

import numpy as np
import tensorflow as tf

from kerasreg._validation import check_float, check_int

__all__ = ["check_fractions", "split_indices", "split_dataset"]

TRAIN, VALIDATION, TEST = 0, 1, 2


def check_fractions(validation_split, test_split):
    """Validate the split fractions (``test_split`` may be ``None``)."""
    validation_split = check_float("validation_split", validation_split, 0.0, 1.0,
                                   high_open=True)
    if test_split is not None:
        test_split = check_float("test_split", test_split, 0.0, 1.0, high_open=True)
        if validation_split + test_split >= 1.0:
            raise ValueError(
                "`validation_split` + `test_split` must be < 1 (something must be left "
                f"to train on), got {validation_split} + {test_split}."
            )
    return validation_split, test_split


def split_indices(n, validation_split, test_split, seed):
    """A seeded permutation of ``range(n)`` cut into (train, validation, test) indices.

    ``round(n * fraction)`` examples go to validation and to test, the rest
    to training; the three index arrays are disjoint and cover ``range(n)``.
    """
    n = check_int("n", n, low=0)
    if n == 0:
        raise ValueError("The dataset is empty (0 examples); nothing to split.")
    n_val = int(round(n * validation_split))
    n_test = int(round(n * (test_split or 0.0)))
    n_train = n - n_val - n_test
    if n_train < 1:
        raise ValueError(
            f"`validation_split`={validation_split} and `test_split`={test_split} leave "
            f"no training example out of {n}."
        )
    order = np.random.default_rng(seed).permutation(n)
    return order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:]


def split_dataset(dataset, n, validation_split, test_split, seed):
    """Split an (unbatched, finite) ``tf.data.Dataset`` of ``n`` examples by index.

    Streams: each split is ``dataset.enumerate().filter(...)`` on a lookup
    table of which split each index belongs to, so nothing is held in memory
    and the splits are disjoint whatever the source's order.
    """
    train, val, test = split_indices(n, validation_split, test_split, seed)
    owner = np.zeros(n, dtype="int32")
    owner[val] = VALIDATION
    owner[test] = TEST
    owner = tf.constant(owner)

    def part(k):
        return dataset.enumerate().filter(
            lambda i, _: tf.gather(owner, i) == k).map(lambda i, element: element)

    return (part(TRAIN), part(VALIDATION), part(TEST)), (len(train), len(val), len(test))
