"""Nesterov inside model.fit: gradient at the interim point, theta after fit,
SwapNesterovWeights for validation / checkpoints, and resuming training.

The reference is Algorithm 8.3 in numpy, evaluating the gradient of the
mean squared error literally at ``theta + alpha * v``.
"""

import keras
import numpy as np
import pytest

from kerasreg import callbacks, optimizers

pytestmark = pytest.mark.jax_pass

LR, ALPHA = 0.13, 0.7
RTOL, ATOL = 2e-5, 2e-6

RNG = np.random.default_rng(11)
X = RNG.normal(size=(16, 3)).astype("float32")
Y = (X @ RNG.normal(size=(3, 2)) + 0.3 * RNG.normal(size=(16, 2))).astype("float32")
XV = RNG.normal(size=(8, 3)).astype("float32")
YV = RNG.normal(size=(8, 2)).astype("float32")
K0 = RNG.normal(size=(3, 2))
C0 = np.array([0.37, -0.21])


def mse(ws, x=X, y=Y):
    k, c = ws
    return float(np.mean((x @ k + c - y) ** 2))


def grad_mse(ws):
    """Gradient of Keras' mean squared error, mean over the 16 x 2 entries."""
    k, c = ws
    r = 2.0 * (X @ k + c - Y) / Y.size
    return [X.T @ r, r.sum(0)]


def reference(steps, heavy_ball_steps=()):
    """Algorithm 8.3 on the full batch: returns (thetas, interim points).

    ``heavy_ball_steps``: 1-based steps whose gradient is taken at theta
    (the documented first step of a resumed fit without the callback).
    """
    theta, v = [K0.copy(), C0.copy()], [np.zeros((3, 2)), np.zeros(2)]
    thetas, interims = [theta], [theta]
    for step in range(1, steps + 1):
        interim = [w + ALPHA * vi for w, vi in zip(theta, v)]
        g = grad_mse(theta if step in heavy_ball_steps else interim)
        v = [ALPHA * vi - LR * gi for vi, gi in zip(v, g)]
        theta = [w + vi for w, vi in zip(theta, v)]
        thetas.append(theta)
        interims.append([w + ALPHA * vi for w, vi in zip(theta, v)])
    return thetas, interims


def make_model(optimizer=None):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.set_weights([K0.astype("float32"), C0.astype("float32")])
    model.compile(optimizer=optimizer or optimizers.Nesterov(LR, momentum=ALPHA), loss="mse")
    return model


def fit(model, epochs, **kwargs):
    # The full batch: one step per epoch.
    return model.fit(X, Y, batch_size=len(X), epochs=epochs, shuffle=False, verbose=0, **kwargs)


def assert_weights(got, want):
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)


def test_fit_takes_gradient_at_interim_point_and_ends_at_theta():
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(model.get_weights()))
    model = make_model()
    fit(model, 6, callbacks=[record])
    thetas, interims = reference(6)
    # Before step k the variables, where Keras evaluates the gradient, hold theta~_k.
    for k in range(6):
        assert_weights(seen[k], interims[k])
    assert not np.allclose(interims[5][0], thetas[5][0], atol=1e-3)
    # After fit the model holds theta.
    assert_weights(model.get_weights(), thetas[6])
    np.testing.assert_allclose(model.evaluate(X, Y, verbose=0), mse(thetas[6]), rtol=1e-5)


