"""Dropout (both scalings), StochasticDepth and DropConnect: mask statistics
at a fixed seed, expectations, inference behaviour.

Tolerances for a measured drop fraction over n independent Bernoulli(rate)
draws: |measured - rate| < 4 * sqrt(rate * (1 - rate) / n) (a 4-sigma band of
the binomial; a false alarm has probability ~6e-5 at a fixed seed, and a
wrong rate of 0.05 in the layer is outside the band by > 30 sigma)."""

import keras
import numpy as np
import pytest

from kerasreg.layers import DropConnect, Dropout, StochasticDepth

pytestmark = pytest.mark.jax_pass

def _np(x, dtype=None):
    """A layer output or variable as numpy on every backend (torch outputs carry grad)."""
    return np.asarray(keras.ops.convert_to_numpy(x), dtype)



def four_sigma(rate, n):
    return 4.0 * np.sqrt(rate * (1.0 - rate) / n)


@pytest.mark.parametrize("scaling", ["train", "test"])
@pytest.mark.parametrize("rate", [0.2, 0.5, 0.7])
def test_mask_rate_and_kept_values(scaling, rate):
    x = np.random.default_rng(0).uniform(0.5, 1.5, size=(200, 300)).astype("float32")
    layer = Dropout(rate, scaling=scaling, seed=11)
    out = _np(layer(x, training=True))
    dropped = out == 0
    assert abs(dropped.mean() - rate) < four_sigma(rate, x.size), dropped.mean()
    keep = 1.0 - rate
    # Survivors: x itself (lecture, scaling="test") or x / p (inverted).
    want = x if scaling == "test" else x / keep
    np.testing.assert_allclose(out[~dropped], want[~dropped], rtol=1e-6)


@pytest.mark.parametrize("scaling", ["train", "test"])
def test_expected_training_output_equals_inference_output(scaling):
    """E_mu[training output] = inference output, in both modes (5-sigma band
    per unit, sigma from the Bernoulli variance of the T-sample mean)."""
    rate, samples = 0.3, 2000
    keep = 1.0 - rate
    x = np.random.default_rng(1).normal(size=(4, 50)).astype("float32")
    layer = Dropout(rate, scaling=scaling, seed=2)
    # One call on `samples` stacked copies: an independent mask per copy.
    tiled = np.tile(x[None], (samples, 1, 1)).reshape(samples * 4, 50)
    mean = _np(layer(tiled, training=True)).reshape(samples, 4, 50).mean(axis=0)
    inference = _np(layer(x, training=False))
    expected_inference = keep * x if scaling == "test" else x
    np.testing.assert_allclose(inference, expected_inference, rtol=1e-6)
    value = x if scaling == "test" else x / keep  # the survivor's value
    sigma = np.abs(value) * np.sqrt(keep * rate / samples)
    assert np.all(np.abs(mean - inference) < 5 * sigma + 1e-6)


def test_fresh_masks_each_call_and_seeded_layers_repeat():
    x = np.ones((8, 64), "float32")
    a, b = Dropout(0.4, seed=5), Dropout(0.4, seed=5)
    first, second = _np(a(x, training=True)), _np(a(x, training=True))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, _np(b(x, training=True)))


def test_noise_shape_shares_the_mask():
    x = np.ones((40, 7, 30), "float32")
    out = _np(Dropout(0.5, scaling="test", noise_shape=(None, 1, 30), seed=3)(x, training=True))
    assert np.all(out == out[:, :1, :])  # one mask for every time step
    assert abs((out[:, 0, :] == 0).mean() - 0.5) < four_sigma(0.5, 40 * 30)


def test_rate_zero_is_the_identity_in_both_modes():
    x = np.random.default_rng(2).normal(size=(5, 6)).astype("float32")
    for scaling in ("train", "test"):
        layer = Dropout(0.0, scaling=scaling)
        np.testing.assert_array_equal(layer(x, training=True), x)
        np.testing.assert_array_equal(layer(x, training=False), x)


