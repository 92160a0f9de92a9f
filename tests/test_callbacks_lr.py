"""LR range test and LearningRateLogger."""

import warnings

import keras
import numpy as np
import pytest

from kerasreg.callbacks import LearningRateLogger, find_learning_rate
from kerasreg.callbacks.lr_finder import _informative_range, _warn, suggest_learning_rate
from kerasreg.optimizers.schedules import StepDecay


def _regression():
    """Least squares with a known curvature: mse Hessian H = 2/m Xa^T Xa."""
    rng = np.random.default_rng(4)
    x = (rng.normal(size=(64, 3)) * np.array([3.0, 1.0, 0.3])).astype("float32")
    y = (x @ np.array([[0.7], [-1.3], [0.3]]) + 0.1).astype("float32")
    xa = np.hstack([x, np.ones((64, 1))]).astype("float64")
    lam_max = np.linalg.eigvalsh(2 / 64 * xa.T @ xa).max()
    return x, y, lam_max


def _model(momentum=0.0):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=momentum), loss="mse")
    return model


def test_suggestion_lies_in_the_stable_range_and_state_is_restored(tmp_path):
    x, y, lam_max = _regression()
    stable = 2 / lam_max  # full-batch gradient descent converges iff lr < 2 / lambda_max
    model = _model(momentum=0.3)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # non-trivial optimizer state
    before_model = [np.array(v) for v in model.variables]
    before_opt = [np.array(v) for v in model.optimizer.variables]
    result = find_learning_rate(model, x, y, batch_size=64, min_lr=1e-4, max_lr=10.0, steps=60, smoothing=0.3)
    assert result.diverged  # the sweep goes past 2 / lambda_max
    assert stable / 100 < result.suggestion < stable, (result.suggestion, stable)
    assert 1e-4 <= result.suggestion < result.minimum <= result.learning_rates[-1]
    # The rates are the exponential sweep, up to where it stopped.
    k = np.arange(len(result.learning_rates))
    np.testing.assert_allclose(result.learning_rates, 1e-4 * (1e5) ** (k / 59), rtol=1e-9)
    # Smoothed losses follow the docstring's Gaussian kernel in log10(rate), sigma = 0.3 decades.
    lx = np.log10(result.learning_rates)
    ref = [sum(np.exp(-(lx[j] - lx[i]) ** 2 / (2 * 0.3**2)) * result.raw_losses[j] for j in k)
           / sum(np.exp(-(lx[j] - lx[i]) ** 2 / (2 * 0.3**2)) for j in k) for i in k]
    np.testing.assert_allclose(result.losses, ref, rtol=1e-9)
    for v, b in zip(model.variables, before_model):
        np.testing.assert_array_equal(np.array(v), b)
    for v, b in zip(model.optimizer.variables, before_opt):
        np.testing.assert_array_equal(np.array(v), b)
    path = result.plot(str(tmp_path / "lr.png"))
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_suggestion_rule_steepest_descent_before_the_minimum():
    lrs = np.geomspace(1e-4, 10.0, 11)
    # flat, a fall steepest between 1e-2 and 1e-1, the minimum at 1, then divergence
    s = np.array([2.3, 2.3, 2.29, 2.2, 1.5, 0.9, 0.7, 0.6, 0.55, 3.0, 50.0])
    suggestion, minimum = suggest_learning_rate(lrs, s)
    slope = np.gradient(s, np.log10(lrs))
    assert minimum == lrs[8] and suggestion == lrs[int(np.argmin(slope[:8]))] == lrs[4]
    # The steepest point overall is in the diverging tail; the rule never goes there.
    assert np.argmin(-slope) != 4
    assert suggest_learning_rate(lrs[:3], [1.0, 2.0, 3.0]) == (lrs[0], lrs[0])  # only rising: the first rate


def test_plot_range_is_the_informative_part():
    losses = np.array([2.3, 2.3, 2.0, 1.0, 0.8, 5.0, 1e6])
    assert _informative_range(losses) == (0.8, 2.3)  # the diverged tail does not set the axis