def test_swap_callback_validation_and_checkpoints_see_theta(tmp_path):
    thetas, interims = reference(4)
    model = make_model()
    ckpt = keras.callbacks.ModelCheckpoint(str(tmp_path / "e{epoch}.weights.h5"), save_weights_only=True)
    history = fit(model, 4, validation_data=(XV, YV), callbacks=[callbacks.SwapNesterovWeights(), ckpt])
    want_val = [mse(thetas[k], XV, YV) for k in range(1, 5)]
    np.testing.assert_allclose(history.history["val_loss"], want_val, rtol=1e-5)
    for k in range(1, 5):
        model_k = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        model_k.load_weights(str(tmp_path / f"e{k}.weights.h5"))
        assert_weights(model_k.get_weights(), thetas[k])
    # Training itself is untouched by the swaps.
    assert_weights(model.get_weights(), thetas[4])
    # Without the callback, validation sees the interim points.
    plain = fit(make_model(), 4, validation_data=(XV, YV))
    np.testing.assert_allclose(plain.history["val_loss"], [mse(interims[k], XV, YV) for k in range(1, 5)], rtol=1e-5)
    assert not np.allclose(plain.history["val_loss"], want_val, rtol=1e-3)


def test_evaluate_with_callback_after_fit_keeps_theta():
    thetas, _ = reference(3)
    model = make_model()
    swap = callbacks.SwapNesterovWeights()
    fit(model, 3, callbacks=[swap])
    loss = model.evaluate(X, Y, verbose=0, callbacks=[swap])
    np.testing.assert_allclose(loss, mse(thetas[3]), rtol=1e-5)
    model.predict(X, verbose=0, callbacks=[swap])
    assert_weights(model.get_weights(), thetas[3])


@pytest.mark.parametrize("swap_on_epoch", [True, False])
def test_second_fit_with_callback_resumes_exactly(swap_on_epoch):
    thetas, _ = reference(6)
    model = make_model()
    swap = callbacks.SwapNesterovWeights(swap_on_epoch=swap_on_epoch)
    fit(model, 3, callbacks=[swap])
    assert_weights(model.get_weights(), thetas[3])
    fit(model, 3, callbacks=[swap])
    assert_weights(model.get_weights(), thetas[6])


def test_second_fit_without_callback_takes_one_heavy_ball_step():
    """The documented departure: step 4 (the first of the second fit) takes
    its gradient at theta; every other step at the interim point."""
    thetas, _ = reference(6, heavy_ball_steps=(4,))
    exact, _ = reference(6)
    model = make_model()
    fit(model, 3)
    fit(model, 3)
    assert_weights(model.get_weights(), thetas[6])
    assert not np.allclose(thetas[6][0], exact[6][0], atol=1e-4)


def test_save_after_fit_saves_theta_and_resumes(tmp_path):
    thetas, _ = reference(5)
    model = make_model()
    fit(model, 3)
    path = str(tmp_path / "nesterov.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert_weights(loaded.get_weights(), thetas[3])
    fit(loaded, 2, callbacks=[callbacks.SwapNesterovWeights()])
    assert_weights(loaded.get_weights(), thetas[5])


@pytest.mark.slow
@pytest.mark.tf_only
def test_swap_callback_under_two_replicas():
    from kerasreg.distribute import cpu_mirrored_strategy

    thetas, _ = reference(4)
    with cpu_mirrored_strategy(2).scope():
        model = make_model()
    history = fit(model, 4, validation_data=(XV, YV), callbacks=[callbacks.SwapNesterovWeights()])
    np.testing.assert_allclose(history.history["val_loss"], [mse(thetas[k], XV, YV) for k in range(1, 5)], rtol=1e-5)
    assert_weights(model.get_weights(), thetas[4])


def test_swap_callback_rejects_other_optimizers():
    model = make_model(optimizers.Momentum(LR))
    with pytest.raises(ValueError, match="Nesterov"):
        fit(model, 1, callbacks=[callbacks.SwapNesterovWeights()])


def test_swap_callback_config():
    swap = callbacks.SwapNesterovWeights(swap_on_epoch=False)
    assert swap.get_config() == {"swap_on_epoch": False}
    assert keras.saving.get_registered_object("kerasreg>SwapNesterovWeights") is callbacks.SwapNesterovWeights
    with pytest.raises(TypeError, match="swap_on_epoch"):
        callbacks.SwapNesterovWeights(swap_on_epoch=1)
