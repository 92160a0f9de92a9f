"""One image under each augmentation, like the lecture's slide: a PNG grid and a
TensorBoard image summary."""

import os
import warnings

import numpy as np
import tensorflow as tf

from kerasreg._validation import check_int
from kerasreg.augment import names as _names
from kerasreg.augment.pipelines import Pipeline

__all__ = ["preview", "preview_images"]

_MAX_TRIES = 32


def _value_range(image, value_range):
    """``value_range`` checked against the image's values (see ``preview_images``)."""
    low, high = float(image.min()), float(image.max())
    if value_range is None:
        if high <= 1.0 + 1e-6:
            return (0.0, 1.0)
        if low >= 0.0 and high <= 255.0:
            warnings.warn(
                f"`image` has values up to {high:g}, outside [0, 1]: previewed as a 0-255 image "
                "(value_range=(0, 255)). Pass `value_range` to say which range the image uses.",
                stacklevel=3,
            )
            return (0.0, 255.0)
        value_range = (0.0, 1.0)
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
        raise ValueError(f"`value_range` must be a (low, high) pair, got {value_range!r}.")
    value_range = (float(value_range[0]), float(value_range[1]))
    span = value_range[1] - value_range[0]
    if low < value_range[0] - 1e-3 * span or high > value_range[1] + 1e-3 * span:
        warnings.warn(
            f"`image` has values in [{low:g}, {high:g}], outside value_range={value_range}: the preview "
            "clips them. Pass the image's own range as `value_range`.",
            stacklevel=3,
        )
    return value_range


def preview_images(image, augmentations=None, seed=0, value_range=None):
    """The original ``image`` and one augmented copy per augmentation.

    Args:
        image: one image ``(height, width, channels)``, values in ``value_range``.
        value_range: ``(low, high)`` of the image's values.  ``None``
            (default): ``(0, 1)``, or ``(0, 255)`` with a warning when the
            image's values exceed 1 (a 0-255 image previewed as [0, 1] would
            show all white).  Values outside an explicit range warn (the
            preview clips them).
        augmentations: names or ``(name, strength)`` pairs.  ``None`` means
            the lecture's six (``LECTURE_AUGMENTATIONS``); for a grayscale
            image the colour-only ones (``hue``) are then skipped, explicitly
            (they would not change a gray image).  Named explicitly on a
            grayscale image they raise ``ValueError``, as in ``Pipeline``.
        seed: int >= 0.

    Returns:
        ``(titles, images)``: ``["original", name, ...]`` and a float32 array
        ``(1 + n, height, width, channels)``.  For each augmentation the first
        seeded draw that visibly changes the image is shown (a random flip
        leaves half of the images as they are).
    """
    image = np.asarray(image, dtype="float32")
    if image.ndim != 3:
        raise ValueError(
            f"`image` must be one image of shape (height, width, channels), got shape "
            f"{image.shape}."
        )
    if augmentations is None:
        augmentations = [
            n for n in _names.LECTURE_AUGMENTATIONS
            if not (image.shape[-1] == 1 and _names.is_colour_only(n))
        ]
    seed = check_int("seed", seed, low=0)
    value_range = _value_range(image, value_range)
    titles, images = ["original"], [image]
    for spec in augmentations:
        aug = Pipeline([spec], seed=seed, value_range=value_range)
        aug.check_images(image.shape)
        for step in range(_MAX_TRIES):
            out = aug(image, training=True, step=step).numpy()
            if np.abs(out - image).max() > 1e-3:
                break
        titles.append(aug.names[0])
        images.append(out)
    return titles, np.stack(images)


def preview(image, path=None, logdir=None, augmentations=None, seed=0,
            value_range=None, cell_pixels=128, columns=4, step=0):
    """Write the preview grid as a PNG and / or a TensorBoard image summary.

    The PNG has ``rows x columns`` cells of ``cell_pixels`` square pixels
    each (``rows = ceil((1 + n) / columns)``), so it is exactly
    ``rows * cell_pixels`` by ``columns * cell_pixels`` pixels.  The
    TensorBoard summary ``augmentations`` holds the ``1 + n`` images
    (original first), rescaled to [0, 1].

    Args:
        image: one image ``(height, width, channels)``.
        path: PNG file to write, or ``None``.
        logdir: TensorBoard log directory to write to, or ``None``.
        augmentations, seed, value_range: as in ``preview_images``.
        cell_pixels: int >= 16.  columns: int >= 1.  step: summary step.

    Returns:
        ``(titles, images)`` from ``preview_images``.
    """
    cell_pixels = check_int("cell_pixels", cell_pixels, low=16)
    columns = check_int("columns", columns, low=1)
    image = np.asarray(image, dtype="float32")
    if image.ndim == 3:
        value_range = _value_range(image, value_range)
    titles, images = preview_images(image, augmentations, seed, value_range)
    low, high = value_range
    unit = np.clip((images - low) / (high - low), 0.0, 1.0)
    if path is not None:
        _write_png(path, titles, unit, cell_pixels, min(columns, len(titles)))
    if logdir is not None:
        writer = tf.summary.create_file_writer(os.fspath(logdir))
        with writer.as_default():
            tf.summary.image("augmentations", unit, step=step, max_outputs=len(titles),
                             description="original, " + ", ".join(titles[1:]))
        writer.flush()
        writer.close()
    return titles, images


def _write_png(path, titles, images, cell_pixels, columns):
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    rows = -(-len(titles) // columns)
    dpi = 100
    fig = Figure(figsize=(columns * cell_pixels / dpi, rows * cell_pixels / dpi), dpi=dpi)
    for i in range(rows * columns):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.axis("off")
        if i < len(titles):
            img = images[i]
            ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray",
                      vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_title(titles[i], fontsize=8)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.9, wspace=0.1, hspace=0.3)
    fig.savefig(os.fspath(path), dpi=dpi)
