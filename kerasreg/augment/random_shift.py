"""Random sub-pixel shifts of flattened images, as a layer inside the model (bilinear, zero fill)."""

import keras
from keras import ops

from kerasreg._validation import check_float, check_int, check_seed
from kerasreg.api_export import kerasreg_export

__all__ = ["RandomShift", "shift_images"]


def _interpolation_matrices(shifts, length):
    """``A_d[i, j] = max(0, 1 - |i - d - j|)`` for each ``d`` in ``shifts``: shape ``(len(shifts), L, L)``."""
    i = ops.arange(length, dtype="float32")[:, None]
    j = ops.arange(length, dtype="float32")[None, :]
    return ops.relu(1.0 - ops.abs(i[None] - shifts[:, None, None] - j[None]))


def shift_images(images, shifts):
    """Shift each image by its own ``(dy, dx)`` pixels, with linear interpolation and zero fill.

    ```
    out_b = A(dy_b) @ I_b @ A(dx_b)^T,      A(d)[i, j] = max(0, 1 - |i - d - j|)
    ```

    ``A(d) @ v`` is ``v`` read at position ``i - d`` by linear interpolation
    between its two neighbours, a neighbour outside the image counting as 0:
    the content moves by ``+d`` (down for ``dy > 0``, right for ``dx > 0``);
    an integer ``d`` moves pixels exactly.  ``I_b`` is ``images[b]``,
    ``(dy_b, dx_b)`` is ``shifts[b]``.

    Args:
        images: float tensor ``(B, H, W)``.
        shifts: float tensor ``(B, 2)``, ``(dy, dx)`` per image, in pixels.

    Returns:
        Float tensor ``(B, H, W)``.

    >>> image = np.zeros((1, 3, 3), "float32"); image[0, 1, 1] = 1.0
    >>> out = kerasreg.augment.shift_images(image, np.array([[1.0, -0.5]], "float32"))
    >>> np.round(keras.ops.convert_to_numpy(out)[0], 2)
    array([[0. , 0. , 0. ],
           [0. , 0. , 0. ],
           [0.5, 0.5, 0. ]], dtype=float32)
    """
    images = ops.convert_to_tensor(images, dtype="float32")
    shifts = ops.convert_to_tensor(shifts, dtype="float32")
    height, width = images.shape[1], images.shape[2]
    rows = _interpolation_matrices(shifts[:, 0], height)
    cols = _interpolation_matrices(shifts[:, 1], width)
    return ops.einsum("bij,bjk,blk->bil", rows, images, cols)


@kerasreg_export
class RandomShift(keras.layers.Layer):
    """Shift each image of a batch by a random sub-pixel ``(dy, dx)`` in training (translation augmentation).

    The lecture's "crop and pan" augmentation for the flat images of an MLP:
    in training each example ``x_b`` (``H * W`` values, or ``H x W``) is read
    as an ``H x W`` image ``I_b`` and replaced by

    ```
    (dy_b, dx_b) ~ U[-s, s]^2                      independently per image
    out_b = A(dy_b) @ I_b @ A(dx_b)^T,             A(d)[i, j] = max(0, 1 - |i - d - j|)
    ```

    (``shift_images``: linear interpolation, pixels from outside the image are
    0; the content moves by ``+d``).  At inference ``out_b = x_b``.  ``s`` is
    ``max_shift``; ``(H, W)`` is ``image_shape``.  The shifts are drawn with
    ``keras.random.uniform`` from the layer's ``SeedGenerator(seed)``, one
    ``(B, 2)`` draw per call, so a seed fixes the whole sequence of shifts
    (and, inside ``kerasreg.stacked.fit``, each copy's generator state is its
    own).

    Departures: Keras' ``RandomTranslation`` works on image tensors ``(B, H,
    W, C)``, draws its shift as a fraction of the image size and fills by
    reflection; this layer works on flattened single-channel images (an MLP's
    inputs), draws shifts in pixels and fills with 0, so that its output is a
    fixed linear map of the input for given shifts.

    Args:
        max_shift: float in [0, inf), ``s``, the largest shift in pixels
            along each axis.  ``0`` is the identity.
        image_shape: ``(H, W)``, positive ints; each example must hold
            ``H * W`` values.
        seed: int in [0, 2**31 - 1] or ``None``.

    Example:

    >>> layer = kerasreg.augment.RandomShift(max_shift=1.5, image_shape=(8, 8), seed=0)
    >>> x = np.random.default_rng(0).uniform(size=(4, 64)).astype("float32")
    >>> tuple(layer(x, training=True).shape)
    (4, 64)
    >>> bool(np.array_equal(layer(x, training=False), x))
    True

    Reference:
        Simard, Steinkraus and Platt, "Best Practices for Convolutional Neural
        Networks Applied to Visual Document Analysis", ICDAR 2003 (translated
        copies of the training images), https://doi.org/10.1109/ICDAR.2003.1227801.
    """

    # kerasreg.stacked may vectorize it over copies (its protocol): the state of the seed generator is a
    # variable, stacked per copy, like Dropout's.  (On TensorFlow the random draw itself has no vectorization
    # rule, and tf.vectorized_map runs that one op as a loop over the copies, as it does for Dropout's.)
    vectorizable = True

    def __init__(self, max_shift, image_shape, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.max_shift = check_float("max_shift", max_shift, low=0.0)
        if not isinstance(image_shape, (tuple, list)) or len(image_shape) != 2:
            raise ValueError(f"`image_shape` must be a pair (H, W) of ints >= 1, got {image_shape!r}.")
        self.image_shape = (check_int("image_shape[0]", image_shape[0], low=1),
                            check_int("image_shape[1]", image_shape[1], low=1))
        self.seed = check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def build(self, input_shape):
        height, width = self.image_shape
        size = 1
        for d in input_shape[1:]:
            size = None if (size is None or d is None) else size * d
        if size is not None and size != height * width:
            raise ValueError(f"`image_shape` {self.image_shape} needs {height * width} values per example, but the "
                             f"inputs have shape {tuple(input_shape)}.")

    def call(self, inputs, training=False):
        if not training:
            return inputs
        height, width = self.image_shape
        images = ops.reshape(inputs, (-1, height, width))
        shifts = keras.random.uniform((ops.shape(images)[0], 2), -self.max_shift, self.max_shift,
                                      seed=self.seed_generator)
        return ops.reshape(shift_images(images, shifts), ops.shape(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_shift": self.max_shift, "image_shape": self.image_shape,
                "seed": self.seed}
