"""WeightNoise: W + eps in training, W at inference, the measured noise
standard deviation, gradients to W, and annealing through the variable."""

import keras
import numpy as np
import pytest

from kerasreg.layers import WeightNoise

pytestmark = pytest.mark.jax_pass


def _np(x):
    """A layer output or variable as numpy on every backend (torch outputs carry grad)."""
    return keras.ops.convert_to_numpy(x)


def _noisy_dense(fan_in, units, stddev, seed=3):
    layer = WeightNoise(keras.layers.Dense(units), stddev=stddev, seed=seed)
    layer.build((None, fan_in))
    kernel = np.random.default_rng(0).normal(size=(fan_in, units)).astype("float32")
    layer.layer.kernel.assign(kernel)
    return layer, kernel


def test_noise_standard_deviation_and_zero_at_inference():
    """eps = out - W over n = 30000 entries: its std within 4 standard errors
    of stddev (se of a normal sample std ~ sigma / sqrt(2n)), its mean within
    4 sigma / sqrt(n) of 0."""
    stddev, fan_in, units = 0.3, 150, 200
    layer, kernel = _noisy_dense(fan_in, units, stddev)
    eye = np.eye(fan_in, dtype="float32")  # rows of the identity read W back
    eps = _np(layer(eye, training=True)) - kernel
    n = eps.size
    assert abs(eps.std() - stddev) < 4 * stddev / np.sqrt(2 * n), eps.std()
    assert abs(eps.mean()) < 4 * stddev / np.sqrt(n), eps.mean()
    # Fresh noise at each call.
    eps2 = _np(layer(eye, training=True)) - kernel
    assert abs(np.corrcoef(eps.ravel(), eps2.ravel())[0, 1]) < 0.03
    # Inference uses W exactly, and the variable W is never written.
    np.testing.assert_array_equal(_np(layer(eye, training=False)), _np(layer.layer(eye)))
    np.testing.assert_allclose(_np(layer(eye)), kernel, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(_np(layer.layer.kernel), kernel)


def test_gradient_flows_to_w_through_w_plus_eps():
    """loss = sum(out^2), out = x (W + eps): dL/dW = 2 x^T out."""
    layer, _ = _noisy_dense(4, 3, stddev=0.7)
    x = np.random.default_rng(1).normal(size=(5, 4)).astype("float32")
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            out = layer(x, training=True)
            loss = tf.reduce_sum(out**2)
        grad = tape.gradient(loss, layer.layer.kernel.value).numpy()
        out = out.numpy()
    elif keras.backend.backend() == "torch":
        out = layer(x, training=True)
        (out**2).sum().backward()
        grad, out = layer.layer.kernel.value.grad.numpy(), _np(out)
    else:
        import jax

        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]
        index = [v is layer.layer.kernel for v in layer.trainable_variables].index(True)

        def loss(values):
            out, _ = layer.stateless_call(values, non_trainable, x, training=True)
            return (out**2).sum(), out

        grads, out = jax.grad(loss, has_aux=True)(trainable)
        grad, out = np.asarray(grads[index]), np.asarray(out)
    np.testing.assert_allclose(grad, 2 * x.T @ out, rtol=1e-4, atol=1e-5)
    # The noise was there: the noise-free gradient differs.
    clean = 2 * x.T @ _np(layer(x))
    assert np.max(np.abs(grad - clean)) > 1e-2


def test_stddev_is_a_variable_annealed_without_retracing():
    keras.utils.set_random_seed(2)
    x = np.random.default_rng(3).normal(size=(16, 4)).astype("float32")
    y = np.random.default_rng(4).normal(size=(16, 3)).astype("float32")

    def model(layer):
        inputs = keras.Input((4,))
        m = keras.Model(inputs, layer(inputs))
        m.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        return m

    noisy_layer = WeightNoise(keras.layers.Dense(3), stddev=0.9, seed=1)
    noisy, clean = model(noisy_layer), model(keras.layers.Dense(3))
    assert isinstance(noisy_layer.stddev, keras.Variable)
    assert not noisy_layer.stddev.trainable
    noisy.train_on_batch(x, y)  # traces the step with stddev = 0.9
    step = noisy.train_function
    noisy_layer.stddev.assign(0.0)  # what WeightNoiseCallback does
    assert noisy_layer.get_config()["stddev"] == 0.0
    assert isinstance(noisy_layer.get_config()["stddev"], float)
    clean.set_weights([w for w in noisy.get_weights() if np.ndim(w) > 0])
    for _ in range(3):
        noisy.train_on_batch(x, y)
        clean.train_on_batch(x, y)
    assert noisy.train_function is step  # no new step function
    # The traced step reads the variable: with stddev 0 it is the clean step.
    np.testing.assert_allclose(_np(noisy_layer.layer.kernel), _np(clean.layers[1].kernel), rtol=1e-5, atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="stddev"):
        WeightNoise(keras.layers.Dense(2), stddev=-0.1)
    with pytest.raises(TypeError, match="layer"):
        WeightNoise("dense", stddev=0.1)
