"""The augmentation names, each mapped to one of Keras' own preprocessing layers.

The lecture's slide shows six augmentations of one image: ``hue``,
``crop_and_pan``, ``elastic``, ``flip_lr``, ``flip_ud`` and ``rotate``.  Each
name here builds the Keras layer that does it (nothing is re-implemented); a
*strength* picks the layer's main factor:

=================  ===============================================  ============  =======
name               Keras layer (strength ``s``)                     range of s    default
=================  ===============================================  ============  =======
hue                ``RandomHue(s)``, colour only                    (0, 1]        0.5
crop_and_pan       ``RandomTranslation(s, s)``: the crop window     (0, 1]        0.15
                   pans by up to ``s`` of the height / width, what
                   leaves the frame is cropped, the rest is filled
elastic            ``RandomElasticTransform(factor=(1, 1),          (0, 1]        1.0
                   scale=s)``: every image, displacement scale
                   up to ``s`` (relative to the image size); the
                   kerasreg subclass of Keras' layer that resamples
                   the batch at once, with independent dx and dy
flip_lr            ``RandomFlip("horizontal")``                     (no strength)
flip_ud            ``RandomFlip("vertical")``                       (no strength)
rotate             ``RandomRotation(s)``: up to ``s * 360`` degrees (0, 1]        0.1
zoom               ``RandomZoom(s)``                                (0, 1]        0.2
translation        ``RandomTranslation(s, s)``                      (0, 1]        0.15
shear              ``RandomShear(s, s)``                            (0, 1]        0.2
perspective        ``RandomPerspective(factor=1, scale=s)``         (0, 1]        0.5
contrast           ``RandomContrast(s)``                            (0, 1]        0.3
brightness         ``RandomBrightness(s)``                          (0, 1]        0.2
sharpness          ``RandomSharpness(s)``                           (0, 1]        0.5
gaussian_blur      ``RandomGaussianBlur(factor=(1, 1), sigma=s)``   (0, 10]       1.0
erasing            ``RandomErasing(factor=s)``                      (0, 1]        1.0
invert             ``RandomInvert(s)``                              (0, 1]        0.5
saturation         ``RandomSaturation(s)``, colour only             (0, 1]        0.5
grayscale          ``RandomGrayscale(s)``, colour only              (0, 1]        0.5
=================  ===============================================  ============  =======

The lecture writes the names with hyphens (``crop-and-pan``, ``flip-lr``,
``flip-ud``): every name is accepted with hyphens in place of underscores.

``zoom`` is the other reading of the lecture's "crop": a crop of a random size
resized back to the frame.  Colour-only names need 3-channel images; on
grayscale images a pipeline raises (see ``Pipeline``).  Additive Gaussian input
noise is a model layer in Keras (``keras.layers.GaussianNoise``), not a data
augmentation, and is not listed here.
"""

import dataclasses

import keras

from kerasreg._validation import check_float
from kerasreg.augment.random_elastic_transform import RandomElasticTransform

__all__ = ["AUGMENTATIONS", "LECTURE_AUGMENTATIONS", "build_layer"]


@dataclasses.dataclass(frozen=True)
class _Augmentation:
    make: object  # (strength, value_range, seed) -> keras layer
    default: object  # default strength, None for "no strength"
    high: float = 1.0  # strength must lie in (0, high]
    colour_only: bool = False


_AFFINE = dict(fill_mode="constant", fill_value=0.0)


