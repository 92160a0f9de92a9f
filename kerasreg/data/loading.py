"""The data entry points: ``load`` (tf.data), ``load_arrays`` (numpy), ``from_arrays``."""

import os
import warnings

import keras
import numpy as np
import tensorflow as tf

from kerasreg._validation import check_bool, check_int
from kerasreg.data.build import build
from kerasreg.data.embedded import EMBEDDED, make_embedded
from kerasreg.data.info import DatasetInfo
from kerasreg.data.sources import folder_sources, tfds_sources
from kerasreg.data.splits import check_fractions, split_indices

__all__ = ["load", "load_arrays", "from_arrays"]

# Keras warns at every `fit` on a tf.data.Dataset that `shuffle=True` (fit's default) "will be
# ignored" (keras/src/trainers/data_adapters/__init__.py, get_data_adapter), reminding the user
# to shuffle in the pipeline.  The training splits built here are shuffled in the pipeline
# (seeded, anew each epoch), so for them the reminder is noise.  Keras has no per-dataset way to
# say "already shuffled", hence this filter on that one message (no patching of Keras).  It also
# quiets the reminder for tf.data datasets of your own once kerasreg.data is imported: shuffle
# those with `.shuffle(buffer_size)`, as ``load`` does.  Installed at import and again by every
# ``load`` / ``from_arrays`` call, so that it also holds where the import happened inside a
# `warnings.catch_warnings()` block that has since restored the filters (pytest's collection does).
def _silence_keras_shuffle_reminder():
    warnings.filterwarnings(
        "ignore",
        message=r"`shuffle=True` was passed, but will be ignored since the data `x` was provided as a tf\.data\.Dataset",
        category=UserWarning,
    )


_silence_keras_shuffle_reminder()


