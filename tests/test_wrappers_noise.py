"""GradientNoise: the measured noise follows sigma_t^2 = eta / (1 + t)^gamma."""

import keras
import numpy as np
import pytest

from kerasreg.optimizers import SGD, GradientNoise

pytestmark = pytest.mark.jax_pass

N = 40_000  # elements: the sample std has relative error ~ 1/sqrt(2N) = 0.35%


def sigma(t, eta, gamma):
    return np.sqrt(eta / (1.0 + t) ** gamma)


def noise_samples(eta, gamma, steps, seed=11):
    """With a zero gradient and SGD(1), each step moves the weights by -noise."""
    opt = GradientNoise(SGD(1.0), eta=eta, gamma=gamma, seed=seed)
    var = keras.Variable(np.zeros((N,), "float32"))
    zero = keras.ops.zeros((N,))
    out, prev = [], np.zeros((N,))
    for _ in range(steps):
        opt.apply([zero], [var])
        now = np.array(var, dtype="float64")
        out.append(prev - now)
        prev = now
    return out


def test_std_mean_and_decay_match_the_formula():
    eta, gamma = 0.3, 0.55
    samples = noise_samples(eta, gamma, steps=9)
    for t in (0, 1, 4, 8):
        s = samples[t]
        want = sigma(t, eta, gamma)
        # 3% is ~8 standard errors of the sample std; 5 standard errors for the mean.
        assert abs(s.std() / want - 1.0) < 0.03, (t, s.std(), want)
        assert abs(s.mean()) < 5 * want / np.sqrt(N), (t, s.mean())
    ratio = samples[8].std() / samples[0].std()
    np.testing.assert_allclose(ratio, (1 + 8) ** (-gamma / 2), rtol=0.03)


def test_gamma_zero_is_constant_noise_and_steps_are_independent():
    samples = noise_samples(0.7, 0.0, steps=5)
    for s in samples:
        assert abs(s.std() / np.sqrt(0.7) - 1.0) < 0.03
    corr = np.corrcoef(samples[0], samples[1])[0, 1]
    assert abs(corr) < 0.03  # fresh draws each step


def test_seed_reproducible():
    a = noise_samples(0.3, 0.55, 2, seed=5)
    b = noise_samples(0.3, 0.55, 2, seed=5)
    c = noise_samples(0.3, 0.55, 2, seed=6)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[1], c[1])


def test_noise_added_to_the_gradient():
    """Noise is added on top of the gradient: the mean step is -lr * g."""
    opt = GradientNoise(SGD(0.5), eta=0.01, gamma=0.55, seed=2)
    var = keras.Variable(np.zeros((N,), "float32"))
    opt.apply([keras.ops.full((N,), 0.3)], [var])
    step = -np.array(var, dtype="float64")
    np.testing.assert_allclose(step.mean(), 0.5 * 0.3, atol=5 * 0.5 * 0.1 / np.sqrt(N))
    np.testing.assert_allclose(step.std(), 0.5 * 0.1, rtol=0.03)


def test_stddev_method():
    opt = GradientNoise(SGD(0.1), eta=0.3, gamma=0.55)
    np.testing.assert_allclose(float(opt.stddev(7)), sigma(7, 0.3, 0.55), rtol=1e-6)
