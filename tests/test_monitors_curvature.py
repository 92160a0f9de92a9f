"""CurvatureMonitor against numpy's eigvalsh of the full Hessian, built
independently by finite differences of a numpy re-implementation of the loss."""

import keras
import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

from kerasreg.callbacks import CurvatureMonitor
from kerasreg.callbacks.curvature_monitor import lanczos_program

pytestmark = pytest.mark.jax_pass


def read_scalars(run_dir):
    acc = event_accumulator.EventAccumulator(run_dir, size_guidance={"tensors": 0})
    acc.Reload()
    return {tag: {e.step: float(tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)}
            for tag in acc.Tags()["tensors"]}


def small_problem(seed=3):
    """3 -> 5 (tanh) -> 1 with MSE and an L2 penalty: 26 parameters, an
    indefinite Hessian away from a minimum."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")
    model = keras.Sequential([
        keras.Input((3,)),
        keras.layers.Dense(5, activation="tanh", kernel_regularizer=keras.regularizers.L2(0.03)),
        keras.layers.Dense(1),
    ])
    model.compile(keras.optimizers.SGD(0.1), loss="mse")
    return model, x, y


def numpy_hessian_eigenvalues(model, x, y, h=1e-4):
    """eigvalsh of the Hessian of mean((tanh(x W1 + b1) W2 + b2 - y)^2) +
    0.03 ||W1||^2 by central second differences, in float64."""
    weights = [np.asarray(w, "float64") for w in model.get_weights()]
    shapes = [w.shape for w in weights]
    theta = np.concatenate([w.ravel() for w in weights])
    x, y = x.astype("float64"), y.astype("float64")

    def loss(t):
        parts, s = [], 0
        for shape in shapes:
            n = int(np.prod(shape))
            parts.append(t[s:s + n].reshape(shape))
            s += n
        w1, b1, w2, b2 = parts
        pred = np.tanh(x @ w1 + b1) @ w2 + b2
        return np.mean((pred - y) ** 2) + 0.03 * np.sum(w1 ** 2)

    p = len(theta)
    e = np.eye(p) * h
    hess = np.zeros((p, p))
    for i in range(p):
        for j in range(i, p):
            hess[i, j] = hess[j, i] = (
                loss(theta + e[i] + e[j]) - loss(theta + e[i] - e[j])
                - loss(theta - e[i] + e[j]) + loss(theta - e[i] - e[j])) / (4 * h * h)
    return np.linalg.eigvalsh(hess)


@pytest.mark.parametrize("method,iterations", [("lanczos", 20), ("lanczos", 26)])
def test_extremes_match_eigvalsh_within_one_percent(method, iterations):
    model, x, y = small_problem()
    eig = numpy_hessian_eigenvalues(model, x, y)
    assert eig[0] < 0 < eig[-1]  # a saddle-like point: both signs present
    monitor = CurvatureMonitor(x, y, iterations=iterations, method=method)
    monitor.set_model(model)
    lo, hi = monitor.estimate()
    scale = np.max(np.abs(eig))
    # 1% of the spectral radius (relative error of each end is also < 1%)
    assert abs(hi - eig[-1]) <= 0.01 * scale
    assert abs(lo - eig[0]) <= 0.01 * scale
    assert abs(hi - eig[-1]) <= 0.01 * abs(eig[-1])
    assert abs(lo - eig[0]) <= 0.01 * abs(eig[0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lanczos_keeps_the_basis_orthogonal_over_the_whole_space(seed):
    """n Lanczos steps on an n x n matrix span the whole space: the tridiagonal
    matrix then has exactly the matrix's eigenvalues, which only holds while
    the basis stays orthogonal (without reorthogonalization, float32 Lanczos
    on this spectrum, 1e-3 .. 1e3 and negatives, repeats converged values and
    misses others: the largest error is ~0.9 of the spectral radius)."""
    rng = np.random.default_rng(seed)
    n = 40
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    eig = np.sort(np.concatenate([-np.geomspace(1e-2, 1.0, 10), np.geomspace(1e-3, 1e3, n - 10)]))
    matrix = keras.ops.convert_to_tensor(((q * eig) @ q.T).astype("float32"))
    alphas, betas = lanczos_program(n)(lambda v: keras.ops.matmul(matrix, v),
                                       keras.ops.convert_to_tensor(rng.normal(size=n).astype("float32")))
    alphas = np.asarray(keras.ops.convert_to_numpy(alphas), "float64")
    betas = np.asarray(keras.ops.convert_to_numpy(betas), "float64")
    ritz = np.linalg.eigvalsh(np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1))
    np.testing.assert_allclose(ritz, eig, atol=1e-5 * 1e3)


def test_power_iteration_finds_the_sharpness():
    """Power iteration's largest end converges fast (well-separated top
    eigenvalue); its smallest end converges at the rate of the gap at the
    bottom of the spectrum (tested on the quadratic below)."""
    model, x, y = small_problem()
    eig = numpy_hessian_eigenvalues(model, x, y)
    monitor = CurvatureMonitor(x, y, iterations=300, method="power")
    monitor.set_model(model)
    _, hi = monitor.estimate()
    assert abs(hi - eig[-1]) <= 0.01 * abs(eig[-1])


def test_logged_every_n_epochs_tracks_training(tmp_path):
    model, x, y = small_problem(seed=5)
    seen = []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if (epoch + 1) % 2 == 0:
                seen.append((epoch, numpy_hessian_eigenvalues(self.model, x, y)))

    monitor = CurvatureMonitor(x, y, every_n_epochs=2, iterations=26, log_dir=tmp_path)
    history = model.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=[Snapshot(), monitor])
    scalars = read_scalars(str(tmp_path / "curvature"))
    assert sorted(scalars["curvature/lambda_max"]) == [1, 3]
    for epoch, eig in seen:
        scale = np.max(np.abs(eig))
        lo, hi = eig[0], eig[-1]
        assert abs(scalars["curvature/lambda_max"][epoch] - hi) <= 0.01 * scale
        assert abs(scalars["curvature/lambda_min"][epoch] - lo) <= 0.01 * scale
        assert scalars["curvature/negative_curvature"][epoch] == pytest.approx(
            max(0.0, -scalars["curvature/lambda_min"][epoch]))
        assert scalars["curvature/condition"][epoch] == pytest.approx(
            abs(scalars["curvature/lambda_max"][epoch] / scalars["curvature/lambda_min"][epoch]),
            rel=1e-5)
        assert history.history["curvature_max"][epoch] == pytest.approx(
            scalars["curvature/lambda_max"][epoch], rel=1e-5)
    assert np.isnan(history.history["curvature_max"][0])  # no check at epoch 0


@pytest.mark.parametrize("method,iterations", [("lanczos", 4), ("power", 300)])
def test_convex_quadratic_has_no_negative_curvature(method, iterations):
    """Linear least squares: H = 2/(N K) X^T X (block per output), PSD."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(40, 4)).astype("float32") * np.array([0.3, 1.0, 2.0, 0.7], "float32")
    y = rng.normal(size=(40, 1)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, use_bias=False)])
    model.compile("sgd", "mse")
    monitor = CurvatureMonitor(x, y, iterations=iterations, method=method)
    monitor.set_model(model)
    lo, hi = monitor.estimate()
    eig = np.linalg.eigvalsh(2.0 / 40 * x.astype("float64").T @ x)
    np.testing.assert_allclose([lo, hi], [eig[0], eig[-1]], rtol=1e-3)
    assert eig[-1] / eig[0] > 10  # poorly conditioned on purpose
    assert lo > 0