@pytest.mark.parametrize(
    "cls, kwargs, name",
    [
        (Dropout, {"rate": 1.0}, "rate"),
        (Dropout, {"rate": -0.2}, "rate"),
        (Dropout, {"rate": 0.3, "scaling": "inference"}, "scaling"),
        (Dropout, {"rate": 0.3, "noise_shape": (4, -1)}, "noise_shape"),
        (StochasticDepth, {"rate": 1.2}, "rate"),
        (DropConnect, {"layer": keras.layers.Dense(3), "rate": 1.0}, "rate"),
    ],
)
def test_bad_arguments_name_the_argument(cls, kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        cls(**kwargs)


def test_stochastic_depth_drops_whole_examples():
    rate = 0.3
    x = np.ones((4000, 3, 5), "float32")
    layer = StochasticDepth(rate, seed=8)
    out = _np(layer(x, training=True))
    per_example = out.reshape(4000, -1)
    assert np.all(per_example == per_example[:, :1])  # whole branch dropped or kept
    dropped = per_example[:, 0] == 0
    assert abs(dropped.mean() - rate) < four_sigma(rate, 4000), dropped.mean()
    np.testing.assert_allclose(per_example[~dropped], 1.0 / (1.0 - rate), rtol=1e-6)
    np.testing.assert_array_equal(layer(x, training=False), x)


def _drop_connect_dense(fan_in, units, rate, seed=4):
    layer = DropConnect(keras.layers.Dense(units, bias_initializer="zeros"), rate=rate, seed=seed)
    layer.build((None, fan_in))
    kernel = np.random.default_rng(3).uniform(0.5, 1.5, size=(fan_in, units)).astype("float32")
    layer.layer.kernel.assign(kernel)
    return layer, kernel


def test_drop_connect_masks_kernel_entries_once_per_call():
    rate, fan_in, units = 0.35, 150, 200
    layer, kernel = _drop_connect_dense(fan_in, units, rate)
    # Rows of the identity read the kernel back: out = x (M * W / p).
    eye = np.eye(fan_in, dtype="float32")
    out = _np(layer(np.concatenate([eye, eye]), training=True))
    first, second = out[:fan_in], out[fan_in:]
    np.testing.assert_array_equal(first, second)  # one mask for the mini-batch
    dropped = first == 0
    assert abs(dropped.mean() - rate) < four_sigma(rate, kernel.size), dropped.mean()
    np.testing.assert_allclose(first[~dropped], kernel[~dropped] / (1 - rate), rtol=1e-6)
    # A new mask on the next call.
    assert not np.array_equal(_np(layer(eye, training=True)), first)
    # Inference: the plain layer, W v.
    np.testing.assert_allclose(_np(layer(eye, training=False)), kernel, rtol=1e-6)
    np.testing.assert_allclose(_np(layer(eye)), _np(layer.layer(eye)), rtol=1e-6)


def test_drop_connect_gradient_reaches_only_kept_weights():
    rate = 0.4
    layer, kernel = _drop_connect_dense(6, 5, rate, seed=9)
    x = np.random.default_rng(7).normal(size=(3, 6)).astype("float32")
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            out = layer(x, training=True)
            loss = tf.reduce_sum(out)
        grad = tape.gradient(loss, layer.layer.kernel.value).numpy()
    elif keras.backend.backend() == "torch":
        layer(x, training=True).sum().backward()
        grad = layer.layer.kernel.value.grad.numpy()
    else:
        import jax

        kernel_var = layer.layer.kernel
        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]
        index = [v is kernel_var for v in layer.trainable_variables].index(True)

        def loss(values):
            out, _ = layer.stateless_call(values, non_trainable, x, training=True)
            return out.sum()

        grad = _np(jax.grad(loss)(trainable)[index])
    # d/dW sum(x (M*W/p)) = (x^T 1) * M / p: zero exactly where dropped.
    col = x.sum(axis=0)[:, None]
    kept = grad != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(grad[kept], np.broadcast_to(col, grad.shape)[kept] / (1 - rate), rtol=1e-5)


def test_drop_connect_on_conv2d_is_unbiased():
    """E_M[conv(x; M*W/p)] = conv(x; W): mean of 150 training outputs within
    a band of 5 standard errors (estimated from the samples)."""
    conv = keras.layers.Conv2D(2, 3, padding="same")
    layer = DropConnect(conv, rate=0.25, seed=1)
    x = np.random.default_rng(5).normal(size=(2, 5, 5, 3)).astype("float32")
    outs = np.stack([_np(layer(x, training=True)) for _ in range(150)])
    inference = _np(layer(x))
    np.testing.assert_allclose(inference, _np(conv(x)), rtol=1e-6)
    stderr = outs.std(axis=0) / np.sqrt(len(outs))
    assert np.all(np.abs(outs.mean(axis=0) - inference) < 5 * stderr + 1e-5)
    assert outs.std(axis=0).mean() > 0.05  # masks really applied


def test_drop_connect_needs_a_kernel():
    with pytest.raises(ValueError, match="layer"):
        DropConnect(keras.layers.LayerNormalization(), rate=0.2)(np.zeros((2, 3), "float32"), training=True)


@pytest.mark.parametrize("noise_shape", ["Invalid", 3, (20, 1.5, 10), (20, "a", 10), (20, 0, 10), (20, -1, 10)])
def test_bad_noise_shape_is_a_value_error_naming_it(noise_shape):
    # ValueError (not TypeError), as Keras' Dropout raises.
    with pytest.raises(ValueError, match="noise_shape"):
        Dropout(0.5, noise_shape=noise_shape)


def test_built_at_construction_unless_build_is_overridden():
    assert Dropout(0.3).built

    class WithBuild(Dropout):
        def build(self, input_shape):
            self.extra = self.add_weight(shape=(), initializer="zeros")

    layer = WithBuild(0.3)
    assert not layer.built
    layer(np.ones((2, 3), "float32"))
    assert layer.built and len(layer.weights) == 1
