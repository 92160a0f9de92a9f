"""A chain of Keras augmentation layers, applied to batches inside ``tf.data``."""

import keras
import tensorflow as tf

from kerasreg._validation import check_float, check_int
from kerasreg.augment import names as _names

__all__ = ["Pipeline", "pipeline", "batch_seeds"]


class _StatelessSeed(keras.random.SeedGenerator):
    """Stands in for a ``keras.random.SeedGenerator`` inside one traced batch.

    Keras' random layers draw every random number through ``seed.next()``.  A
    real ``SeedGenerator`` keeps its state in a variable, which parallel
    ``tf.data`` map calls read and bump in whatever order the threads run, so
    the batch <-> randomness pairing would change from run to run.  This one
    derives every draw from the batch's own seed tensor instead (a counter
    folded in per draw), so a batch's augmentation depends only on that seed.
    """

    def __init__(self, seed):  # no super().__init__: no state variable wanted
        self._seed = seed
        self._draws = 0

    def next(self, ordered=True):
        self._draws += 1
        return tf.random.experimental.stateless_fold_in(self._seed, self._draws)


def _run_layer(layer, images, seed):
    """One Keras augmentation layer on a batch, every draw derived from ``seed``."""
    # The layer runs on TensorFlow here, whatever Keras' backend (as Keras'
    # own DataLayer.__call__ does inside tf.data).
    layer.backend.set_backend("tensorflow")
    try:
        transformation = layer.get_random_transformation(
            images, training=True, seed=_StatelessSeed(seed))
        images = layer.transform_images(images, transformation, training=True)
    finally:
        layer.backend.reset()
    return tf.cast(images, "float32")


def batch_seeds(seed):
    """An endless dataset of shape-(2,) int64 seeds, fresh on every epoch.

    ``tf.data.Dataset.random(seed, rerandomize_each_iteration=True)`` yields
    the same stream for the same ``seed`` and a new stream on each pass over
    the data, so augmentations and label flips differ between epochs yet a
    run can be repeated exactly.  The stream is produced sequentially, so a
    parallel map that consumes it stays deterministic.
    """
    return tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)