AUGMENTATIONS = {
    # The lecture's six, in the slide's order.
    "hue": _Augmentation(
        lambda s, vr, seed: keras.layers.RandomHue(s, value_range=vr, seed=seed),
        0.5, colour_only=True),
    "crop_and_pan": _Augmentation(
        lambda s, vr, seed: keras.layers.RandomTranslation(s, s, seed=seed, **_AFFINE),
        0.15),
    "elastic": _Augmentation(
        lambda s, vr, seed: RandomElasticTransform(
            factor=(1.0, 1.0), scale=s, value_range=vr, seed=seed, fill_mode="constant"),
        1.0),
    "flip_lr": _Augmentation(
        lambda s, vr, seed: keras.layers.RandomFlip("horizontal", seed=seed), None),
    "flip_ud": _Augmentation(
        lambda s, vr, seed: keras.layers.RandomFlip("vertical", seed=seed), None),
    "rotate": _Augmentation(
        lambda s, vr, seed: keras.layers.RandomRotation(s, seed=seed, **_AFFINE), 0.1),
    # What else Keras offers, under its own name.
    "zoom": _Augmentation(
        lambda s, vr, seed: keras.layers.RandomZoom(s, seed=seed, **_AFFINE), 0.2),
    "translation": _Augmentation(
        lambda s, vr, seed: keras.layers.RandomTranslation(s, s, seed=seed, **_AFFINE),
        0.15),
    "shear": _Augmentation(
        lambda s, vr, seed: keras.layers.RandomShear(s, s, seed=seed, **_AFFINE), 0.2),
    "perspective": _Augmentation(
        lambda s, vr, seed: keras.layers.RandomPerspective(factor=1.0, scale=s, seed=seed),
        0.5),
    "contrast": _Augmentation(
        lambda s, vr, seed: keras.layers.RandomContrast(s, value_range=vr, seed=seed), 0.3),
    "brightness": _Augmentation(
        lambda s, vr, seed: keras.layers.RandomBrightness(s, value_range=vr, seed=seed),
        0.2),
    "sharpness": _Augmentation(
        lambda s, vr, seed: keras.layers.RandomSharpness(s, value_range=vr, seed=seed),
        0.5),
    "gaussian_blur": _Augmentation(
        lambda s, vr, seed: keras.layers.RandomGaussianBlur(
            factor=(1.0, 1.0), sigma=s, value_range=vr, seed=seed),
        1.0, high=10.0),
    "erasing": _Augmentation(
        lambda s, vr, seed: keras.layers.RandomErasing(
            factor=s, fill_value=0.0, value_range=vr, seed=seed),
        1.0),
    "invert": _Augmentation(
        lambda s, vr, seed: keras.layers.RandomInvert(s, value_range=vr, seed=seed), 0.5),
    "saturation": _Augmentation(
        lambda s, vr, seed: keras.layers.RandomSaturation(s, value_range=vr, seed=seed),
        0.5, colour_only=True),
    "grayscale": _Augmentation(
        lambda s, vr, seed: keras.layers.RandomGrayscale(s, seed=seed),
        0.5, colour_only=True),
}

LECTURE_AUGMENTATIONS = ("hue", "crop_and_pan", "elastic", "flip_lr", "flip_ud", "rotate")


def parse_spec(spec):
    """``"name"`` or ``("name", strength)`` -> ``(name, strength)``, validated."""
    if isinstance(spec, str):
        name, strength = spec, None
    elif isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[0], str):
        name, strength = spec
    else:
        raise ValueError(
            "`augmentations` entries must be a name or a (name, strength) pair, "
            f"got {spec!r}."
        )
    name = canonical_name(name)
    if name not in AUGMENTATIONS:
        raise ValueError(
            f"Unknown augmentation {name!r}; valid names are: "
            f"{', '.join(sorted(AUGMENTATIONS))}."
        )
    entry = AUGMENTATIONS[name]
    if entry.default is None:
        if strength is not None:
            raise ValueError(f"Augmentation {name!r} takes no strength, got {strength!r}.")
        return name, None
    if strength is None:
        return name, entry.default
    return name, check_float(f"strength of {name!r}", strength, 0.0, entry.high,
                             low_open=True)


def canonical_name(name):
    """The registry's spelling of ``name``: the lecture's hyphens become underscores.

    >>> canonical_name("crop-and-pan"), canonical_name("flip-lr"), canonical_name("rotate")
    ('crop_and_pan', 'flip_lr', 'rotate')
    """
    return name.replace("-", "_") if name.replace("-", "_") in AUGMENTATIONS else name


def build_layer(name, strength, value_range=(0.0, 1.0), seed=None):
    """The Keras layer for one (validated) augmentation name and strength."""
    return AUGMENTATIONS[name].make(strength, tuple(value_range), seed)


def is_colour_only(name):
    """Whether ``name`` needs 3-channel (RGB) images."""
    return AUGMENTATIONS[name].colour_only
