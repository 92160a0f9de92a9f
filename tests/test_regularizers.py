"""Norm penalties, activity penalties and add_penalties against numpy."""

import keras
import numpy as np
import pytest

from kerasreg.regularizers import L1, L2, ActivityL1, KLSparsity, add_penalties

pytestmark = pytest.mark.jax_pass

RNG = np.random.default_rng(42)
W = RNG.normal(size=(7, 5)).astype("float32")


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x), dtype="float64")


def _kl(rho, rho_hat):
    return rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))


@pytest.mark.parametrize("alpha", [0.37, 0.03, 0.0])
def test_l2_is_alpha_half_squared_norm(alpha):
    expected = alpha * 0.5 * np.sum(W.astype("float64") ** 2)
    np.testing.assert_allclose(_np(L2(alpha)(W)), expected, rtol=1e-6)
    # Keras' L2 has no 1/2: ours is Keras' with alpha / 2.
    np.testing.assert_allclose(_np(L2(alpha)(W)), _np(keras.regularizers.L2(alpha / 2)(W)), rtol=1e-6)


@pytest.mark.parametrize("alpha", [0.37, 0.03])
def test_l1_is_alpha_abs_sum(alpha):
    np.testing.assert_allclose(_np(L1(alpha)(W)), alpha * np.sum(np.abs(W.astype("float64"))), rtol=1e-6)


def test_activity_l1_in_layer_losses_is_mean_over_batch_of_sum():
    x = RNG.normal(size=(9, 4)).astype("float32")
    layer = keras.layers.Dense(6, activation="tanh", activity_regularizer=ActivityL1(0.3))
    layer(x)
    w, b = (np.asarray(v, "float64") for v in layer.get_weights())
    h = np.tanh(x @ w + b)
    expected = 0.3 * np.mean(np.sum(np.abs(h), axis=1))
    assert len(layer.losses) == 1
    np.testing.assert_allclose(_np(layer.losses[0]), expected, rtol=1e-5)


def test_kl_sparsity_in_layer_losses_dense():
    x = RNG.normal(size=(11, 4)).astype("float32")
    layer = keras.layers.Dense(6, activation="sigmoid", activity_regularizer=KLSparsity(0.3, 0.7))
    layer(x)
    w, b = (np.asarray(v, "float64") for v in layer.get_weights())
    h = 1 / (1 + np.exp(-(x @ w + b)))
    expected = 0.7 * np.sum(_kl(0.3, h.mean(axis=0)))
    assert expected > 1e-3
    np.testing.assert_allclose(_np(layer.losses[0]), expected, rtol=1e-5)


def test_kl_sparsity_conv_unit_is_channel_and_clipping():
    h = RNG.uniform(0.05, 0.95, size=(3, 4, 4, 5)).astype("float32")
    h[..., 0] = 0.0  # a dead channel: rho_hat is clipped to epsilon
    reg = KLSparsity(target=0.07, weight=0.3, epsilon=1e-3)
    rho_hat = np.clip(h.astype("float64").mean(axis=(0, 1, 2)), 1e-3, 1 - 1e-3)
    # called directly it returns B times the penalty (Keras divides by B)
    np.testing.assert_allclose(_np(reg(h)) / 3, 0.3 * np.sum(_kl(0.07, rho_hat)), rtol=1e-5)
    assert np.isfinite(_np(KLSparsity(0.07)(np.zeros((4, 3), "float32"))))


def test_kl_sparsity_zero_at_target():
    h = np.array([[0.1, 0.6], [0.5, 0.0], [0.3, 0.3]], "float32")  # column means 0.3
    np.testing.assert_allclose(_np(KLSparsity(0.3, 0.9)(h)), 0.0, atol=1e-6)


@pytest.mark.parametrize(
    "make, arg",
    [(lambda: L2(-0.3), "alpha"), (lambda: L1(-1), "alpha"), (lambda: ActivityL1(-0.1), "alpha"),
     (lambda: KLSparsity(0.0), "target"), (lambda: KLSparsity(1.2), "target"),
     (lambda: KLSparsity(0.3, -0.7), "weight")],
)
def test_bad_arguments_name_the_argument(make, arg):
    with pytest.raises(ValueError, match=f"`{arg}`"):
        make()


def _sequential():
    return keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(16, activation="relu", name="d1"),
        keras.layers.BatchNormalization(name="bn"),
        keras.layers.Dense(8, activation="relu", name="d2"),
        keras.layers.Dense(3, name="out"),
    ])


