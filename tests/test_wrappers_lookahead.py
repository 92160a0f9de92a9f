"""Lookahead against a numpy reference of Zhang et al. (2019), Algorithm 1."""

import keras
import numpy as np
import pytest

from kerasreg.optimizers import SGD, Lookahead
from kerasreg.testing import optimizer_trajectory

pytestmark = pytest.mark.jax_pass

RNG = np.random.default_rng(7)
INITIAL = [RNG.normal(size=(3, 2)).astype("float32"), RNG.normal(size=(2,)).astype("float32")]
TARGET = [RNG.normal(size=(3, 2)).astype("float32"), RNG.normal(size=(2,)).astype("float32")]


def grad_fn(ws):
    return [1.3 * (w - t) + 0.7 * np.sin(2.0 * w) for w, t in zip(ws, TARGET)]


def reference(k, alpha, steps, lr, momentum):
    """phi_0 = theta_0; k inner steps (Keras' SGD with momentum:
    m <- mu*m - lr*g, theta <- theta + m); phi <- phi + alpha*(theta - phi);
    theta <- phi."""
    theta = [w.astype("float64") for w in INITIAL]
    phi = [w.copy() for w in theta]
    m = [np.zeros_like(w) for w in theta]
    out = [[w.copy() for w in theta]]
    for step in range(1, steps + 1):
        g = grad_fn(theta)
        m = [momentum * mi - lr * gi for mi, gi in zip(m, g)]
        theta = [w + mi for w, mi in zip(theta, m)]
        if step % k == 0:
            phi = [p + alpha * (w - p) for p, w in zip(phi, theta)]
            theta = [p.copy() for p in phi]
        out.append([w.copy() for w in theta])
    return out


@pytest.mark.parametrize("k, alpha", [(3, 0.7), (1, 0.3), (4, 1.0)])
def test_matches_numpy_reference(k, alpha):
    steps = 11  # >= 2 full sync periods for every k, and a partial one
    opt = Lookahead(keras.optimizers.SGD(0.07, momentum=0.7), sync_period=k, slow_step_size=alpha)
    history = optimizer_trajectory(opt, INITIAL, grad_fn, steps)
    want = reference(k, alpha, steps, 0.07, 0.7)
    for t in range(steps + 1):
        for got, w in zip(history[t], want[t]):
            np.testing.assert_allclose(got, w, rtol=2e-5, atol=2e-6, err_msg=f"step {t}")


def test_differs_from_inner_alone():
    """A test that can fail: with alpha < 1 the trajectory is not the inner's."""
    la = optimizer_trajectory(Lookahead(SGD(0.07), sync_period=3, slow_step_size=0.7), INITIAL, grad_fn, 6)
    plain = optimizer_trajectory(SGD(0.07), INITIAL, grad_fn, 6)
    assert not np.allclose(la[-1][0], plain[-1][0])
    np.testing.assert_allclose(la[2][0], plain[2][0], rtol=1e-6)  # before the first sync


def test_slow_weights_are_optimizer_state():
    opt = Lookahead(SGD(0.07), sync_period=3, slow_step_size=0.7)
    optimizer_trajectory(opt, INITIAL, grad_fn, 4)
    paths = [v.path for v in opt.variables]
    assert sum("slow" in p for p in paths) == 2
    # After 4 steps (one sync at step 3) the slow weights hold phi_1.
    want = reference(3, 0.7, 3, 0.07, 0.0)[3]
    np.testing.assert_allclose(np.array(opt.slow_weights[0]), want[0], rtol=2e-5, atol=2e-6)


def test_periods_count_inner_updates_with_gradient_accumulation():
    """With the inner optimizer accumulating 2 micro-batches per update,
    Lookahead(k=2) syncs every 4 calls, i.e. after every 2 real updates."""
    plain = Lookahead(keras.optimizers.SGD(0.07), sync_period=2, slow_step_size=0.7)
    # The same gradient twice per update: accumulation's mean equals it.
    variables = [keras.Variable(w) for w in INITIAL]
    ref_vars = [keras.Variable(w) for w in INITIAL]
    acc = Lookahead(keras.optimizers.SGD(0.07, gradient_accumulation_steps=2), sync_period=2,
                    slow_step_size=0.7)
    for _ in range(4):
        g = [keras.ops.convert_to_tensor(x) for x in grad_fn([np.array(v) for v in ref_vars])]
        acc.apply(g, variables)
        acc.apply(g, variables)
        plain.apply(g, ref_vars)
        for a, b in zip(variables, ref_vars):
            np.testing.assert_allclose(np.array(a), np.array(b), rtol=2e-5, atol=2e-6)