def test_finder_warns_when_the_sweep_ends_before_the_minimum_or_never_diverges():
    x, y, _ = _regression()
    with pytest.warns(UserWarning, match="before the loss reached its minimum"):
        result = find_learning_rate(_model(), x, y, min_lr=1e-5, max_lr=1e-3, steps=10)
    assert not result.diverged and 1e-5 <= result.suggestion <= 1e-3
    with pytest.warns(UserWarning, match="rises from the first rate"):
        find_learning_rate(_model(), x, y, min_lr=0.5, max_lr=50.0, steps=10)
    lrs = np.geomspace(1e-3, 1.0, 4)
    with pytest.warns(UserWarning, match="never diverged"):  # a minimum inside, no divergence
        _warn(lrs, np.array([2.0, 1.0, 0.5, 0.6]), False, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn(lrs, np.array([2.0, 1.0, 0.5, 0.6]), True, 1.0)  # the expected shape: no warning


@pytest.mark.jax_pass
def test_finder_rejects_an_uncompiled_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    x, y, _ = _regression()
    with pytest.raises(ValueError, match="compiled model.*model.compile"):
        find_learning_rate(model, x, y)


@pytest.mark.jax_pass
def test_finder_accepts_a_dataset_and_rejects_schedules():
    import tensorflow as tf

    x, y, _ = _regression()
    model = _model()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # this short sweep neither diverges nor passes the minimum
        result = find_learning_rate(model, ds, min_lr=1e-3, max_lr=0.1, steps=9)
    assert len(result.learning_rates) == 9 and not result.diverged
    model.compile(optimizer=keras.optimizers.SGD(StepDecay(0.1, 0.5, 3)), loss="mse")
    with pytest.raises(TypeError, match="schedule"):
        find_learning_rate(model, x, y, steps=5)


@pytest.mark.parametrize("kwargs, name", [({"min_lr": 0}, "min_lr"), ({"max_lr": 1e-8}, "max_lr"),
                                          ({"steps": 2}, "steps"), ({"smoothing": 0.0}, "smoothing"),
                                          ({"divergence": 0.5}, "divergence")])
def test_finder_bad_arguments(kwargs, name):
    x, y, _ = _regression()
    with pytest.raises((ValueError, TypeError), match=name):
        find_learning_rate(_model(), x, y, **kwargs)


def _digits_mlp(optimizer, info):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(info.input_shape), keras.layers.Dense(100, activation="relu"),
                              keras.layers.Dense(10)])
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


@pytest.mark.slow
@pytest.mark.jax_pass
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_acceptance_five_epochs_at_the_suggestion_learn_digits(optimizer):
    """Sweeps of 100 and 30 steps (default range [1e-7, 10]) suggest rates within a decade of each other, and
    five epochs at either reach >= 0.85 validation accuracy (an untrained net: 0.1).

    Measured (4 data orders each, TensorFlow): Adam 0.015-0.022 (100 steps), 0.033-0.062 (30 steps);
    SGD 0.29-0.35 and 0.42-0.79.  A shorter sweep trains less at each rate, so its loss falls at
    larger rates: the 30-step suggestion is systematically about 2x larger.  Before the centred
    smoothing, the two differed by up to five decades.
    """
    import kerasreg

    train, val, _, info = kerasreg.data.load("digits", flatten=True, seed=0)
    suggestions = []
    for steps in (100, 30):
        model = _digits_mlp(keras.optimizers.SGD(0.01) if optimizer == "sgd" else keras.optimizers.Adam(1e-3), info)
        result = find_learning_rate(model, train, steps=steps)
        assert 1e-7 <= result.suggestion < result.minimum
        model.optimizer.learning_rate.assign(result.suggestion)
        history = model.fit(train, validation_data=val, epochs=5, verbose=0)
        accuracy = history.history["val_accuracy"][-1]
        assert accuracy >= 0.85, (optimizer, steps, result.suggestion, accuracy)
        suggestions.append(result.suggestion)
    assert max(suggestions) / min(suggestions) < 10.0, suggestions


def test_logger_logs_the_rate_of_the_last_step_not_the_next():
    x, y, _ = _regression()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(StepDecay(0.03, drop=0.7, step_size=3)), loss="mse")
    hist = model.fit(x, y, batch_size=16, epochs=4, shuffle=False, verbose=0, callbacks=[LearningRateLogger()])
    # 4 steps per epoch: the last step of epoch e is t = 4e + 3.
    t = 4 * np.arange(4) + 3
    np.testing.assert_allclose(hist.history["learning_rate"], 0.03 * 0.7 ** np.floor(t / 3), rtol=1e-6)
    # optimizer.learning_rate (what Keras' TensorBoard logs) is the next step's
    # rate: after epoch 2 it is schedule(12) = 0.03 * 0.7**4, but step 11 used 0.03 * 0.7**3.
    assert not np.isclose(0.03 * 0.7 ** np.floor((4 * 2 + 4) / 3), hist.history["learning_rate"][2])


def test_logger_float_rate_and_plateau():
    x, y, _ = _regression()
    model = _model()
    cbs = [LearningRateLogger(key="learning_rate_used"),
           keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.3, patience=0, min_delta=1e9)]
    hist = model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=cbs)
    # Epoch 0 sets the best; every later epoch is no improvement (min_delta) and
    # reduces the rate after it was used: 0.01, 0.01, 0.003.
    np.testing.assert_allclose(hist.history["learning_rate_used"], [0.01, 0.01, 0.003], rtol=1e-5)
