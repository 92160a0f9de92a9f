"""Initializers against the lecture's distributions, and LSUV."""

import keras
import numpy as np
import pytest

from kerasreg.initializers import He, NormalizedUniform, SparseInit, Xavier, lsuv_initialize

pytestmark = pytest.mark.jax_pass

DENSE = (400, 300)  # m = 400, n = 300
CONV = (3, 3, 32, 64)  # m = 3*3*32 = 288, n = 3*3*64 = 576


def _draw(init, shape):
    return np.asarray(keras.ops.convert_to_numpy(init(shape, dtype="float32")), dtype="float64")


def _check_normal(w, var):
    """Mean within 5 standard errors of 0, variance within 4% (> 5 standard
    errors of a sample variance for >= 18k draws), and untruncated: the
    fraction beyond 2 sigma is that of a normal, 4.55% (+-0.6%; a normal
    truncated at 2 sigma, as Keras draws, has none)."""
    n = w.size
    assert abs(w.mean()) < 5 * np.sqrt(var / n)
    assert abs(w.var() / var - 1) < 0.04
    beyond = np.mean(np.abs(w) > 2 * np.sqrt(var))
    assert abs(beyond - 0.0455) < 0.006, beyond


@pytest.mark.parametrize("shape, m", [(DENSE, 400), (CONV, 288)])
def test_xavier_is_normal_with_variance_one_over_fan_in(shape, m):
    _check_normal(_draw(Xavier(seed=7), shape), 1.0 / m)


@pytest.mark.parametrize("shape, m", [(DENSE, 400), (CONV, 288)])
def test_he_is_normal_with_variance_two_over_fan_in(shape, m):
    _check_normal(_draw(He(seed=7), shape), 2.0 / m)


@pytest.mark.parametrize("shape, m, n", [(DENSE, 400, 300), (CONV, 288, 576)])
def test_normalized_uniform_bound_and_variance(shape, m, n):
    w = _draw(NormalizedUniform(seed=7), shape)
    limit = np.sqrt(6.0 / (m + n))
    assert np.all(np.abs(w) <= limit)
    assert w.max() > 0.999 * limit and w.min() < -0.999 * limit  # the bound is reached
    assert abs(w.var() / (limit**2 / 3) - 1) < 0.04  # U(-a, a) has variance a^2 / 3
    assert abs(w.mean()) < 5 * np.sqrt(limit**2 / 3 / w.size)
    # ... and uniform: each tenth of [-a, a] holds a tenth of the draws (+-1%).
    hist, _ = np.histogram(w, bins=10, range=(-limit, limit))
    assert np.all(np.abs(hist / w.size - 0.1) < 0.01)


@pytest.mark.parametrize("cls", [Xavier, He, NormalizedUniform, SparseInit])
def test_seeded_initializers_repeat(cls):
    a = _draw(cls(seed=11), (40, 30))
    np.testing.assert_array_equal(a, _draw(cls(seed=11), (40, 30)))
    init = cls(seed=11)
    np.testing.assert_array_equal(_draw(init, (40, 30)), _draw(init, (40, 30)))
    assert not np.array_equal(a, _draw(cls(seed=12), (40, 30)))
    clone = cls.from_config(cls(seed=11).get_config())
    np.testing.assert_array_equal(a, _draw(clone, (40, 30)))


def test_sparse_init_exactly_k_per_unit_at_random_positions():
    w = _draw(SparseInit(k=15, stddev=0.7, seed=3), DENSE)
    nonzero = w != 0
    np.testing.assert_array_equal(nonzero.sum(axis=0), np.full(300, 15))
    # positions differ between units: every unit has its own support
    assert len({tuple(np.flatnonzero(col)) for col in nonzero.T}) == 300
    # and are spread over all inputs: each half of the rows holds half the
    # nonzeros (4500 of them, +-3%, > 4 standard errors)
    assert abs(nonzero[:200].sum() / nonzero.sum() - 0.5) < 0.03
    values = w[nonzero]
    assert abs(values.std() / 0.7 - 1) < 0.05  # 4500 draws: 1.1% standard error
    assert abs(values.mean()) < 5 * 0.7 / np.sqrt(values.size)


def test_sparse_init_conv_counts_per_output_channel():
    w = _draw(SparseInit(k=5, stddev=1.3, seed=4), (3, 3, 8, 16))
    per_channel = (w.reshape(-1, 16) != 0).sum(axis=0)
    np.testing.assert_array_equal(per_channel, np.full(16, 5))
    w = _draw(SparseInit(k=72, seed=4), (3, 3, 8, 16))  # k = fan-in: dense
    assert np.all(w != 0)


def test_sparse_init_k_larger_than_fan_in_names_k():
    with pytest.raises(ValueError, match="`k`.*fan-in.*72"):
        SparseInit(k=73)((3, 3, 8, 16))
    with pytest.raises(ValueError, match="`k`"):
        SparseInit(k=0)
    with pytest.raises(ValueError, match="`stddev`"):
        SparseInit(stddev=-0.3)


def _sub_variance(model, layer, x):
    sub = keras.Model(model.inputs[0], layer.output)
    return float(np.var(keras.ops.convert_to_numpy(sub(x, training=False))))


def test_lsuv_gives_unit_output_variance_per_layer():
    rng = np.random.default_rng(0)
    x = (3.0 * rng.normal(size=(256, 20)) + 0.7).astype("float32")
    model = keras.Sequential([
        keras.Input((20,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10),
    ])
    before = [_sub_variance(model, layer, x) for layer in model.layers]
    assert max(abs(v - 1) for v in before) > 0.3  # so the test can fail
    tol = 0.05
    report = lsuv_initialize(model, x, tol=tol, max_iter=10, seed=1)
    assert [r.layer for r in report] == [layer.name for layer in model.layers]
    for layer, r in zip(model.layers, report):
        v = _sub_variance(model, layer, x)
        assert abs(v - 1) < tol, (layer.name, v)
        assert r.converged and abs(r.variance - v) < 1e-4
    assert sum(r.iterations for r in report) >= 1
    # The pre-initialization is orthonormal, so after the rescaling the
    # columns of a kernel with m >= n stay orthogonal with equal norms.
    w = np.asarray(model.layers[1].kernel, dtype="float64")
    gram = w.T @ w
    np.testing.assert_allclose(gram / gram[0, 0], np.eye(32), atol=1e-4)


def test_lsuv_functional_conv_model():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(64, 8, 8, 3)).astype("float32")
    inputs = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(inputs)
    h = keras.layers.Flatten()(h)
    outputs = keras.layers.Dense(5, name="head")(h)
    model = keras.Model(inputs, outputs)
    report = lsuv_initialize(model, x, tol=0.1)
    assert [r.layer for r in report] == ["conv", "head"]
    for name in ("conv", "head"):
        assert abs(_sub_variance(model, model.get_layer(name), x) - 1) < 0.1


def test_lsuv_rejects_bad_arguments():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    x = np.ones((4, 3), "float32")
    for kwargs, name in [({"tol": 0}, "tol"), ({"max_iter": 0}, "max_iter"), ({"seed": -1}, "seed")]:
        with pytest.raises(ValueError, match=name):
            lsuv_initialize(model, x, **kwargs)
