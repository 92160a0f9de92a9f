"""kerasreg.augment.RandomElasticTransform against numpy references written
from its docstring: the smoothed displacement field, bilinear / nearest
sampling under every fill mode, identity at zero displacement, independent
d_y and d_x, one distortion per image, clipping to value_range."""

import keras
import numpy as np
import pytest

from kerasreg.augment import RandomElasticTransform

pytestmark = pytest.mark.jax_pass

FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


def _images(b=3, h=7, w=9, c=2, seed=0):
    return np.random.default_rng(seed).uniform(0.1, 0.9, (b, h, w, c)).astype("float32")


# ---------------------------------------------------------------- references
def _fold(i, n, mode):
    """Pixel index for integer ``i`` under ``mode`` (None: outside, constant)."""
    if mode == "constant":
        return i if 0 <= i < n else None
    if mode == "nearest":
        return min(max(i, 0), n - 1)
    if mode == "wrap":
        return i % n
    if mode == "reflect":  # d c b a | a b c d | d c b a
        m = i % (2 * n)
        return m if m < n else 2 * n - 1 - m
    p = max(2 * n - 2, 1)  # mirror: c d c b | a b c d | c b a b
    m = i % p
    return m if m < n else p - m


def _sample_reference(images, disp, interpolation, mode, fill):
    """O[b, i, j] = I_b(i + d_y, j + d_x), pixel by pixel."""
    b_, h, w, c = images.shape
    out = np.zeros_like(images, dtype="float64")

    def pixel(b, r, col):
        r, col = _fold(r, h, mode), _fold(col, w, mode)
        if r is None or col is None:
            return np.full(c, fill, "float64")
        return images[b, r, col].astype("float64")

    for b in range(b_):
        for i in range(h):
            for j in range(w):
                y, x = i + float(disp[b, 0, i, j]), j + float(disp[b, 1, i, j])
                if interpolation == "nearest":
                    out[b, i, j] = pixel(b, int(np.floor(y + 0.5)), int(np.floor(x + 0.5)))
                    continue
                y0, x0 = int(np.floor(y)), int(np.floor(x))
                wy, wx = y - y0, x - x0
                out[b, i, j] = ((1 - wy) * (1 - wx) * pixel(b, y0, x0)
                                + (1 - wy) * wx * pixel(b, y0, x0 + 1)
                                + wy * (1 - wx) * pixel(b, y0 + 1, x0)
                                + wy * wx * pixel(b, y0 + 1, x0 + 1))
    return out


def _displacement_reference(noise, s, h, w):
    """d_c = alpha * G_sigma * (sigma * n_c), zero outside, Gaussian not truncated."""
    out = np.zeros(noise.shape, "float64")
    for b in range(noise.shape[0]):
        alpha, sigma = 0.1 * max(h, w) * s[b], 0.05 * min(h, w) * s[b]

        def g(n):
            k = np.arange(-(n - 1), n)
            full = np.exp(-k ** 2 / (2 * sigma ** 2))
            return lambda d: np.exp(-d ** 2 / (2 * sigma ** 2)) / full.sum()

        gy, gx = g(h), g(w)
        for ch in range(2):
            for i in range(h):
                for j in range(w):
                    # sum_k sum_m g(i - k) g(j - m) sigma n[k, m]
                    weights = np.outer(gy(i - np.arange(h)), gx(j - np.arange(w)))
                    out[b, ch, i, j] = alpha * np.sum(weights * sigma * noise[b, ch])
    return out


def _warp(layer, images, disp):
    transformation = {"apply_transform": np.ones(len(images), bool),
                      "displacement": disp.astype("float32")}
    return keras.ops.convert_to_numpy(
        layer.transform_images(images, transformation, training=True))


# ---------------------------------------------------------------- tests
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("fill_mode", FILL_MODES)
def test_sampling_matches_numpy_reference(fill_mode, interpolation):
    x = _images()
    # Displacements up to 13 pixels: far outside a 7 x 9 image, several periods.
    disp = np.random.default_rng(1).uniform(-13.3, 13.7, (3, 2, 7, 9))
    disp[:, :, 2, :] = np.round(disp[:, :, 2, :]) + 0.3  # some exact fractions too
    layer = RandomElasticTransform(interpolation=interpolation, fill_mode=fill_mode,
                                   fill_value=0.7, value_range=(0, 1))
    got = _warp(layer, x, disp)
    want = _sample_reference(x, disp.astype("float32"), interpolation, fill_mode, 0.7)
    np.testing.assert_allclose(got, want, atol=2e-5)


def test_small_displacements_match_reference_in_every_mode():
    # Near the border: the neighbours just outside decide the result.
    x = _images(2, 6, 5, 3, seed=4)
    disp = np.random.default_rng(2).uniform(-1.7, 1.7, (2, 2, 6, 5))
    for mode in FILL_MODES:
        layer = RandomElasticTransform(fill_mode=mode, fill_value=0.3, value_range=(0, 1))
        np.testing.assert_allclose(_warp(layer, x, disp),
                                   _sample_reference(x, disp.astype("float32"),
                                                     "bilinear", mode, 0.3), atol=2e-5)


def test_zero_displacement_and_zero_scale_are_identity():
    x = _images()
    for mode in FILL_MODES:
        layer = RandomElasticTransform(fill_mode=mode, value_range=(0, 1))
        np.testing.assert_array_equal(_warp(layer, x, np.zeros((3, 2, 7, 9))), x)
    layer = RandomElasticTransform(scale=0.0, value_range=(0, 1), seed=3)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=True)), x)
    layer = RandomElasticTransform(value_range=(0, 1), seed=3)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)


