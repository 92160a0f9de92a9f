"""LR range test and LearningRateLogger."""

import keras
import numpy as np
import pytest

from kerasreg.callbacks import LearningRateLogger, find_learning_rate
from kerasreg.optimizers.schedules import StepDecay

pytestmark = pytest.mark.tf_only


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
    result = find_learning_rate(model, x, y, batch_size=64, min_lr=1e-4, max_lr=10.0, steps=60)
    assert result.diverged  # the sweep goes past 2 / lambda_max
    assert stable / 100 < result.suggestion < stable, (result.suggestion, stable)
    # The rates are the exponential sweep, up to where it stopped.
    k = np.arange(len(result.learning_rates))
    np.testing.assert_allclose(result.learning_rates, 1e-4 * (1e5) ** (k / 59), rtol=1e-9)
    # Smoothed losses follow the docstring's bias-corrected average.
    a, ref = 0.0, []
    for i, loss in enumerate(result.raw_losses):
        a = 0.98 * a + 0.02 * loss
        ref.append(a / (1 - 0.98 ** (i + 1)))
    np.testing.assert_allclose(result.losses, ref, rtol=1e-9)
    for v, b in zip(model.variables, before_model):
        np.testing.assert_array_equal(np.array(v), b)
    for v, b in zip(model.optimizer.variables, before_opt):
        np.testing.assert_array_equal(np.array(v), b)
    path = result.plot(str(tmp_path / "lr.png"))
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_finder_accepts_a_dataset_and_rejects_schedules():
    import tensorflow as tf

    x, y, _ = _regression()
    model = _model()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    result = find_learning_rate(model, ds, min_lr=1e-3, max_lr=0.1, steps=9)
    assert len(result.learning_rates) == 9 and not result.diverged
    model.compile(optimizer=keras.optimizers.SGD(StepDecay(0.1, 0.5, 3)), loss="mse")
    with pytest.raises(TypeError, match="schedule"):
        find_learning_rate(model, x, y, steps=5)


@pytest.mark.parametrize("kwargs, name", [({"min_lr": 0}, "min_lr"), ({"max_lr": 1e-7}, "max_lr"),
                                          ({"steps": 2}, "steps"), ({"smoothing": 1.0}, "smoothing"),
                                          ({"divergence": 0.5}, "divergence")])
def test_finder_bad_arguments(kwargs, name):
    x, y, _ = _regression()
    with pytest.raises((ValueError, TypeError), match=name):
        find_learning_rate(_model(), x, y, **kwargs)


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
