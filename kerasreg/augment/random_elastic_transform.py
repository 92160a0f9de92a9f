"""Keras' elastic distortion with one batched resampling for the whole batch."""

import keras

from kerasreg import _keras_compat
from kerasreg._validation import check_choice, check_float, check_seed
from kerasreg.api_export import kerasreg_export

__all__ = ["RandomElasticTransform"]

_INTERPOLATIONS = ("nearest", "bilinear")
_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


def _check_unit_range(name, value):
    """A number in [0, 1] or a (low, high) pair of them with low <= high."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"`{name}` must be a number in [0, 1] or a (low, high) pair, got {value!r}.")
        low = check_float(f"{name}[0]", value[0], low=0.0, high=1.0)
        high = check_float(f"{name}[1]", value[1], low=0.0, high=1.0)
        if low > high:
            raise ValueError(f"`{name}` must have low <= high, got {value!r}.")
        return
    check_float(name, value, low=0.0, high=1.0)


@kerasreg_export
class RandomElasticTransform(keras.layers.RandomElasticTransform):
    """Random elastic distortion (Simard et al., 2003), batched.

    Keras' ``keras.layers.RandomElasticTransform`` with the resampling done
    once for the whole batch: a smooth random displacement field per image,
    then one gather-based interpolation of all images and channels together.
    For an image ``I`` of ``H x W`` pixels the output is

    ```
    s     ~ U(scale[0], scale[1])                    one per image
    alpha = 0.1 * max(H, W) * s                      displacement magnitude
    sigma = 0.05 * min(H, W) * s                     smoothing width (pixels)
    n_y, n_x ~ N(0, 1)^(H x W), independent          white noise fields
    d_c   = alpha * G_sigma * (sigma * n_c),  c in {y, x}
    O[i, j] = I(i + d_y[i, j], j + d_x[i, j])
    ```

    where ``G_sigma *`` is the 2-D convolution with the normalized Gaussian
    ``g(k) = exp(-k^2 / (2 sigma^2)) / sum_k' exp(-k'^2 / (2 sigma^2))``
    (separable; the noise is zero outside the image) and ``I(y, x)`` is
    bilinear (or nearest-pixel) interpolation between the four neighbouring
    pixels, with pixels outside the image supplied by ``fill_mode``
    (``constant``: each outside neighbour counts as ``fill_value``).  An image
    is distorted with probability ``p ~ U(factor[0], factor[1])``; results are
    clipped to ``value_range``.  ``scale``, ``factor``, ``interpolation``,
    ``fill_mode``, ``fill_value``, ``value_range`` and ``seed`` mean what they
    mean in Keras' layer; ``alpha`` and ``sigma`` follow from ``scale`` by
    Keras' own rule (above).

    Departures from Keras' layer (Keras 3.15), and why:

    * ``d_y`` and ``d_x`` are independent.  Keras' TensorFlow backend draws
      both from the same seed, so ``d_y == d_x`` and every pixel moves along
      the diagonal only.
    * One resampling for the batch (a flat gather of the 4 neighbours of all
      images and channels) instead of one ``map_coordinates`` per image and
      channel, which Keras unrolls in Python over a *static* batch size (an
      unknown batch size gave all images one distortion).
    * ``s`` (hence ``alpha`` and ``sigma``) is drawn per image, as when Keras'
      layer maps over single images in ``tf.data``; Keras draws one per batch.
    * The Gaussian is not truncated.  Keras cuts its kernel at
      ``3 * floor(sigma)`` pixels, so for ``sigma < 1`` it does not smooth at
      all and the field jumps in roughness as ``scale`` crosses that point.

    Departures from Simard et al.: their noise is ``U(-1, 1)`` without the
    factor ``sigma``; this layer keeps Keras' ``sigma * N(0, 1)`` so that a
    given ``scale`` moves pixels as far as Keras' layer does (the smoothed
    field has a standard deviation of about ``0.28 * alpha`` pixels once
    ``sigma >~ 1``).

    Args:
        factor: float or ``(min, max)`` in [0, 1], the probability of
            distorting an image (as in Keras).  Defaults to ``1.0``.
        scale: float or ``(min, max)`` in [0, 1], the range of ``s``.
            Defaults to ``1.0``.
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.
        fill_mode: ``"constant"``, ``"nearest"``, ``"wrap"``, ``"mirror"``
            (``c d c b | a b c d | c b a b``) or ``"reflect"``
            (``d c b a | a b c d | d c b a``, default).
        fill_value: float, the outside value for ``fill_mode="constant"``.
        value_range: ``(low, high)`` of the pixel values.  Defaults to
            ``(0, 255)``.
        seed: int or ``None``.
        data_format: ``"channels_last"`` or ``"channels_first"``.

    Example:

    >>> layer = kerasreg.augment.RandomElasticTransform(scale=0.5, value_range=(0, 1))
    >>> images = np.random.default_rng(0).uniform(size=(2, 8, 8, 1)).astype("float32")
    >>> warped = layer(images, training=True)     # images: (batch, H, W, C)
    >>> tuple(warped.shape)
    (2, 8, 8, 1)

    Reference:
        Simard, Steinkraus and Platt, "Best Practices for Convolutional Neural
        Networks Applied to Visual Document Analysis", ICDAR 2003,
        https://doi.org/10.1109/ICDAR.2003.1227801.
    """

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear",
                 fill_mode="reflect", fill_value=0.0, value_range=(0, 255),
                 seed=None, data_format=None, **kwargs):
        _check_unit_range("factor", factor)
        _check_unit_range("scale", scale)
        check_seed(seed)
        check_choice("interpolation", interpolation, _INTERPOLATIONS)
        check_choice("fill_mode", fill_mode, _FILL_MODES)
        fill_value = check_float("fill_value", fill_value)
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
            raise ValueError(
                f"`value_range` must be a (low, high) pair, got {value_range!r}.")
        low = check_float("value_range[0]", value_range[0])
        high = check_float("value_range[1]", value_range[1])
        if not low < high:
            raise ValueError(f"`value_range` must have low < high, got {value_range!r}.")
        super().__init__(factor=factor, scale=scale, interpolation=interpolation,
                         fill_mode=fill_mode, fill_value=fill_value,
                         value_range=tuple(value_range), seed=seed,
                         data_format=data_format, **kwargs)

    def get_random_transformation(self, data, training=True, seed=None):
        """Draw ``s``, the apply mask and both noise fields; return the displacement.

        Returns ``None`` (identity) when not training or when ``scale`` or
        ``factor`` is 0, else a dict with ``apply_transform`` (B,),
        ``distortion_factor`` ``s`` (B,), ``noise`` (B, 2, H, W) (``n_y``,
        ``n_x``) and ``displacement`` (B, 2, H, W) (``d_y``, ``d_x``).
        """
        if not training or self.scale[1] == 0 or self.factor[1] == 0:
            return None
        images = data["images"] if isinstance(data, dict) else data
        shape = self.backend.shape(images)
        batch = 1 if len(shape) == 3 else shape[0]
        height, width = _static_size(images.shape[self.height_axis],
                                     images.shape[self.width_axis])
        seed = seed or _keras_compat.image_layer_seed_generator(self)
        random = self.backend.random
        probability = random.uniform((batch,), self.factor[0], self.factor[1], seed=seed)
        apply_transform = random.uniform((batch,), 0.0, 1.0, seed=seed) < probability
        factor = random.uniform((batch,), self.scale[0], self.scale[1], seed=seed,
                                dtype=self.compute_dtype)
        noise = random.normal((batch, 2, height, width), seed=seed, dtype=self.compute_dtype)
        return {
            "apply_transform": apply_transform,
            "distortion_factor": factor,
            "noise": noise,
            "displacement": self.displacement(noise, factor),
        }

    def displacement(self, noise, distortion_factor):
        """``d = alpha * G_sigma * (sigma * noise)`` for noise (B, 2, H, W), s (B,)."""
        np_ = self.backend.numpy
        # numpy arguments too (numpy * torch.Tensor is a TypeError on torch).
        noise = self.backend.convert_to_tensor(noise)
        height, width = _static_size(noise.shape[2], noise.shape[3])
        s = self.backend.cast(distortion_factor, noise.dtype)
        alpha = 0.1 * max(height, width) * s
        sigma = np_.maximum(0.05 * min(height, width) * s, 1e-3)
        smooth_y = _gaussian_matrices(np_, height, sigma, noise.dtype)
        smooth_x = _gaussian_matrices(np_, width, sigma, noise.dtype)
        scaled = noise * (alpha * sigma)[:, None, None, None]
        # Two products, not one 3-operand einsum (TF contracts that one slowly).
        rows = np_.einsum("bik,bckl->bcil", smooth_y, scaled)
        return np_.einsum("bcil,bjl->bcij", rows, smooth_x)

    def _transform_images(self, images, transformation, interpolation):
        if transformation is None:
            return images
        np_ = self.backend.numpy
        channels_first = self.data_format == "channels_first"
        if channels_first:
            images = np_.transpose(images, (0, 2, 3, 1))
        warped = _resample(self.backend, images, transformation["displacement"],
                           interpolation, self.fill_mode, self.fill_value)
        apply = transformation["apply_transform"][:, None, None, None]
        images = np_.where(apply, warped, images)
        images = np_.clip(images, self.value_range[0], self.value_range[1])
        if channels_first:
            images = np_.transpose(images, (0, 3, 1, 2))
        return self.backend.cast(images, self.compute_dtype)


def _static_size(height, width):
    if height is None or width is None:
        raise ValueError(
            "RandomElasticTransform needs a static image height and width, got "
            f"({height}, {width}).")
    return int(height), int(width)


def _gaussian_matrices(np_, n, sigma, dtype):
    """(B, n, n) matrices ``M[b, i, k] = g_b(i - k)``: zero-padded Gaussian smoothing."""
    offsets = np_.arange(-(n - 1), n, dtype=dtype)  # every offset within the image
    kernel = np_.exp(-(offsets[None, :] ** 2) / (2.0 * sigma[:, None] ** 2))
    kernel = kernel / np_.sum(kernel, axis=1, keepdims=True)
    index = np_.arange(n, dtype="int32")
    lag = index[:, None] - index[None, :] + (n - 1)  # i - k, shifted to >= 0
    return np_.take(kernel, lag, axis=1)


def _resample(backend, images, displacement, interpolation, fill_mode, fill_value):
    """``O[b, i, j, c] = I_b(i + d_y, j + d_x)`` by one gather over the batch.

    The outside pixels are laid out once per batch: ``table`` holds the image
    over the few rows and columns a neighbour index can reach after it is
    folded back by ``fill_mode`` (``_fold``), so every output pixel reads its
    2 x 2 neighbourhood from ``table`` with no per-neighbour bounds checks.
    """
    np_ = backend.numpy
    height, width = _static_size(images.shape[1], images.shape[2])
    channels = images.shape[3]
    dtype = images.dtype
    low_y, rows = _layout(height, fill_mode)
    low_x, cols = _layout(width, fill_mode)
    fill = backend.cast(fill_value, dtype)
    if fill_mode == "constant":  # the layout is 2 fill pixels, the image, 2 fill pixels
        table = np_.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), constant_values=fill)
    else:
        padded = np_.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=fill)
        table = np_.take(np_.take(padded, rows, axis=1), cols, axis=2)
    y = np_.arange(height, dtype=dtype)[None, :, None] + displacement[:, 0]
    x = np_.arange(width, dtype=dtype)[None, None, :] + displacement[:, 1]
    if interpolation == "nearest":
        y0, x0 = np_.floor(y + 0.5), np_.floor(x + 0.5)
    else:
        y0, x0 = np_.floor(y), np_.floor(x)
    iy = backend.cast(_fold(np_, y0, height, fill_mode), "int32") - low_y
    ix = backend.cast(_fold(np_, x0, width, fill_mode), "int32") - low_x
    table_h, table_w = len(rows), len(cols)
    batch = backend.shape(images)[0]
    base = np_.arange(batch, dtype="int32")[:, None, None] * (table_h * table_w)
    flat = np_.reshape(table, (-1, channels))
    index = base + iy * table_w + ix
    v00 = np_.take(flat, index, axis=0)
    if interpolation == "nearest":
        return v00
    # Four gathers of C values beat one gather of a packed 2 x 2 table on CPU.
    v01 = np_.take(flat, index + 1, axis=0)
    v10 = np_.take(flat, index + table_w, axis=0)
    v11 = np_.take(flat, index + table_w + 1, axis=0)
    wy, wx = (y - y0)[..., None], (x - x0)[..., None]
    top = v00 + wx * (v01 - v00)
    bottom = v10 + wx * (v11 - v10)
    return top + wy * (bottom - top)


def _fold(np_, index, n, fill_mode):
    """Map a (float, integral) neighbour index into the range ``_layout`` covers.

    ``index`` and ``index + 1`` keep the pixels (or the fill) they stand for.
    """
    if fill_mode == "constant":
        return np_.clip(index, -2.0, float(n))  # beyond: both neighbours are fill
    if fill_mode == "nearest":
        return np_.clip(index, -1.0, float(n - 1))
    return np_.mod(index, float(_period(n, fill_mode)))


def _period(n, fill_mode):
    return {"wrap": n, "reflect": 2 * n, "mirror": max(2 * n - 2, 1)}[fill_mode]


def _layout(n, fill_mode):
    """``(low, idx)``: row ``r`` in ``[low, high + 1]`` of the image extended by
    ``fill_mode`` is row ``idx[r - low]`` of the image padded with one fill row
    on each side (row 0: fill, rows 1..n: the image)."""
    if fill_mode == "constant":
        low, high = -2, n
    elif fill_mode == "nearest":
        low, high = -1, n - 1
    else:
        low, high = 0, _period(n, fill_mode) - 1
    out = []
    for r in range(low, high + 2):
        if fill_mode == "constant":
            i = r if 0 <= r < n else -1
        elif fill_mode == "nearest":
            i = min(max(r, 0), n - 1)
        elif fill_mode == "wrap":
            i = r % n
        elif fill_mode == "reflect":  # d c b a | a b c d | d c b a
            m = r % (2 * n)
            i = m if m < n else 2 * n - 1 - m
        else:  # mirror: c d c b | a b c d | c b a b
            p = _period(n, fill_mode)
            m = r % p
            i = m if m < n else p - m
        out.append(i + 1)
    return low, out
