"""Ball projections: inside the ball, idempotent, the nearest point."""

import keras
import numpy as np
import pytest

from kerasreg.constraints import L1Ball, L2Ball

pytestmark = pytest.mark.jax_pass


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x), dtype="float64")


def _l1_project_bisection(v, r):
    """Reference written from the optimality condition, not the sort: the
    projection is sign(v) max(|v| - theta, 0) with theta = 0 inside the ball,
    else the theta solving sum max(|v| - theta, 0) = r (found by bisection)."""
    v = np.asarray(v, "float64")
    a = np.abs(v)
    if a.sum() <= r:
        return v.copy()
    lo, hi = 0.0, a.max()
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if np.maximum(a - mid, 0).sum() > r:
            lo = mid
        else:
            hi = mid
    return np.sign(v) * np.maximum(a - 0.5 * (lo + hi), 0)


def _rows(w, axis):
    """The vectors each ball acts on, as rows (axis = reduction axes)."""
    axes = tuple(range(w.ndim)) if axis is None else tuple(int(a) % w.ndim for a in np.atleast_1d(axis))
    kept = tuple(a for a in range(w.ndim) if a not in axes)
    return np.transpose(w, kept + axes).reshape(-1, int(np.prod([w.shape[a] for a in axes])))


RNG = np.random.default_rng(9)


@pytest.mark.parametrize("shape, axis", [((7, 5), None), ((7, 5), 0), ((3, 3, 4, 6), [0, 1, 2]), ((7, 5), 1)])
def test_l2_ball_closed_form_inside_idempotent(shape, axis):
    w = (1.7 * RNG.normal(size=shape)).astype("float32")
    k = 1.3
    p = _np(L2Ball(k, axis=axis)(w))
    rows_w, rows_p = _rows(w.astype("float64"), axis), _rows(p, axis)
    norms = np.linalg.norm(rows_w, axis=1, keepdims=True)
    assert np.any(norms > k)  # some unit outside, so the projection acts
    np.testing.assert_allclose(rows_p, np.where(norms > k, rows_w * k / norms, rows_w), rtol=1e-5, atol=1e-6)
    assert np.all(np.linalg.norm(rows_p, axis=1) <= k * (1 + 1e-6))
    np.testing.assert_allclose(_np(L2Ball(k, axis=axis)(p.astype("float32"))), p, rtol=1e-6, atol=1e-7)


def test_l2_ball_is_identity_inside_unlike_keras_maxnorm():
    w = np.array([[0.3, -0.2], [0.1, 0.7]], "float32")
    np.testing.assert_array_equal(_np(L2Ball(5.0)(w)), w.astype("float64"))
    np.testing.assert_array_equal(_np(L2Ball(0.9, axis=0)(np.zeros((3, 2), "float32"))), 0.0)


@pytest.mark.parametrize("shape, axis", [((40,), None), ((7, 5), None), ((9, 6), 0), ((3, 3, 4, 6), [0, 1, 2]),
                                         ((6, 9), -1)])
def test_l1_ball_matches_bisection_inside_idempotent(shape, axis):
    w = (1.7 * RNG.normal(size=shape)).astype("float32")
    r = 2.3
    p = _np(L1Ball(r, axis=axis)(w))
    rows_w, rows_p = _rows(w.astype("float64"), axis), _rows(p, axis)
    assert np.any(np.abs(rows_w).sum(axis=1) > r)
    reference = np.stack([_l1_project_bisection(row, r) for row in rows_w])
    np.testing.assert_allclose(rows_p, reference, atol=2e-6)
    assert np.all(np.abs(rows_p).sum(axis=1) <= r * (1 + 1e-5))
    assert np.mean(rows_p == 0) > 0.2  # the L1 projection zeroes small weights
    np.testing.assert_allclose(_np(L1Ball(r, axis=axis)(p.astype("float32"))), p, atol=2e-6)


def test_l1_ball_no_point_of_the_ball_is_nearer():
    v = (1.3 * RNG.normal(size=8)).astype("float32")
    r = 1.1
    p = _np(L1Ball(r)(v))
    best = np.linalg.norm(p - v)
    # random points of the ball: random signs and L1 masses on the sphere and inside,
    # plus random perturbations of p pulled back into the ball
    for scale in (1.0, 0.9, 0.5):
        pts = RNG.laplace(size=(20000, 8))
        pts *= scale * r / np.abs(pts).sum(axis=1, keepdims=True)
        assert np.linalg.norm(pts - v, axis=1).min() >= best - 1e-6
    near = p + 0.05 * RNG.normal(size=(20000, 8))
    norms = np.abs(near).sum(axis=1, keepdims=True)
    near = np.where(norms > r, near * r / norms, near)
    assert np.linalg.norm(near - v, axis=1).min() >= best - 1e-6


def test_l1_ball_edge_cases():
    inside = np.array([0.3, -0.2, 0.1], "float32")
    np.testing.assert_array_equal(_np(L1Ball(1.0)(inside)), inside.astype("float64"))
    np.testing.assert_array_equal(_np(L1Ball(1.0)(np.zeros((2, 3), "float32"))), 0.0)
    ties = np.array([2.0, -2.0, 2.0, 0.5], "float32")  # equal magnitudes share the mass
    np.testing.assert_allclose(_np(L1Ball(1.5)(ties)), [0.5, -0.5, 0.5, 0.0], atol=1e-6)


def _pgd_reference(w, target, lr, steps, project):
    out = [w]
    for _ in range(steps):
        w = project(w - lr * (w - target))
        out.append(w)
    return out


@pytest.mark.parametrize("constraint, project", [
    (L1Ball(1.3, axis=0), lambda w: np.stack([_l1_project_bisection(c, 1.3) for c in w.T], axis=1)),
    (L2Ball(0.7, axis=0), lambda w: w * np.minimum(1, 0.7 / np.linalg.norm(w, axis=0, keepdims=True))),
], ids=["l1", "l2"])
def test_projected_gradient_descent_trajectory(constraint, project):
    """SGD on 1/2 ||W - T||^2 with the constraint equals W <- P(W - lr (W - T))."""
    w0 = (0.3 * RNG.normal(size=(5, 3))).astype("float32")
    target = (2.0 * RNG.normal(size=(5, 3))).astype("float32")
    variable = keras.Variable(w0)
    variable.constraint = constraint  # as Layer.add_weight(constraint=...) does
    optimizer = keras.optimizers.SGD(0.3)
    reference = _pgd_reference(w0.astype("float64"), target, 0.3, 7, project)
    for step in range(1, 8):
        grad = keras.ops.convert_to_tensor(np.asarray(variable) - target)
        optimizer.apply([grad], [variable])
        np.testing.assert_allclose(np.asarray(variable), reference[step], atol=1e-5, err_msg=f"step {step}")


@pytest.mark.parametrize("make, arg", [
    (lambda: L2Ball(0), "max_norm"), (lambda: L2Ball(-1.3), "max_norm"), (lambda: L2Ball(1.0, axis="x"), "axis"),
    (lambda: L1Ball(0), "radius"), (lambda: L1Ball(-0.3), "radius"), (lambda: L1Ball(1.0, axis=[1, 1]), "axis"),
])
def test_bad_arguments(make, arg):
    with pytest.raises(ValueError, match=f"`{arg}`"):
        make()
    with pytest.raises(ValueError, match="`axis`"):
        L1Ball(1.0, axis=2)(np.ones((3, 2), "float32"))
