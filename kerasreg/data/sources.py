"""Dataset sources: tensorflow-datasets names and folders of images."""

import os

import keras
import tensorflow as tf

from kerasreg.data.splits import split_dataset

__all__ = ["tfds_sources", "folder_sources"]

_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def _to_unit(x):
    """uint8 images -> float32 in [0, 1]; anything else -> float32."""
    if x.dtype == tf.uint8:
        return tf.cast(x, "float32") / 255.0
    return tf.cast(x, "float32")


def tfds_sources(name, data_dir, validation_split, test_split, seed):
    """Unbatched ``(x, y)`` datasets for a tensorflow-datasets name.

    Never downloads: a name without a prepared copy in ``data_dir`` fails at
    once with ``FileNotFoundError`` saying how to prepare one.

    Returns:
        ``(train, validation, test), sizes, class_names, task, value_range``.
    """
    import tensorflow_datasets as tfds

    from kerasreg.data.embedded import EMBEDDED

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(
            f"Unknown dataset `name`={name!r}: not an embedded dataset "
            f"({', '.join(EMBEDDED)}), not an existing folder of images, and not a "
            "tensorflow-datasets name (see tfds.list_builders())."
        ) from None
    splits = dict(builder.info.splits)
    if test_split is None and splits and "test" not in splits:
        raise ValueError(
            f"{name!r} has no 'test' split (it has {sorted(splits)}); pass "
            "`test_split`=<fraction> to carve one out of 'train'."
        )
    wanted = ["train"] if test_split is not None else ["train", "test"]
    try:
        loaded = tfds.load(name, split=wanted, data_dir=data_dir, download=False,
                           as_supervised=True)
    except AssertionError:  # tfds' "could not find data in ..."
        where = data_dir or "~/tensorflow_datasets (the default data_dir)"
        raise FileNotFoundError(
            f"No prepared copy of the tensorflow-datasets dataset {name!r} in {where}, "
            "and kerasreg never downloads at run time. On a machine with network run\n"
            f"    import tensorflow_datasets as tfds; "
            f"tfds.builder({name!r}, data_dir=DIR).download_and_prepare()\n"
            "then copy DIR here and pass data_dir=DIR (or use an embedded dataset "
            "such as 'digits')."
        ) from None
    loaded = [ds.map(lambda x, y: (_to_unit(x), y)) for ds in loaded]
    n = int(loaded[0].cardinality())
    if n < 0:
        n = int(splits["train"].num_examples)
    (train, val, test), sizes = split_dataset(
        loaded[0], n, validation_split, test_split or 0.0, seed)
    if test_split is None:
        test = loaded[1]
        n_test = int(test.cardinality())
        if n_test < 0:
            n_test = int(splits["test"].num_examples)
        sizes = (sizes[0], sizes[1], n_test)
    x_spec, y_spec = loaded[0].element_spec
    label = builder.info.features[builder.info.supervised_keys[1]]
    if isinstance(label, tfds.features.ClassLabel):
        names, task = tuple(label.names), "classification"
    else:
        names, task = (), "regression"
    value_range = (0.0, 1.0) if len(x_spec.shape) == 3 else None
    return (train, val, test), sizes, names, task, value_range


def _first_image(directory):
    for root, dirs, files in sorted(os.walk(directory)):
        dirs.sort()
        for f in sorted(files):
            if f.lower().endswith(_IMAGE_EXTENSIONS):
                return os.path.join(root, f)
    raise ValueError(f"The folder `name`={directory!r} holds no image files "
                     f"({', '.join(_IMAGE_EXTENSIONS)}); it needs one sub-folder per class.")


def folder_sources(directory, image_size, validation_split, test_split, seed):
    """Unbatched ``(x, y)`` datasets from a folder with one sub-folder per class.

    Read by Keras' ``keras.utils.image_dataset_from_directory`` (labels from
    the sub-folder names, in alphabetical order), scaled to [0, 1].  Without
    ``image_size`` all images are resized to the first image's size; the
    colour mode (grayscale / rgb / rgba) follows the first image's channels.
    """
    first = _first_image(directory)
    shape = tf.io.decode_image(tf.io.read_file(first), expand_animations=False).shape
    color_mode = "grayscale" if shape[-1] == 1 else "rgb"  # an alpha channel is dropped
    if image_size is None:
        image_size = (int(shape[0]), int(shape[1]))
    ds = keras.utils.image_dataset_from_directory(
        directory, labels="inferred", label_mode="int", color_mode=color_mode,
        batch_size=None, image_size=tuple(image_size), shuffle=False, verbose=False)
    class_names = tuple(ds.class_names)
    n = int(ds.cardinality())
    ds = ds.map(lambda x, y: (x / 255.0, tf.cast(y, "int32")))
    (train, val, test), sizes = split_dataset(
        ds, n, validation_split, 0.2 if test_split is None else test_split, seed)
    return (train, val, test), sizes, class_names, "classification", (0.0, 1.0)