def load(name="digits", *, batch_size=32, eval_batch_size=None, validation_split=0.2, test_split=None, seed=0,
         normalize=False, flatten=False, image_size=None, augment=None, label_noise=0.0,
         one_hot=False, data_dir=None, n_samples=None, noise=None, shuffle_buffer=10_000):
    """Train / validation / test ``tf.data.Dataset``s of ``(x, y)`` batches, and a ``DatasetInfo``.

    ``name`` is one of

    * an embedded dataset, offline (``kerasreg.data.embedded``): ``"digits"``
      (default; 8x8x1 images in [0, 1], ``flatten=True`` for 64-vectors),
      ``"noisy_sine"`` (the lecture's overfitting picture), ``"moons"``,
      ``"circles"``, ``"blobs"``;
    * a path to a folder with one sub-folder of images per class (read by
      ``keras.utils.image_dataset_from_directory``);
    * any tensorflow-datasets name (``"mnist"``, ``"fashion_mnist"``,
      ``"cifar10"``, ...), read from a prepared copy in ``data_dir``.  Nothing
      is downloaded: without a prepared copy this raises ``FileNotFoundError``
      at once, saying how to prepare one on a machine with network.

    Images come scaled to [0, 1].  The training split is shuffled (seeded,
    anew each epoch), augmented and label-noised; validation and test are
    not (identity there).  Since the training split is shuffled here,
    Keras' reminder at ``fit`` that ``shuffle=True`` is ignored for a
    ``tf.data.Dataset`` is silenced (a warnings filter on that message).  Splits are disjoint, cut by a seeded permutation.

    Args:
        name: see above.
        batch_size: int >= 1.
        eval_batch_size: int >= 1, the batch size of validation and test
            (default: ``batch_size``).  Larger batches evaluate faster and
            give the same numbers.
        validation_split: fraction in [0, 1) of the examples for validation
            (of the 'train' split for tensorflow-datasets).  0 gives
            ``validation = None``.
        test_split: fraction in [0, 1) for test, or ``None``: the dataset's
            own 'test' split for tensorflow-datasets, else 0.2.  0 gives
            ``test = None``.
        seed: int >= 0; draws the synthetic data, the splits, the shuffling,
            the augmentations and the label noise.
        normalize: ``(x - mu) / sigma`` with ``keras.layers.Normalization``
            (per feature; per channel for images) adapted on the training
            split only; the adapted layer is ``info.normalizer``.
        flatten: images as flat vectors (after augmentation), for MLPs.
        image_size: ``(height, width)`` to resize images to (e.g. digits to
            32x32 for a CNN); for folders, the size to read them at.
        augment: ``None``, a ``kerasreg.augment.Pipeline`` or a list of
            augmentation names / ``(name, strength)`` pairs (seeded by ``seed``).
        label_noise: ``epsilon`` in [0, 1]: training labels flip to a
            uniformly chosen other class with this probability
            (``kerasreg.augment.LabelNoise``).
        one_hot: one-hot labels (for ``CategoricalCrossentropy(label_smoothing=...)``).
        data_dir: tensorflow-datasets data directory.
        n_samples, noise: size and noise level of the synthetic datasets.
        shuffle_buffer: int >= 1, shuffle buffer for large sources.

    Returns:
        ``(train, validation, test, info)``.

    Example:

    >>> train, val, test, info = kerasreg.data.load("digits", augment=["rotate"])
    >>> model = keras.Sequential([keras.Input(info.input_shape), keras.layers.Flatten(), keras.layers.Dense(10)])
    >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> history = model.fit(train, validation_data=val, epochs=5, verbose=0)
    """
    if not isinstance(name, (str, os.PathLike)):
        raise TypeError(f"`name` must be a dataset name or a folder path, got {name!r}.")
    _silence_keras_shuffle_reminder()
    validation_split, test_split = check_fractions(validation_split, test_split)
    seed = check_int("seed", seed, low=0)
    options = dict(batch_size=batch_size, eval_batch_size=eval_batch_size, seed=seed, normalize=normalize, flatten=flatten,
                   augment=augment, label_noise=label_noise, one_hot=one_hot,
                   shuffle_buffer=shuffle_buffer)
    if name in EMBEDDED:
        x, y, names, task, value_range = make_embedded(name, seed, n_samples, noise)
        return from_arrays(x, y, task=task, class_names=names, name=name,
                           value_range=value_range, validation_split=validation_split,
                           test_split=test_split, image_size=image_size, **options)
    if n_samples is not None or noise is not None:
        raise ValueError(f"`n_samples` and `noise` apply to the synthetic embedded "
                         f"datasets only, not to {name!r}.")
    if os.path.isdir(name):
        splits, sizes, names, task, value_range = folder_sources(
            os.fspath(name), image_size, validation_split, test_split, seed)
        image_size = None  # read at that size already
    else:
        if data_dir is not None and not os.path.isdir(data_dir):
            raise FileNotFoundError(f"`data_dir`={data_dir!r} is not a directory.")
        splits, sizes, names, task, value_range = tfds_sources(
            name, data_dir, validation_split, test_split, seed)
    for split, size in zip(("train", "validation", "test"), sizes):
        if split == "train" and size == 0:
            raise ValueError(f"The dataset {os.fspath(name)!r} has no training examples.")
    return build(splits, sizes, name=os.fspath(name), class_names=names, task=task,
                 value_range=value_range, image_size=image_size, **options)


def _check_arrays(x, y, task, class_names):
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim not in (2, 4):
        raise ValueError(
            "`x` must be (examples, features) or images (examples, height, width, "
            f"channels), got shape {x.shape}. Add a channel axis to grayscale images."
        )
    if y.ndim == 2 and y.shape[1] == 1 and task != "regression":
        y = y[:, 0]
    if len(x) != len(y):
        raise ValueError(f"`x` and `y` must hold the same number of examples, got "
                         f"x.shape={x.shape} and y.shape={y.shape}.")
    if len(x) == 0:
        raise ValueError("`x` and `y` are empty (0 examples).")
    if task is None:
        task = "classification" if np.issubdtype(y.dtype, np.integer) else "regression"
    if task not in ("classification", "regression"):
        raise ValueError(f"`task` must be 'classification' or 'regression', got {task!r}.")
    if task == "classification":
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(
                "Classification labels `y` must be integer class ids of shape (examples,), "
                f"got dtype {y.dtype} and shape {y.shape}."
            )
        k = len(class_names) if class_names else int(y.max()) + 1
        if y.min() < 0 or y.max() >= k:
            raise ValueError(f"Labels `y` must lie in [0, {k - 1}] ({k} classes), got "
                             f"values in [{y.min()}, {y.max()}].")
        if k < 2:
            raise ValueError(f"Classification needs >= 2 classes, got {k}.")
        class_names = tuple(class_names) if class_names else tuple(str(c) for c in range(k))
        y = y.astype("int32")
    else:
        class_names = ()
        y = y.astype("float32")
    return x.astype("float32"), y, task, class_names