def test_bad_arguments():
    x = np.zeros((2, 3), "float32")
    with pytest.raises(ValueError, match="iterations"):
        CurvatureMonitor(x, x, iterations=1)
    with pytest.raises(ValueError, match="every_n_epochs"):
        CurvatureMonitor(x, x, every_n_epochs=0)
    with pytest.raises(ValueError, match="method"):
        CurvatureMonitor(x, x, method="newton")


def test_bad_input_is_rejected_at_construction():
    x = np.zeros((4, 3), "float32")
    with pytest.raises(ValueError, match="`y` has 3 examples but `x` has 4"):
        CurvatureMonitor(x, np.zeros((3, 1)))
    with pytest.raises(ValueError, match="sample_weight"):
        CurvatureMonitor(x, np.zeros((4, 1)), sample_weight=np.ones(5))
    with pytest.raises(TypeError, match="`x`"):
        CurvatureMonitor(None, np.zeros((4, 1)))
    with pytest.raises(TypeError, match="`y`"):
        CurvatureMonitor(x, None)
    with pytest.raises(TypeError, match="`y`"):
        CurvatureMonitor(x, 3.0)
    with pytest.raises(TypeError, match="log_dir"):
        CurvatureMonitor(x, np.zeros((4, 1)), log_dir=1)
    with pytest.raises(ValueError, match="seed"):
        CurvatureMonitor(x, np.zeros((4, 1)), seed=-1)


def test_batch_of_the_wrong_shape_is_rejected_before_training():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    monitor = CurvatureMonitor(np.zeros((4, 5), "float32"), np.zeros((4, 1), "float32"))
    with pytest.raises(ValueError, match=r"`x` has examples of shape \(5,\)"):
        model.fit(np.zeros((4, 3), "float32"), np.zeros((4, 1), "float32"), epochs=1, verbose=0,
                  callbacks=[monitor])
