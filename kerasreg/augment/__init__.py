"""kerasreg.augment: the lecture's data augmentations and label noise, in tf.data.

The lecture's slide names six augmentations: ``hue``, ``crop_and_pan``,
``elastic``, ``flip_lr``, ``flip_ud``, ``rotate``.  Each is one of Keras' own
preprocessing layers (table in ``kerasreg.augment.names``), chained by
``pipeline([...], seed=...)`` and applied batch-wise in ``tf.data`` on the
training split only::

    aug = kerasreg.augment.pipeline(["flip_lr", ("rotate", 0.1), "elastic"], seed=0)
    train = aug.apply(train)

or, simplest, ``kerasreg.data.load("digits", augment=[...])``.

``RandomShift(max_shift, image_shape)`` is a layer for the model itself:
random sub-pixel shifts of flattened images (an MLP's inputs), in training
only, one draw per batch from its seed (it trains inside ``kerasreg.stacked``).

``elastic`` is ``RandomElasticTransform``: Keras' layer with the resampling
batched (one gather for the whole batch) and independent x and y displacements.

Label noise (the lecture's "injecting noise in output labels") is
``LabelNoise(epsilon, num_classes)``: flips to a uniformly chosen other class.

Label smoothing is not here: it stays with Keras' losses.  Load one-hot labels
and smooth in the loss::

    train, val, test, info = kerasreg.data.load("digits", one_hot=True)
    model.compile(loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1), ...)

which trains against ``(1 - 0.1) * one_hot + 0.1 / K``.

``preview(image, path="aug.png", logdir="runs/aug")`` draws one image under
each augmentation, like the lecture's slide.
"""

from kerasreg._lazy import lazy_names
from kerasreg.augment.names import AUGMENTATIONS, LECTURE_AUGMENTATIONS
from kerasreg.augment.random_elastic_transform import RandomElasticTransform
from kerasreg.augment.random_shift import RandomShift, shift_images

# tf.data and image-file helpers: TensorFlow, loaded on first use (the layers above are keras.ops
# only and import without TensorFlow).
_LAZY = {"LabelNoise": "label_noise", "flip_labels": "label_noise", "Pipeline": "pipelines",
         "pipeline": "pipelines", "preview": "previews", "preview_images": "previews"}


__getattr__ = lazy_names("kerasreg.augment", _LAZY, globals())


__all__ = [
    "AUGMENTATIONS",
    "LECTURE_AUGMENTATIONS",
    "LabelNoise",
    "Pipeline",
    "RandomElasticTransform",
    "RandomShift",
    "flip_labels",
    "pipeline",
    "preview",
    "preview_images",
    "shift_images",
]
