"""monte_carlo_predict on a tiny model against the exact expectation over all
dropout masks, computed in numpy by enumeration."""

import itertools

import keras
import numpy as np
import pytest

from kerasreg.layers import Dropout, monte_carlo_predict

pytestmark = pytest.mark.jax_pass

RATE = 0.4
HIDDEN = 4


def _model(scaling):
    """x -> Dense(4, tanh) -> BN (inference) -> Dropout -> Dense(2)."""
    rng = np.random.default_rng(0)
    inputs = keras.Input((3,))
    dense1 = keras.layers.Dense(HIDDEN, activation="tanh")
    bn = keras.layers.BatchNormalization(epsilon=0.01)
    dense2 = keras.layers.Dense(2)
    out = dense2(Dropout(RATE, scaling=scaling, seed=1)(bn(dense1(inputs))))
    model = keras.Model(inputs, out)
    params = {
        "w1": rng.normal(size=(3, HIDDEN)), "b1": rng.normal(size=HIDDEN) * 0.3,
        "mm": rng.normal(size=HIDDEN) * 0.2, "mv": rng.uniform(0.5, 2.0, size=HIDDEN),
        "g": rng.uniform(0.7, 1.3, size=HIDDEN), "be": rng.normal(size=HIDDEN) * 0.1,
        "w2": rng.normal(size=(HIDDEN, 2)), "b2": rng.normal(size=2) * 0.3,
    }
    params = {k: v.astype("float32") for k, v in params.items()}
    dense1.set_weights([params["w1"], params["b1"]])
    bn.set_weights([params["g"], params["be"], params["mm"], params["mv"]])
    dense2.set_weights([params["w2"], params["b2"]])
    return model, bn, params


def _exact(x, params, scaling):
    """E and SD over the 2^4 masks, each with probability p^k (1-p)^(4-k)."""
    keep = 1 - RATE
    h = np.tanh(x @ params["w1"] + params["b1"])
    h = params["g"] * (h - params["mm"]) / np.sqrt(params["mv"] + 0.01) + params["be"]
    outs, probs = [], []
    for mask in itertools.product([0.0, 1.0], repeat=HIDDEN):
        mask = np.array(mask)
        factor = mask if scaling == "test" else mask / keep  # training rule
        outs.append((h * factor) @ params["w2"] + params["b2"])
        probs.append(np.prod(np.where(mask == 1, keep, RATE)))
    outs, probs = np.array(outs), np.array(probs)[:, None, None]
    mean = (probs * outs).sum(axis=0)
    var = (probs * (outs - mean) ** 2).sum(axis=0)
    fourth = (probs * (outs - mean) ** 4).sum(axis=0)
    return mean, np.sqrt(var), fourth


@pytest.mark.parametrize("scaling", ["train", "test"])
def test_mean_and_std_match_the_exact_expectation(scaling):
    """T = 1500 samples: |mean - E| < 4 SD / sqrt(T); the sample variance
    within 4 sqrt((mu4 - var^2) / T) of the exact variance (its standard
    error, with mu4 the exact fourth central moment)."""
    samples = 1500
    model, bn, params = _model(scaling)
    x = np.random.default_rng(1).normal(size=(5, 3)).astype("float32")
    moving = np.asarray(bn.moving_mean).copy()
    mean, std = monte_carlo_predict(model, x, samples=samples, batch_size=999, seed=3)
    exact_mean, exact_std, fourth = _exact(x, params, scaling)
    assert mean.shape == std.shape == (5, 2)
    assert np.all(np.abs(mean - exact_mean) < 4 * exact_std / np.sqrt(samples) + 1e-6)
    band = 4 * np.sqrt((fourth - exact_std**4) / samples)
    assert np.all(np.abs(std**2 - exact_std**2) < band + 1e-6)
    # BN stayed in inference mode (its moving statistics are untouched) and
    # the deterministic prediction still applies the test-time rule.
    np.testing.assert_array_equal(np.asarray(bn.moving_mean), moving)
    np.testing.assert_allclose(model.predict(x, verbose=0), exact_mean, rtol=1e-4, atol=1e-4)


def test_seeded_runs_repeat_and_unseeded_runs_differ():
    model, _, _ = _model("train")
    x = np.ones((3, 3), "float32")
    a = monte_carlo_predict(model, x, samples=20, seed=5)
    b = monte_carlo_predict(model, x, samples=20, seed=5)
    np.testing.assert_array_equal(a[0], b[0])
    c = monte_carlo_predict(model, x, samples=20)
    assert not np.array_equal(a[1], c[1])


def test_model_without_kerasreg_dropout_is_rejected():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Dropout(0.5)(inputs)))
    with pytest.raises(ValueError, match="dropout"):
        monte_carlo_predict(model, np.zeros((2, 3), "float32"), samples=2)
    with pytest.raises(ValueError, match="samples"):
        monte_carlo_predict(model, np.zeros((2, 3), "float32"), samples=0)


def test_drop_connect_samples_one_kernel_mask_per_pass():
    """x -> DropConnect(Dense(2, tanh)): exact E and SD over the 2^6 kernel
    masks; T = 200 passes, mean within 4 SD / sqrt(T)."""
    from kerasreg.layers import DropConnect

    samples, rate, keep = 200, 0.3, 0.7
    rng = np.random.default_rng(2)
    w, b = rng.normal(size=(3, 2)).astype("float32"), np.array([0.2, -0.3], "float32")
    inputs = keras.Input((3,))
    model = keras.Model(inputs, DropConnect(keras.layers.Dense(2, activation="tanh"), rate, seed=4)(inputs))
    model.set_weights([w, b])
    x = rng.normal(size=(4, 3)).astype("float32")
    mean, std = monte_carlo_predict(model, x, samples=samples, seed=6)
    outs, probs = [], []
    for mask in itertools.product([0.0, 1.0], repeat=6):
        mask = np.array(mask).reshape(3, 2)
        outs.append(np.tanh(x @ (mask * w / keep) + b))
        probs.append(np.prod(np.where(mask == 1, keep, rate)))
    outs, probs = np.array(outs), np.array(probs)[:, None, None]
    exact_mean = (probs * outs).sum(axis=0)
    exact_std = np.sqrt((probs * (outs - exact_mean) ** 2).sum(axis=0))
    assert np.all(np.abs(mean - exact_mean) < 4 * exact_std / np.sqrt(samples) + 1e-6)
    assert np.all(np.abs(std - exact_std) < 0.25 * exact_std + 1e-6)