def test_displacement_matches_numpy_reference():
    noise = np.random.default_rng(3).standard_normal((3, 2, 7, 9)).astype("float32")
    s = np.array([0.3, 0.7, 1.0], "float32")  # sigma = 0.105, 0.245, 0.35 px, and
    layer = RandomElasticTransform(value_range=(0, 1))
    got = keras.ops.convert_to_numpy(layer.displacement(noise, s))
    np.testing.assert_allclose(got, _displacement_reference(noise, s, 7, 9), atol=1e-5)
    # ... a larger image, where sigma > 1 smooths over several pixels.
    noise = np.random.default_rng(5).standard_normal((2, 2, 30, 26)).astype("float32")
    s = np.array([0.7, 0.9], "float32")  # sigma = 0.91, 1.17
    got = keras.ops.convert_to_numpy(layer.displacement(noise, s))
    np.testing.assert_allclose(got, _displacement_reference(noise, s, 30, 26), atol=1e-5)


def test_random_fields_independent_per_image_and_axis():
    x = np.repeat(_images(1, 32, 32, 1), 64, axis=0)
    layer = RandomElasticTransform(factor=(1, 1), scale=(0.7, 0.7), value_range=(0, 1))
    t = layer.get_random_transformation(x, seed=keras.random.SeedGenerator(7))
    d = keras.ops.convert_to_numpy(t["displacement"]).astype("float64")
    # Interior pixels: std of alpha * G * (sigma * N(0,1)) is alpha * sigma * sum_k g(k)^2.
    alpha, sigma = 0.1 * 32 * 0.7, 0.05 * 32 * 0.7
    k = np.arange(-31, 32)
    g = np.exp(-k ** 2 / (2 * sigma ** 2))
    g /= g.sum()
    expected = alpha * sigma * (g ** 2).sum()  # 0.63 px
    interior = d[:, :, 8:24, 8:24]
    # 64 images x 2 axes x 16^2 pixels, correlated over ~2.5 px: >= 2000
    # effective samples, so the std is within 10% (about 3 standard errors).
    assert abs(interior.std() / expected - 1) < 0.1
    # d_y and d_x independent (Keras' backend makes them equal).
    assert np.abs(d[:, 0] - d[:, 1]).max() > 1.0
    assert abs(np.corrcoef(d[:, 0].ravel(), d[:, 1].ravel())[0, 1]) < 0.1
    # One distortion per image: every pair of the 64 identical inputs differs.
    out = keras.ops.convert_to_numpy(layer.transform_images(x, t, training=True))
    flat = out.reshape(64, -1)
    gaps = np.abs(flat[:, None] - flat[None]).max(axis=-1) + np.eye(64)
    assert gaps.min() > 1e-2


def test_same_seed_same_result_and_values_in_range():
    x = _images(4, 16, 16, 3)
    a = RandomElasticTransform(value_range=(0, 1), fill_mode="constant", fill_value=3.0,
                               seed=11)
    b = RandomElasticTransform(value_range=(0, 1), fill_mode="constant", fill_value=3.0,
                               seed=11)
    ya, yb = (keras.ops.convert_to_numpy(layer(x, training=True)) for layer in (a, b))
    np.testing.assert_array_equal(ya, yb)
    assert np.abs(ya - x).max() > 1e-2
    # Fill 3.0 lies outside (0, 1): clipped to 1, never above.
    assert ya.min() >= 0.0 and ya.max() <= 1.0
    assert np.isclose(ya.max(), 1.0)


def test_channels_first_equals_channels_last():
    x = _images(2, 8, 10, 3)
    disp = np.random.default_rng(6).uniform(-2.3, 2.3, (2, 2, 8, 10))
    last = RandomElasticTransform(value_range=(0, 1), fill_mode="reflect")
    first = RandomElasticTransform(value_range=(0, 1), fill_mode="reflect",
                                   data_format="channels_first")
    np.testing.assert_allclose(
        _warp(first, x.transpose(0, 3, 1, 2), disp).transpose(0, 2, 3, 1),
        _warp(last, x, disp), atol=1e-6)


def test_single_image_config_and_registration():
    x = _images(1, 12, 12, 1)[0]
    layer = RandomElasticTransform(factor=0.8, scale=(0.2, 0.6), fill_mode="wrap",
                                   value_range=(0, 1), seed=2)
    assert keras.ops.convert_to_numpy(layer(x, training=True)).shape == x.shape
    config = layer.get_config()
    clone = RandomElasticTransform.from_config(config)
    assert clone.get_config() == config
    assert keras.saving.get_registered_name(RandomElasticTransform) == \
        "kerasreg>RandomElasticTransform"
    assert isinstance(layer, keras.layers.RandomElasticTransform)


@pytest.mark.parametrize("kwargs, name", [
    ({"fill_mode": "bogus"}, "fill_mode"),
    ({"interpolation": "bicubic"}, "interpolation"),
    ({"fill_value": "zero"}, "fill_value"),
    ({"value_range": (1, 0)}, "value_range"),
    ({"scale": 1.5}, "scale"),
])
def test_bad_arguments_name_themselves(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        RandomElasticTransform(**kwargs)
