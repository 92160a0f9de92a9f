"""Every kerasreg optimizer against a numpy reference written from its formula.

The references below are transcribed from the docstrings' update rules (in
float64), not from the implementations; each runs >= 5 steps with odd
hyperparameters on two small problems, compared at float32 tolerance.
"""

import keras
import numpy as np
import pytest

from kerasreg import optimizers
from kerasreg.testing.test_case import optimizer_trajectory

pytestmark = pytest.mark.jax_pass

STEPS = 7
RTOL, ATOL = 2e-5, 2e-6


# --- the two problems: initial weights and a numpy gradient -----------------

def quadratic():
    """f(w) = 1/2 w^T A w - b^T w, condition number ~ 60."""
    a = np.array([[7.3, 0.9], [0.9, 0.31]])
    b = np.array([0.3, -0.7])
    return [np.array([1.3, -0.7])], lambda ws: [a @ ws[0] - b]


def least_squares():
    """1/(2n) ||X K + c - Y||^2 with a (3, 2) kernel and a (2,) bias."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(9, 3))
    y = rng.normal(size=(9, 2))

    def grad(ws):
        k, c = (np.asarray(w, np.float64) for w in ws)
        r = (x @ k + c - y) / len(x)
        return [x.T @ r, r.sum(0)]

    return [rng.normal(size=(3, 2)), np.array([0.37, -0.21])], grad


PROBLEMS = {"quadratic": quadratic, "least_squares": least_squares}


# --- numpy references, one per docstring --------------------------------------

def run_reference(update, initial, grad_fn, steps, weight_decay=None, lr=None):
    """Apply ``update(t, g, w, state) -> w`` to each weight for ``steps`` steps.

    ``weight_decay``: Keras' decoupled decay, ``w <- w - w * wd * lr`` before
    each update, with the gradient taken before the decay.
    """
    ws = [np.array(w, np.float64) for w in initial]
    states = [dict() for _ in ws]
    history = [[w.copy() for w in ws]]
    for t in range(1, steps + 1):
        gs = grad_fn(ws)
        if weight_decay is not None:
            ws = [w - w * weight_decay * lr for w in ws]
        ws = [update(t, np.asarray(g, np.float64), w, s) for g, w, s in zip(gs, ws, states)]
        history.append([w.copy() for w in ws])
    return history


def momentum_rule(lr, alpha, d):
    def update(t, g, w, s):
        s["v"] = alpha * s.get("v", 0.0) + (1 - d) * g
        return w - lr * s["v"]

    return update


def adagrad_rule(lr, delta, r0):
    def update(t, g, w, s):
        s["r"] = s.get("r", r0) + g**2
        return w - lr / (delta + np.sqrt(s["r"])) * g

    return update


def rmsprop_rule(lr, rho, delta):
    def update(t, g, w, s):
        s["r"] = rho * s.get("r", 0.0) + (1 - rho) * g**2
        return w - lr / (delta + np.sqrt(s["r"])) * g

    return update


def adam_rule(lr, b1, b2, delta):
    def update(t, g, w, s):
        s["v"] = b1 * s.get("v", 0.0) + (1 - b1) * g
        s["r"] = b2 * s.get("r", 0.0) + (1 - b2) * g**2
        v_hat = s["v"] / (1 - b1**t)
        r_hat = s["r"] / (1 - b2**t)
        return w - lr * v_hat / (delta + np.sqrt(r_hat))

    return update


def sgd_rule(lr):
    return lambda t, g, w, s: w - lr * g


# (kerasreg optimizer, matching reference rule); odd hyperparameters.
CASES = {
    "SGD": (lambda: optimizers.SGD(0.037), sgd_rule(0.037)),
    "Momentum_lecture": (lambda: optimizers.Momentum(0.037, momentum=0.7), momentum_rule(0.037, 0.7, 0.7)),
    "Momentum_heavy_ball": (
        lambda: optimizers.Momentum(0.037, momentum=0.7, dampening=0.0),
        momentum_rule(0.037, 0.7, 0.0),
    ),
    "Momentum_d0.3": (
        lambda: optimizers.Momentum(0.037, momentum=0.7, dampening=0.3),
        momentum_rule(0.037, 0.7, 0.3),
    ),
    "AdaGrad": (
        lambda: optimizers.AdaGrad(0.3, epsilon=0.07, initial_accumulator_value=0.0),
        adagrad_rule(0.3, 0.07, 0.0),
    ),
    "AdaGrad_r0": (
        lambda: optimizers.AdaGrad(0.3, epsilon=0.07, initial_accumulator_value=0.37),
        adagrad_rule(0.3, 0.07, 0.37),
    ),
    "RMSProp": (lambda: optimizers.RMSProp(0.037, rho=0.7, epsilon=0.03), rmsprop_rule(0.037, 0.7, 0.03)),
    "Adam": (
        lambda: optimizers.Adam(0.037, beta_1=0.7, beta_2=0.9, epsilon=0.03),
        adam_rule(0.037, 0.7, 0.9, 0.03),
    ),
    "Adam_small_eps": (
        lambda: optimizers.Adam(0.037, beta_1=0.7, beta_2=0.9, epsilon=1e-8),
        adam_rule(0.037, 0.7, 0.9, 1e-8),
    ),
}


def assert_trajectories_close(got, want, rtol=RTOL, atol=ATOL):
    assert len(got) == len(want)
    for step, (g_ws, w_ws) in enumerate(zip(got, want)):
        for g, w in zip(g_ws, w_ws):
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"step {step}")


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_numpy_reference(name, problem):
    make, rule = CASES[name]
    initial, grad_fn = PROBLEMS[problem]()
    got = optimizer_trajectory(make(), initial, grad_fn, STEPS)
    want = run_reference(rule, initial, grad_fn, STEPS)
    assert_trajectories_close(got, want)
    # The problem is non-trivial: the weights moved.
    assert not np.allclose(want[-1][0], want[0][0])


# --- Nesterov: the gradient is taken at the interim point ------------------------

def nesterov_reference(lr, alpha, initial, grad_fn, steps, weight_decay=None):
    """Algorithm 8.3, literally: returns (thetas, interim points)."""
    theta = [np.array(w, np.float64) for w in initial]
    v = [np.zeros_like(w) for w in theta]
    thetas, interims = [[w.copy() for w in theta]], [[w.copy() for w in theta]]
    for _ in range(steps):
        interim = [w + alpha * vi for w, vi in zip(theta, v)]
        g = grad_fn(interim)  # the gradient AT the interim point
        if weight_decay is not None:  # Keras decays the held variable, theta~
            shrink = [weight_decay * lr * p for p in interim]
            theta = [w - s for w, s in zip(theta, shrink)]
        v = [alpha * vi - lr * gi for vi, gi in zip(v, g)]
        theta = [w + vi for w, vi in zip(theta, v)]
        thetas.append([w.copy() for w in theta])
        interims.append([w + alpha * vi for w, vi in zip(theta, v)])
    return thetas, interims


def nesterov_run(optimizer, initial, grad_fn, steps):
    """Like optimizer_trajectory, keeping the variables to finalize them."""
    variables = [keras.Variable(np.array(w, "float32")) for w in initial]
    held = [[np.array(v) for v in variables]]
    for _ in range(steps):
        grads = grad_fn([np.array(v) for v in variables])
        optimizer.apply([keras.ops.convert_to_tensor(np.asarray(g, "float32")) for g in grads], variables)
        held.append([np.array(v) for v in variables])
    optimizer.finalize_variable_values(variables)
    return held, [np.array(v) for v in variables]


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_nesterov_gradient_at_interim_point(problem):
    initial, grad_fn = PROBLEMS[problem]()
    held, final = nesterov_run(optimizers.Nesterov(0.037, momentum=0.7), initial, grad_fn, STEPS)
    thetas, interims = nesterov_reference(0.037, 0.7, initial, grad_fn, STEPS)
    # The variables (where grad_fn is evaluated) are the interim points ...
    assert_trajectories_close(held, interims)
    # ... and finalize_variable_values leaves theta.
    for got, want in zip(final, thetas[-1]):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    assert not np.allclose(thetas[-1][0], interims[-1][0], atol=1e-3)


def test_nesterov_weight_decay_acts_on_held_variable():
    initial, grad_fn = least_squares()
    opt = optimizers.Nesterov(0.037, momentum=0.7, weight_decay=0.3)
    held, final = nesterov_run(opt, initial, grad_fn, STEPS)
    thetas, interims = nesterov_reference(0.037, 0.7, initial, grad_fn, STEPS, weight_decay=0.3)
    assert_trajectories_close(held, interims)
    for got, want in zip(final, thetas[-1]):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def test_nesterov_gradient_accumulation():
    """Accumulated micro-batch gradients are all taken at the same interim
    point; every 3rd call updates with their mean (Keras' semantics)."""
    initial, grad_fn = least_squares()
    opt = optimizers.Nesterov(0.037, momentum=0.7, gradient_accumulation_steps=3)
    held, final = nesterov_run(opt, initial, grad_fn, 9)
    _, interims = nesterov_reference(0.037, 0.7, initial, grad_fn, 3)
    # The held variables change only on every 3rd call.
    want = [interims[(call // 3)] for call in range(10)]
    assert_trajectories_close(held, want)
    thetas, _ = nesterov_reference(0.037, 0.7, initial, grad_fn, 3)
    for got, w in zip(final, thetas[-1]):
        np.testing.assert_allclose(got, w, rtol=RTOL, atol=ATOL)


# --- the Keras base keyword arguments --------------------------------------------

@pytest.mark.parametrize("name", ["Momentum_lecture", "AdaGrad", "RMSProp", "Adam"])
def test_weight_decay_as_keras(name):
    """Keras' decoupled decay: w <- w - w * wd * lr before each update."""
    make, rule = CASES[name]
    opt = make()
    lr = float(opt.learning_rate)
    opt = opt.from_config({**opt.get_config(), "weight_decay": 0.3})
    initial, grad_fn = least_squares()
    got = optimizer_trajectory(opt, initial, grad_fn, STEPS)
    want = run_reference(rule, initial, grad_fn, STEPS, weight_decay=0.3, lr=lr)
    assert_trajectories_close(got, want)


def _accumulated_reference(rule, initial, grad_fn, steps, k):
    """Keras' gradient accumulation: every k-th call updates with the mean of
    the k gradients; the step count t of the rule counts updates."""
    ws = [np.array(w, np.float64) for w in initial]
    states = [dict() for _ in ws]
    acc = [np.zeros_like(w) for w in ws]
    history = [[w.copy() for w in ws]]
    for call in range(1, steps + 1):
        acc = [a + g for a, g in zip(acc, grad_fn(ws))]
        if call % k == 0:
            t = call // k
            ws = [rule(t, a / k, w, s) for a, w, s in zip(acc, ws, states)]
            acc = [np.zeros_like(w) for w in ws]
        history.append([w.copy() for w in ws])
    return history


@pytest.mark.parametrize("name", ["Momentum_lecture", "AdaGrad", "RMSProp", "Adam"])
def test_gradient_accumulation_as_keras(name):
    make, rule = CASES[name]
    opt = make()
    opt = opt.from_config({**opt.get_config(), "gradient_accumulation_steps": 3})
    initial, grad_fn = least_squares()
    got = optimizer_trajectory(opt, initial, grad_fn, 12)
    want = _accumulated_reference(rule, initial, grad_fn, 12, 3)
    assert_trajectories_close(got, want)


BASE_KWARGS = {
    "weight_decay": {"weight_decay": 0.3},
    "accumulation": {"gradient_accumulation_steps": 3},
    "ema": {"use_ema": True, "ema_momentum": 0.7},
    "clipnorm": {"clipnorm": 0.05},
    "global_clipnorm": {"global_clipnorm": 0.05},
    "clipvalue": {"clipvalue": 0.02},
    "loss_scale_factor": {"loss_scale_factor": 37.0},
}


@pytest.mark.parametrize("kw", sorted(BASE_KWARGS))
def test_heavy_ball_equals_keras_sgd_momentum_under_base_kwargs(kw):
    """Momentum(dampening=0) with a constant rate is Keras' SGD(momentum): the
    base keyword arguments must act on both identically, including what
    finalize_variable_values does at the end of fit (the EMA overwrite)."""
    initial, grad_fn = least_squares()
    results = []
    for opt in (
        optimizers.Momentum(0.037, momentum=0.7, dampening=0.0, **BASE_KWARGS[kw]),
        keras.optimizers.SGD(0.037, momentum=0.7, **BASE_KWARGS[kw]),
    ):
        variables = [keras.Variable(np.array(w, "float32")) for w in initial]
        for _ in range(9):
            grads = grad_fn([np.array(v) for v in variables])
            # as fit would pass them: gradients of the scaled loss
            scale = BASE_KWARGS[kw].get("loss_scale_factor", 1.0)
            opt.apply([keras.ops.convert_to_tensor(np.asarray(g * scale, "float32")) for g in grads], variables)
        opt.finalize_variable_values(variables)
        results.append([np.array(v) for v in variables])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(results[0][0], initial[0])


@pytest.mark.parametrize("name", ["Momentum", "Nesterov", "AdaGrad", "RMSProp", "Adam", "SGD"])
def test_compile_by_name(name):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=f"kerasreg>{name}", loss="mse")
    assert type(model.optimizer) is getattr(optimizers, name)
