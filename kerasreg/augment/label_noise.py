"""Label noise: random flips of class labels, applied in ``tf.data``."""

import tensorflow as tf

from kerasreg._validation import check_float, check_int
from kerasreg.augment.pipelines import batch_seeds

__all__ = ["LabelNoise", "flip_labels"]


def flip_labels(labels, rate, num_classes, seed):
    """Flip each label with probability ``rate`` to a uniformly chosen other class.

    ```
    y~ = y                       with probability 1 - epsilon
    y~ = (y + k) mod K,  k ~ U{1, ..., K-1},   with probability epsilon
    ```

    so a flipped label is never the original class and each of the ``K - 1``
    other classes has probability ``epsilon / (K - 1)``.  ``epsilon`` is
    ``rate``, ``K`` is ``num_classes``; ``seed`` is a shape-(2,) integer
    tensor (stateless: the same seed gives the same flips).
    """
    labels = tf.convert_to_tensor(labels)
    seed = tf.cast(seed, "int64")
    shape = tf.shape(labels)
    flip = tf.random.stateless_uniform(shape, seed=seed) < rate
    offset = tf.random.stateless_uniform(
        shape, seed=tf.random.experimental.stateless_fold_in(seed, 1),
        minval=1, maxval=num_classes, dtype="int32")
    flipped = tf.math.floormod(tf.cast(labels, "int32") + offset, num_classes)
    return tf.where(flip, tf.cast(flipped, labels.dtype), labels)


class LabelNoise:
    """Noise injected in the output labels (the lecture's "Noise Robustness").

    The lecture lists *injecting noise in output labels* among the ways to
    make a network robust ("prevents pursuit of hard probabilities").  This
    flips each integer label with probability ``epsilon`` to a uniformly
    chosen *other* class (formula in ``flip_labels``), independently per
    example and afresh in every epoch, for the training split only.

    The soft version of the same idea, label smoothing, stays with Keras'
    losses: use one-hot labels (``kerasreg.data.load(..., one_hot=True)``) and
    ``keras.losses.CategoricalCrossentropy(label_smoothing=0.1)``, which trains
    against ``(1 - 0.1) * one_hot + 0.1 / K``.

    Args:
        rate: ``epsilon``, float in [0, 1]. The probability of a flip.
        num_classes: ``K``, int >= 2.
        seed: int >= 0. Defaults to ``0``.

    Example:

    >>> train, _, _, _ = kerasreg.data.load("digits")
    >>> train = LabelNoise(0.2, num_classes=10, seed=1).apply(train)

    Reference:
        Goodfellow, Bengio and Courville, "Deep Learning", 2016, section 7.5.1
        (injecting noise at the output targets).
    """

    def __init__(self, rate, num_classes, seed=0):
        self.rate = check_float("rate", rate, 0.0, 1.0)
        self.num_classes = check_int("num_classes", num_classes, low=2)
        self.seed = check_int("seed", seed, low=0)

    def __call__(self, labels, seed):
        """Flip ``labels`` (integer class ids) with the randomness of ``seed``."""
        labels = tf.convert_to_tensor(labels)
        if not labels.dtype.is_integer:
            raise ValueError(
                f"LabelNoise needs integer class labels, got dtype {labels.dtype.name}; "
                "apply it before one-hot encoding."
            )
        return flip_labels(labels, self.rate, self.num_classes, seed)

    def apply(self, dataset):
        """Flip the labels of a dataset of ``(x, labels, ...)`` elements.

        Mapped with ``num_parallel_calls=AUTOTUNE`` (deterministic: each batch
        has its own seed from the ``seed`` stream) and prefetched.
        """
        spec = dataset.element_spec
        if not isinstance(spec, tuple) or len(spec) < 2:
            raise ValueError(
                "LabelNoise.apply needs a dataset of (x, labels) elements, "
                f"got element_spec={spec}."
            )
        if not spec[1].dtype.is_integer:
            raise ValueError(
                f"LabelNoise needs integer class labels, got dtype {spec[1].dtype.name}; "
                "apply it before one-hot encoding."
            )
        # Its own seed stream, so flips do not correlate with augmentations.
        seeds = batch_seeds(self.seed + 7919)
        paired = tf.data.Dataset.zip(dataset, seeds)
        return paired.map(
            lambda element, seed: (element[0], self(element[1], seed), *element[2:]),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True,
        ).prefetch(tf.data.AUTOTUNE)

    def __repr__(self):
        return f"LabelNoise(rate={self.rate}, num_classes={self.num_classes}, seed={self.seed})"
