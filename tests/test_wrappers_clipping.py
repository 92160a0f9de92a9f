"""GradientClipping: every mode against a numpy reference written from the
docstring's formulas (AGC from Brock et al. 2021, AutoClip from Seetharaman
et al. 2020), over 7 steps of plain SGD on a quadratic."""

import keras
import numpy as np
import pytest

from kerasreg.optimizers import SGD, GradientClipping
from kerasreg.testing import optimizer_trajectory

pytestmark = pytest.mark.jax_pass

LR = 0.7
STEPS = 7
RNG = np.random.default_rng(3)
INITIAL = [RNG.normal(size=(3, 2)).astype("float32") * 0.85, RNG.normal(size=(2,)).astype("float32") * 0.35]
TARGET = [RNG.normal(size=(3, 2)).astype("float32"), RNG.normal(size=(2,)).astype("float32")]
CURV = [np.array([[1.3], [0.7], [2.1]], "float32"), np.array([0.9, 1.7], "float32")]


def grad_fn(ws):
    """A non-convex problem whose gradient norm goes up and down."""
    return [c * (w - t) + 0.9 * np.sin(3.0 * w) for c, w, t in zip(CURV, ws, TARGET)]


def _norm(x):
    return float(np.sqrt(np.sum(np.square(x, dtype="float64"))))


def clip_global(gs, u):
    n = np.sqrt(sum(np.sum(np.square(g, dtype="float64")) for g in gs))
    return ([g * (u / n) for g in gs], True) if n > u else (gs, False)


def clip_norm(gs, u):
    out = [g * (u / _norm(g)) if _norm(g) > u else g for g in gs]
    return out, any(_norm(g) > u for g in gs)


def clip_value(gs, u):
    return [np.clip(g, -u, u) for g in gs], any(np.any(np.abs(g) > u) for g in gs)


def clip_agc(gs, ws, lam, eps):
    """Brock et al. (2021), eq. 3, per unit i (column of an (in, out) kernel)."""
    out, clipped = [], False
    for g, w in zip(gs, ws):
        g = g.astype("float64").copy()
        units = [(slice(None), j) for j in range(g.shape[1])] if g.ndim == 2 else [slice(None)]
        for idx in units:
            w_norm = max(_norm(w[idx]), eps)
            ratio = _norm(g[idx]) / w_norm
            if ratio > lam:
                g[idx] = lam * w_norm / _norm(g[idx]) * g[idx]
                clipped = True
        out.append(g)
    return out, clipped


def reference(clip, steps=STEPS):
    ws = [w.astype("float64") for w in INITIAL]
    norms, flags = [], []
    for _ in range(steps):
        gs = grad_fn(ws)
        norms.append(np.sqrt(sum(np.sum(np.square(g)) for g in gs)))
        gs, did = clip(gs, ws, norms)
        flags.append(did)
        ws = [w - LR * g for w, g in zip(ws, gs)]
    return ws, norms, flags


CASES = {
    "global_norm": (dict(threshold=3.1), lambda gs, ws, hist: clip_global(gs, 3.1)),
    "norm": (dict(threshold=3.3), lambda gs, ws, hist: clip_norm(gs, 3.3)),
    "value": (dict(threshold=2.3), lambda gs, ws, hist: clip_value(gs, 2.3)),
    "agc": (dict(threshold=1.1, epsilon=0.03), lambda gs, ws, hist: clip_agc(gs, ws, 1.1, 0.03)),
    # AutoClip: u = p-th percentile of all norms seen so far, current included.
    "percentile": (dict(percentile=30.0),
                   lambda gs, ws, hist: clip_global(gs, np.percentile(hist, 30.0))),
    # A window of 3 norms (the ring buffer's departure from the paper).
    "percentile_window": (dict(mode="percentile", percentile=70.0, history_size=3),
                          lambda gs, ws, hist: clip_global(gs, np.percentile(hist[-3:], 70.0))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_numpy_reference(name):
    kwargs, clip = CASES[name]
    kwargs = {"mode": name, **kwargs}
    opt = GradientClipping(SGD(LR), **kwargs)
    history = optimizer_trajectory(opt, INITIAL, grad_fn, STEPS)
    ws, norms, flags = reference(clip)
    for got, want in zip(history[-1], ws):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    # The reference really clips on some steps and not on others.
    assert 0 < sum(flags), flags
    assert int(opt.clip_count) == sum(flags)
    assert float(opt.clipped) == float(flags[-1])
    np.testing.assert_allclose(float(opt.global_norm), norms[-1], rtol=1e-5)
    assert int(opt.skipped_steps) == 0 and int(opt.first_nonfinite) == -1


def test_some_steps_unclipped():
    """The global-norm problem is built so the later, smaller gradients pass."""
    _, _, flags = reference(CASES["global_norm"][1])
    assert flags[0] and not flags[-1]


def test_wraps_keras_optimizer_with_its_weight_decay():
    """The inner optimizer's base arguments keep working: Keras' SGD with
    weight decay (w <- w - lr*wd*w, then w <- w - lr*g') inside the wrapper."""
    wd = 0.07
    opt = GradientClipping(keras.optimizers.SGD(LR, weight_decay=wd), threshold=3.1)
    history = optimizer_trajectory(opt, INITIAL, grad_fn, STEPS)
    ws = [w.astype("float64") for w in INITIAL]
    for _ in range(STEPS):
        gs, _ = clip_global(grad_fn(ws), 3.1)
        ws = [w - LR * wd * w for w in ws]
        ws = [w - LR * g for w, g in zip(ws, gs)]
    for got, want in zip(history[-1], ws):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


def test_loss_scale_factor_of_inner_is_undone_before_clipping():
    """With the inner ``loss_scale_factor`` the trainer scales the loss; the
    norm compared with the threshold is that of the true gradient."""
    scale = 8.0
    opt = GradientClipping(SGD(LR, loss_scale_factor=scale), threshold=3.1)
    ws, _, _ = reference(CASES["global_norm"][1])
    history = optimizer_trajectory(opt, INITIAL, lambda w: [g * scale for g in grad_fn(w)], STEPS)
    for got, want in zip(history[-1], ws):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


def test_config_keeps_inner_and_arguments():
    opt = GradientClipping(keras.optimizers.Adam(0.003), mode="agc", threshold=0.07, epsilon=0.003)
    clone = GradientClipping.from_config(opt.get_config())
    assert isinstance(clone.optimizer, keras.optimizers.Adam)
    assert clone.optimizer.get_config()["learning_rate"] == pytest.approx(0.003)
    assert (clone.mode, clone.threshold, clone.epsilon) == ("agc", 0.07, 0.003)


@pytest.mark.parametrize("bad, arg", [
    ({"threshold": 0}, "threshold"), ({"threshold": -0.3}, "threshold"),
    ({"mode": "l2"}, "mode"), ({"percentile": 0}, "percentile"), ({"percentile": 100.1}, "percentile"),
    ({"global_clipnorm": 1.0}, "global_clipnorm"),
])
def test_bad_arguments(bad, arg):
    with pytest.raises(ValueError, match=arg):
        GradientClipping(SGD(0.1), **bad)