def from_arrays(x, y, *, task=None, class_names=None, name="arrays", value_range=None,
                validation_split=0.2, test_split=None, seed=0, **options):
    """``load`` for your own numpy arrays: the same splits and pipeline.

    Args:
        x: ``(examples, features)`` or images ``(examples, height, width, channels)``.
        y: integer class ids ``(examples,)`` (classification) or float targets
            (regression).
        task: ``"classification"``, ``"regression"`` or ``None`` (integer
            ``y`` means classification).
        class_names: names of the classes (their number fixes the label range).
        value_range: the inputs' ``(low, high)`` (images: default ``(0, 1)``).
        validation_split, test_split (``None``: 0.2), seed: as in ``load``.
        **options: ``batch_size``, ``eval_batch_size``, ``normalize``, ``flatten``, ``image_size``,
            ``augment``, ``label_noise``, ``one_hot``, ``shuffle_buffer``, as in ``load``.

    Returns:
        ``(train, validation, test, info)`` as ``load``.
    """
    _silence_keras_shuffle_reminder()
    x, y, task, class_names = _check_arrays(x, y, task, class_names)
    if value_range is None and x.ndim == 4:
        value_range = (0.0, 1.0)
    validation_split, test_split = check_fractions(validation_split, test_split)
    seed = check_int("seed", seed, low=0)
    parts = split_indices(len(x), validation_split,
                          0.2 if test_split is None else test_split, seed)
    splits = tuple(tf.data.Dataset.from_tensor_slices((x[i], y[i])) for i in parts)
    sizes = tuple(len(i) for i in parts)
    options.setdefault("shuffle_buffer", sizes[0])
    return build(splits, sizes, name=name, class_names=class_names, task=task,
                 value_range=value_range, seed=seed, **options)


def load_arrays(name="digits", *, validation_split=0.2, test_split=None, seed=0,
                flatten=False, normalize=False, n_samples=None, noise=None):
    """An embedded dataset as numpy arrays, for ``model.fit(x, y)``.

    The same data and the same seeded, disjoint splits as ``load`` with the
    same arguments.  ``normalize=True`` standardizes every split with the
    statistics of the training split (``info.normalizer``).

    Returns:
        ``((x_train, y_train), (x_val, y_val), (x_test, y_test), info)``.
    """
    if name not in EMBEDDED:
        raise ValueError(f"`name` must be an embedded dataset ({', '.join(EMBEDDED)}) "
                         f"for load_arrays, got {name!r}; use load() for the others.")
    validation_split, test_split = check_fractions(validation_split, test_split)
    seed = check_int("seed", seed, low=0)
    flatten = check_bool("flatten", flatten)
    normalize = check_bool("normalize", normalize)
    x, y, names, task, value_range = make_embedded(name, seed, n_samples, noise)
    x, y, task, names = _check_arrays(x, y, task, names)
    parts = split_indices(len(x), validation_split,
                          0.2 if test_split is None else test_split, seed)
    if flatten:
        x = x.reshape(len(x), -1)
    normalizer = None
    if normalize:
        normalizer = keras.layers.Normalization(axis=-1)
        normalizer.adapt(x[parts[0]])
        x = keras.ops.convert_to_numpy(normalizer(x))
    info = DatasetInfo(
        name=name, task=task, input_shape=tuple(x.shape[1:]),
        num_classes=len(names) if task == "classification" else None,
        class_names=names,
        split_sizes=dict(zip(("train", "validation", "test"), (len(i) for i in parts))),
        value_range=value_range, normalizer=normalizer,
    )
    return (*((x[i], y[i]) for i in parts), info)