def _functional():
    inputs = keras.Input((6, 6, 2))
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(8, activation="relu", name="d2")(h)
    outputs = keras.layers.Dense(3, name="out")(h)
    return keras.Model(inputs, outputs)


def _data(model, n=48):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n,) + tuple(model.input_shape[1:])).astype("float32")
    y = rng.integers(0, 3, size=n).astype("int32")
    return x, y


@pytest.mark.parametrize("build", [_sequential, _functional], ids=["sequential", "functional"])
@pytest.mark.parametrize("copy", [False, True], ids=["in_place", "copy"])
def test_add_penalties_penalizes_kernels_only_and_keeps_weights(build, copy):
    original = build()
    x, y = _data(original)
    # pretend it was trained: nonzero biases and BN parameters
    rng = np.random.default_rng(5)
    original.set_weights([rng.normal(size=w.shape).astype("float32") for w in original.get_weights()])
    original.get_layer("bn").set_weights(
        [np.abs(w) + 0.5 if i == 3 else w for i, w in enumerate(original.get_layer("bn").get_weights())]
    )
    before = [w.copy() for w in original.get_weights()]
    assert not original.losses

    model = add_penalties(original, kernel=L2(0.37), copy=copy)
    assert (model is original) is (not copy)
    if copy:
        assert not original.losses
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)

    kernels = [v for v in model.trainable_weights if v.path.endswith("kernel")]
    assert len(kernels) == 3
    expected = sorted(0.37 * 0.5 * np.sum(np.asarray(k, "float64") ** 2) for k in kernels)
    got = sorted(float(_np(loss)) for loss in model.losses)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    for v in model.weights:  # biases, gamma, beta, moving statistics: no penalty
        if not v.path.endswith("kernel"):
            assert getattr(v, "regularizer", None) is None, v.path

    # it trains, and the training loss is the data loss plus the penalties
    model.compile(optimizer=keras.optimizers.SGD(0.03),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    data_loss = float(_np(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
        y, model(x, training=False))))
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), data_loss + sum(expected), rtol=1e-4)
    history = model.fit(x, y, batch_size=16, epochs=4, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_add_penalties_survives_keras_file(tmp_path):
    model = add_penalties(_sequential(), kernel=L1(0.03))
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(sorted(float(_np(v)) for v in loaded.losses),
                               sorted(float(_np(v)) for v in model.losses), rtol=1e-6)
    assert len(loaded.losses) == 3


def test_add_penalties_activity_on_hidden_layers():
    model = add_penalties(_sequential(), activity=ActivityL1(0.3))
    assert model.get_layer("d1").activity_regularizer is not None
    assert model.get_layer("d2").activity_regularizer is not None
    assert model.get_layer("out").activity_regularizer is None
    model = add_penalties(_functional(), activity=KLSparsity(0.2, 0.5), activity_layers=["d2"])
    x, _ = _data(model, n=10)
    model(x)
    assert len(model.losses) == 1
    sub = keras.Model(model.inputs[0], model.get_layer("d2").output)
    h = _np(sub(x))
    rho_hat = np.clip(h.mean(axis=0), 1e-7, 1 - 1e-7)
    np.testing.assert_allclose(_np(model.losses[0]), 0.5 * np.sum(_kl(0.2, rho_hat)), rtol=1e-4)


def test_add_penalties_arguments():
    with pytest.raises(ValueError, match="`kernel`"):
        add_penalties(_sequential())
    with pytest.raises(ValueError, match="activity_layers"):
        add_penalties(_sequential(), activity=ActivityL1(0.1), activity_layers=["nope"])
    with pytest.raises(ValueError, match="built"):
        add_penalties(keras.Sequential([keras.layers.Dense(2)]), kernel=L2(0.1))


def test_activity_penalties_in_float16_are_computed_in_float32():
    h = np.full((4, 3), 0.999, "float16")  # rho_hat near 1: the clip matters
    got = _np(KLSparsity(0.3, 0.7)(h)) / 4
    expected = 0.7 * np.sum(_kl(0.3, np.clip(h.astype("float64").mean(axis=0), 1e-7, 1 - 1e-7)))
    np.testing.assert_allclose(got, expected, rtol=1e-3)
    big = np.full((64, 2048), 1.5, "float16")  # the batch sum overflows float16
    np.testing.assert_allclose(_np(ActivityL1(0.3)(big)), 0.3 * 1.5 * 64 * 2048, rtol=1e-3)