class Pipeline:
    """Augmentations by name, as Keras layers, applied batch-wise in ``tf.data``.

    Each name maps to one of Keras' preprocessing layers (the table is in
    ``kerasreg.augment.names``); the layers run in the order given, on whole
    batches (one vectorized call per batch rather than one per image).  In
    ``tf.data`` (``apply``) the map runs with ``num_parallel_calls=AUTOTUNE``
    and the result is prefetched.

    Determinism: each batch gets its own seed from ``batch_seeds(seed)`` and
    every random draw of every layer is a stateless function of it, so the
    same ``seed`` gives the same augmented batches (in every epoch order),
    another seed gives others, and epochs differ from one another.

    Training only: ``apply`` is meant for the training split; ``__call__``
    with ``training=False`` returns the images unchanged (identity, as Keras'
    layers are at inference).

    Input: float images ``(batch, height, width, channels)`` (or a single
    ``(height, width, channels)`` image) with values in ``value_range``.
    Anything else (flat feature vectors, 2-D tables) raises ``ValueError``.
    Colour-only names (``hue``, ``saturation``, ``grayscale``) on images with
    one channel raise ``ValueError`` rather than silently doing nothing.

    Args:
        augmentations: list of names or ``(name, strength)`` pairs, e.g.
            ``["flip_lr", ("rotate", 0.1)]``.  Non-empty.
        seed: int >= 0.  Defaults to ``0``.
        value_range: ``(low, high)`` of the pixel values; defaults to
            ``(0, 1)``, which is what ``kerasreg.data.load`` produces.

    Example:

    >>> train, _, _, info = kerasreg.data.load("digits")  # (images, labels) batches
    >>> aug = kerasreg.augment.pipeline(["flip_lr", ("rotate", 0.1)], seed=3)
    >>> train = aug.apply(train)
    >>> model = keras.Sequential([keras.Input(info.input_shape), *aug.layers,  # or as model layers
    ...                           keras.layers.Flatten(), keras.layers.Dense(10)])

    Reference:
        Shorten and Khoshgoftaar, "A survey on Image Data Augmentation for
        Deep Learning", 2019, https://doi.org/10.1186/s40537-019-0197-0.
    """

    def __init__(self, augmentations, seed=0, value_range=(0.0, 1.0)):
        if isinstance(augmentations, str):
            augmentations = [augmentations]
        augmentations = list(augmentations)
        if not augmentations:
            raise ValueError("`augmentations` must name at least one augmentation, got [].")
        self.augmentations = [_names.parse_spec(a) for a in augmentations]
        self.seed = check_int("seed", seed, low=0)
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
            raise ValueError(f"`value_range` must be a (low, high) pair, got {value_range!r}.")
        low = check_float("value_range[0]", value_range[0])
        high = check_float("value_range[1]", value_range[1])
        if not low < high:
            raise ValueError(f"`value_range` must have low < high, got {value_range!r}.")
        self.value_range = (low, high)
        self.layers = [
            _names.build_layer(name, strength, self.value_range, seed=self.seed + i)
            for i, (name, strength) in enumerate(self.augmentations)
        ]

    @property
    def names(self):
        return [name for name, _ in self.augmentations]

    def check_images(self, shape):
        """Raise ``ValueError`` unless ``shape`` is an image (batch) shape these ops accept."""
        shape = tuple(shape)
        if len(shape) not in (3, 4):
            raise ValueError(
                "Image augmentations need images of shape (height, width, channels) or "
                f"a batch of them; got shape {shape}. Flat feature vectors and tables "
                "cannot be augmented (load images with flatten=False and flatten after)."
            )
        channels = shape[-1]
        if channels is not None and channels not in (1, 3):
            raise ValueError(
                f"Image augmentations need 1 or 3 channels (channels last); got shape {shape}."
            )
        colour = [n for n in self.names if _names.is_colour_only(n)]
        if channels == 1 and colour:
            raise ValueError(
                f"Augmentation(s) {colour} change colour and need RGB images, but the "
                f"images have 1 channel (shape {shape}). Remove them for grayscale data, "
                "or convert the images to RGB first."
            )

    def augment_batch(self, images, seed):
        """Augment a batch with the randomness fixed by ``seed`` (shape (2,) int)."""
        self.check_images(images.shape)
        single = len(images.shape) == 3
        if single:
            images = tf.expand_dims(images, 0)
        images = tf.cast(images, "float32")
        seed = tf.cast(seed, "int64")
        for i, layer in enumerate(self.layers):
            layer_seed = tf.random.experimental.stateless_fold_in(seed, i)
            # Every layer, elastic included, transforms the whole batch in one
            # call (kerasreg's RandomElasticTransform resamples the batch at
            # once; Keras' own unrolls a loop over images and channels).
            images = _run_layer(layer, images, layer_seed)
        return images[0] if single else images

    def __call__(self, images, training=True, step=0):
        """Augment ``images`` eagerly (``training=False``: unchanged).

        ``step`` picks which of the seeded random draws to use: the same
        ``(seed, step)`` always gives the same result.
        """
        images = tf.convert_to_tensor(images)
        if not training:
            self.check_images(images.shape)
            return images
        step = check_int("step", step, low=0)
        return self.augment_batch(images, tf.constant([self.seed, step], "int64"))

    def apply(self, dataset):
        """Augment a ``tf.data.Dataset`` of image batches or ``(images, labels, ...)``.

        Returns the dataset mapped with ``num_parallel_calls=AUTOTUNE`` (in
        order, ``deterministic=True``) and prefetched.  Use on the training
        split only.
        """
        spec = dataset.element_spec
        images_spec = spec[0] if isinstance(spec, tuple) else spec
        self.check_images(images_spec.shape)
        paired = tf.data.Dataset.zip(dataset, batch_seeds(self.seed))

        def fn(element, seed):
            if isinstance(element, tuple):
                return (self.augment_batch(element[0], seed), *element[1:])
            return self.augment_batch(element, seed)

        return paired.map(
            fn, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        ).prefetch(tf.data.AUTOTUNE)

    def __repr__(self):
        return f"Pipeline({self.augmentations!r}, seed={self.seed})"


def pipeline(augmentations, seed=0, value_range=(0.0, 1.0)):
    """Build a ``Pipeline`` from names and strengths (see ``Pipeline``)."""
    return Pipeline(augmentations, seed=seed, value_range=value_range)
