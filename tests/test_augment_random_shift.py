"""RandomShift: the shift against a numpy reference written from bilinear interpolation; seeds; stacked copies."""

import keras
import numpy as np
import pytest

import kerasreg
from kerasreg.augment import RandomShift, shift_images


def numpy_shift(image, dy, dx):
    """out[i, j] = I(i - dy, j - dx), bilinear between the 4 neighbouring pixels; a pixel outside counts as 0."""
    h, w = image.shape
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            y, x = i - dy, j - dx
            y0, x0 = int(np.floor(y)), int(np.floor(x))
            fy, fx = y - y0, x - x0
            for yy, wy in ((y0, 1 - fy), (y0 + 1, fy)):
                for xx, wx in ((x0, 1 - fx), (x0 + 1, fx)):
                    if 0 <= yy < h and 0 <= xx < w:
                        out[i, j] += wy * wx * image[yy, xx]
    return out


pytestmark = pytest.mark.jax_pass


def test_shift_images_matches_bilinear_interpolation():
    rng = np.random.default_rng(3)
    images = rng.uniform(size=(5, 4, 6)).astype("float32")
    shifts = np.array([[0.3, -0.7], [-1.7, 2.0], [0.0, 0.0], [3.0, -1.0], [4.5, 0.2]], "float32")
    got = keras.ops.convert_to_numpy(shift_images(images, shifts))
    for b in range(len(images)):
        np.testing.assert_allclose(got[b], numpy_shift(images[b], *shifts[b]), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got[2], images[2])  # no shift: the identity
    assert np.all(got[4] == 0.0)  # shifted further than the image is high: all from outside
    # An integer shift moves pixels exactly: row i comes from row i - 3, column j from j + 1.
    np.testing.assert_allclose(got[3][3:, :-1], images[3][:1, 1:], rtol=1e-6)


def test_layer_draws_uniform_shifts_from_its_seed_and_is_the_identity_at_inference():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(6, 20)).astype("float32")
    layer = RandomShift(max_shift=1.3, image_shape=(4, 5), seed=11)
    # The documented draw: (B, 2) uniform in [-s, s] from SeedGenerator(seed), then shift_images.
    shifts = keras.ops.convert_to_numpy(
        keras.random.uniform((6, 2), -1.3, 1.3, seed=keras.random.SeedGenerator(11)))
    assert np.all(np.abs(shifts) <= 1.3) and np.std(shifts) > 0.2
    got = keras.ops.convert_to_numpy(layer(x, training=True))
    for b in range(6):
        np.testing.assert_allclose(got[b].reshape(4, 5), numpy_shift(x[b].reshape(4, 5), *shifts[b]),
                                   rtol=1e-5, atol=1e-6)
    again = keras.ops.convert_to_numpy(layer(x, training=True))
    assert not np.allclose(again, got)  # the generator moves on: new shifts every call
    same = keras.ops.convert_to_numpy(RandomShift(1.3, (4, 5), seed=11)(x, training=True))
    np.testing.assert_array_equal(same, got)  # same seed, same shifts
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x.reshape(6, 4, 5))).reshape(6, 20), x)


def test_shift_statistics_over_many_draws():
    """Shifts U[-s, s]: a single bright pixel's centre of mass moves by (dy, dx); its mean 0, variance s^2 / 3."""
    s, n = 1.2, 4000
    image = np.zeros((9, 9), "float32")
    image[4, 4] = 1.0
    out = keras.ops.convert_to_numpy(
        RandomShift(s, (9, 9), seed=2)(np.tile(image.reshape(1, 81), (n, 1)), training=True)).reshape(n, 9, 9)
    mass = out.sum(axis=(1, 2))
    np.testing.assert_allclose(mass, 1.0, rtol=1e-5)  # interior: nothing falls off the edge
    rows = (out.sum(axis=2) * np.arange(9)).sum(axis=1) - 4.0
    cols = (out.sum(axis=1) * np.arange(9)).sum(axis=1) - 4.0
    for d in (rows, cols):
        assert abs(d.mean()) < 4 * s / np.sqrt(3 * n)  # 4 standard errors
        assert d.var() == pytest.approx(s**2 / 3, rel=0.08)
        assert d.min() >= -s - 1e-5 and d.max() <= s + 1e-5
    assert abs(np.corrcoef(rows, cols)[0, 1]) < 0.06  # independent axes


def test_bad_arguments_name_the_argument_and_range():
    with pytest.raises(ValueError, match=r"`max_shift` must be in \[0, inf\), got -0.5"):
        RandomShift(-0.5, (8, 8))
    with pytest.raises(ValueError, match="`image_shape` must be a pair"):
        RandomShift(1.0, 64)
    with pytest.raises(ValueError, match=r"`image_shape\[1\]` must be an integer in \[1, inf\), got 0"):
        RandomShift(1.0, (8, 0))
    with pytest.raises(ValueError, match="`seed`"):
        RandomShift(1.0, (8, 8), seed=-1)
    with pytest.raises(ValueError, match="needs 64 values per example"):
        RandomShift(1.0, (8, 8))(np.zeros((2, 63), "float32"))


@pytest.mark.slow
@pytest.mark.no_torch("kerasreg.stacked vectorizes with jax.vmap / tf.vectorized_map; Keras has no "
                      "backend-neutral vectorized gradient")
def test_in_stacked_fit_each_copy_equals_training_it_alone():
    """Copies that differ in seed and largest shift share one vectorized group (the shift is a per-copy
    scalar there); each draws its own shifts, as if trained alone."""
    from kerasreg import stacked

    rng = np.random.default_rng(1)
    x = rng.uniform(size=(40, 16)).astype("float32")
    y = rng.integers(0, 3, 40)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def model_fn(copy):
        return keras.Sequential([keras.Input((16,)), RandomShift(copy["shift"], (4, 4), seed=copy["seed"] + 5),
                                 keras.layers.Dense(3)])

    def optimizer_fn(copy):
        return kerasreg.optimizers.SGD(0.3)

    copies = [{"seed": 3, "shift": 0.9}, {"seed": 4, "shift": 0.9}, {"seed": 5, "shift": 0.4}]
    result = stacked.fit(model_fn, optimizer_fn, copies, x, y, loss=loss, epochs=2, batch_size=16)
    assert result.groups == [[0, 1, 2]]
    finals = []
    for i, copy in enumerate(copies):
        keras.utils.set_random_seed(copy["seed"])
        model = model_fn(copy)
        model.compile(optimizer=optimizer_fn(copy), loss=loss, jit_compile=True)  # as the stacked program
        for epoch in range(2):
            order = stacked.epoch_order(copy["seed"], epoch, len(x))
            model.fit(x[order], y[order], batch_size=16, shuffle=False, epochs=1, verbose=0)
        for a, b in zip(result.get_model(i).get_weights(), model.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        finals.append(model.get_weights()[0])
    assert not np.allclose(finals[0], finals[1], atol=1e-4)  # different seeds, different shifts and weights
