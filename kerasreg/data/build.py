"""From unbatched (x, y) splits to the batched, prefetched tf.data pipelines."""

import keras
import numpy as np
import tensorflow as tf

from kerasreg._validation import check_bool, check_float, check_int
from kerasreg.augment import LabelNoise, Pipeline
from kerasreg.data.info import DatasetInfo

__all__ = ["build"]


def _as_pipeline(augment, seed, value_range):
    if augment is None or isinstance(augment, Pipeline):
        return augment
    return Pipeline(augment, seed=seed, value_range=value_range or (0.0, 1.0))


def build(splits, sizes, *, name, class_names, task, value_range, batch_size=32, eval_batch_size=None, seed=0,
          normalize=False, flatten=False, image_size=None, augment=None, label_noise=0.0,
          one_hot=False, shuffle_buffer=10_000):
    """Batch, resize, augment, flatten, normalize, add label noise, one-hot, prefetch.

    In that order, on the training split; validation and test get the same
    steps minus the random ones (augmentation and label noise), so they are
    identity there.  The ``Normalization`` layer is adapted on the training
    split alone, after resizing / flattening and before any augmentation.
    """
    batch_size = check_int("batch_size", batch_size, low=1)
    eval_batch_size = batch_size if eval_batch_size is None else check_int("eval_batch_size", eval_batch_size, low=1)
    seed = check_int("seed", seed, low=0)
    normalize = check_bool("normalize", normalize)
    flatten = check_bool("flatten", flatten)
    one_hot = check_bool("one_hot", one_hot)
    label_noise = check_float("label_noise", label_noise, 0.0, 1.0)
    shuffle_buffer = check_int("shuffle_buffer", shuffle_buffer, low=1)
    train, val, test = splits
    x_shape = tuple(train.element_spec[0].shape)
    is_image = len(x_shape) == 3
    num_classes = len(class_names) if task == "classification" else None
    if task == "regression" and (label_noise > 0 or one_hot):
        raise ValueError(
            f"`label_noise` and `one_hot` need class labels; {name!r} is a regression "
            f"dataset (got label_noise={label_noise}, one_hot={one_hot})."
        )
    if (augment is not None or image_size is not None) and not is_image:
        which = "augment" if augment is not None else "image_size"
        raise ValueError(
            f"`{which}` needs images of shape (height, width, channels); {name!r} has "
            f"inputs of shape {x_shape}."
        )
    augment = _as_pipeline(augment, seed, value_range)
    resize = None
    if image_size is not None:
        if not isinstance(image_size, (tuple, list)) or len(image_size) != 2:
            raise ValueError(f"`image_size` must be (height, width), got {image_size!r}.")
        h = check_int("image_size[0]", image_size[0], low=1)
        w = check_int("image_size[1]", image_size[1], low=1)
        resize = keras.layers.Resizing(h, w)
        x_shape = (h, w, x_shape[2])
    if augment is not None:
        augment.check_images((None, *x_shape))

    def deterministic(ds, size=batch_size):  # steps shared by every split
        ds = ds.batch(size)
        if resize is not None:
            ds = ds.map(lambda x, y: (resize(x), y), num_parallel_calls=tf.data.AUTOTUNE)
        return ds

    def shape_inputs(ds):
        if flatten:
            features = int(np.prod(x_shape))
            ds = ds.map(lambda x, y: (tf.reshape(x, (-1, features)), y))
        return ds

    normalizer = None
    if normalize:
        normalizer = keras.layers.Normalization(axis=-1)
        normalizer.adapt(shape_inputs(deterministic(train)).map(lambda x, y: x))

    def finish(ds):
        ds = shape_inputs(ds)
        if normalizer is not None:
            ds = ds.map(lambda x, y: (normalizer(x), y), num_parallel_calls=tf.data.AUTOTUNE)
        if one_hot:
            ds = ds.map(lambda x, y: (x, tf.one_hot(tf.cast(y, "int32"), num_classes)))
        return ds.prefetch(tf.data.AUTOTUNE)

    buffer = min(shuffle_buffer, max(sizes[0], 1))
    train = deterministic(train.shuffle(buffer, seed=seed, reshuffle_each_iteration=True))
    if augment is not None:
        train = augment.apply(train)
    if label_noise > 0:
        train = LabelNoise(label_noise, num_classes, seed=seed).apply(train)
    train = finish(train)
    val = finish(deterministic(val, eval_batch_size)) if sizes[1] else None
    test = finish(deterministic(test, eval_batch_size)) if sizes[2] else None
    input_shape = (int(np.prod(x_shape)),) if flatten else x_shape
    info = DatasetInfo(
        name=name, task=task, input_shape=tuple(int(d) for d in input_shape),
        num_classes=num_classes, class_names=tuple(class_names),
        split_sizes={"train": sizes[0], "validation": sizes[1], "test": sizes[2]},
        value_range=value_range, normalizer=normalizer, one_hot=one_hot,
    )
    return train, val, test, info
