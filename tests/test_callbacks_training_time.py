"""Goodfellow et al., Algorithms 7.2 and 7.3, on small synthetic data."""

import math

import keras
import numpy as np
import pytest

from kerasreg.callbacks import continue_until_validation_below, retrain_for_best_steps

pytestmark = pytest.mark.jax_pass


def _data():
    rng = np.random.default_rng(7)
    w = rng.normal(size=(12, 1))
    x = rng.normal(size=(88, 12)).astype("float32")
    y = (x @ w * 0.3 + rng.normal(size=(88, 1))).astype("float32")
    return x[:48], y[:48], x[48:], y[48:]


def _builder(calls):
    def build():
        calls.append(1)
        m = keras.Sequential([keras.Input((12,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1)])
        m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        return m

    return build


@pytest.mark.slow
def test_algorithm_7_2_retrains_for_the_best_number_of_steps():
    xs, ys, xv, yv = _data()
    calls = []
    model, info = retrain_for_best_steps(_builder(calls), xs, ys, xv, yv, max_epochs=15, patience=3, batch_size=8)
    val = np.array(info["val_loss"])
    best = int(np.argmin(val))
    assert info["best_epoch"] == best  # early stopping found the minimum of its curve
    assert len(val) - 1 - best == 3 or len(val) == 15  # stopped after `patience` epochs without improvement
    assert info["best_steps"] == (best + 1) * math.ceil(48 / 8)
    assert len(calls) == 2  # a fresh model for the retraining
    # exactly i* updates on the 88 examples (11 batches an epoch)
    assert int(np.array(model.optimizer.iterations)) == info["best_steps"]


@pytest.mark.slow
def test_algorithm_7_3_continues_until_validation_below_training_loss():
    xs, ys, xv, yv = _data()
    model = _builder([])()
    model, info = continue_until_validation_below(model, xs, ys, xv, yv, max_epochs=15, patience=3,
                                                  max_extra_epochs=30, batch_size=8)
    losses = info["valid_losses"]
    eps = info["epsilon"]
    assert info["reached"], info
    assert losses[-1] <= eps and all(v > eps for v in losses[:-1])  # stops at the first crossing
    assert info["extra_epochs"] == len(losses) - 1 >= 1
    np.testing.assert_allclose(model.evaluate(xv, yv, verbose=0), losses[-1], rtol=1e-5)


def test_algorithm_7_3_is_bounded():
    xs, ys, xv, yv = _data()
    model = _builder([])()
    _, info = continue_until_validation_below(model, xs, ys, xv, yv, max_epochs=4, patience=1,
                                              max_extra_epochs=1, batch_size=8)
    assert info["extra_epochs"] <= 1
