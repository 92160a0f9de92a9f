"""Extreme Hessian eigenvalues of the loss on a fixed batch: sharpness,
conditioning and negative curvature (saddle points)."""

import keras
import numpy as np
from keras import ops

from kerasreg._validation import check_choice, check_int
from kerasreg.callbacks._autodiff import compile_hvp_program
from kerasreg.callbacks._summary import (SummaryWriter, check_batch, check_fits_model,
                                        check_log_dir, check_subdir, monitor_log_dir)

__all__ = ["CurvatureMonitor", "lanczos_program", "power_program", "tridiagonal_extremes"]


def _normalize(v):
    return v / ops.sqrt(ops.sum(ops.square(v)))


# Daniel, Gragg, Kaufman and Stewart (1976): reorthogonalize again when a pass
# leaves less than 1/sqrt(2) of the vector's norm.
_DGKS = 0.7071067811865476


def _project_out(basis, w):
    """``w - B^T (B w)``: one classical Gram-Schmidt pass against the rows of ``B``."""
    return w - ops.matmul(ops.matmul(basis, w), basis)


def _again(basis, w):
    w = _project_out(basis, w)
    return w, ops.sqrt(ops.sum(ops.square(w)))


def lanczos_program(iterations):
    """``(hvp, v0) -> (alphas, betas)`` of ``iterations`` Lanczos steps.

    Full reorthogonalization keeps the basis orthogonal in float32: a
    classical Gram-Schmidt pass against every previous Lanczos vector (kept
    as the rows of a ``(iterations, P)`` matrix whose unused rows are zero),
    and a second pass only where the first one cancelled most of ``w``
    (the Daniel-Gragg-Kaufman-Stewart test: ``||w'|| < ||w|| / sqrt(2)``),
    which is where one pass can leave ``w`` far from orthogonal ("twice is
    enough").  The steps run in ``ops.fori_loop``, so the product is traced
    once.
    """

    def program(hvp, v0):
        v = _normalize(v0)
        size = ops.shape(v0)[0]
        basis = ops.slice_update(ops.zeros((iterations, size), v0.dtype),
                                 [0, 0], ops.reshape(v, (1, -1)))
        w = hvp(v)
        alpha = ops.sum(w * v)
        alphas = ops.slice_update(ops.zeros((iterations,), v0.dtype), [0], ops.reshape(alpha, (1,)))
        betas = ops.zeros((iterations,), v0.dtype)
        w = w - alpha * v

        def step(j, state):
            # `previous` (the last Lanczos vector) is carried, not read back from `basis`: a
            # row of `basis` used after its update would make XLA copy the whole matrix.
            basis, alphas, betas, w, previous = state
            before = ops.sqrt(ops.sum(ops.square(w)))
            w = _project_out(basis, w)
            beta = ops.sqrt(ops.sum(ops.square(w)))
            w, beta = ops.cond(beta < before * _DGKS, lambda: _again(basis, w), lambda: (w, beta))
            v = w / ops.maximum(beta, 1e-30)
            basis = ops.slice_update(basis, ops.stack([j, 0 * j]), ops.reshape(v, (1, -1)))
            w = hvp(v) - beta * previous
            alpha = ops.sum(w * v)
            w = w - alpha * v
            alphas = ops.slice_update(alphas, ops.reshape(j, (1,)), ops.reshape(alpha, (1,)))
            betas = ops.slice_update(betas, ops.reshape(j - 1, (1,)), ops.reshape(beta, (1,)))
            return basis, alphas, betas, w, v

        _, alphas, betas, _, _ = ops.fori_loop(1, iterations, step, (basis, alphas, betas, w, v))
        return alphas, betas[: iterations - 1]

    return program


def power_program(iterations):
    """``(hvp, v0) -> (mu, other)``: power iteration, then shifted power iteration.

    ``mu`` is the eigenvalue of largest magnitude (power iteration on ``H``);
    power iteration on ``H - mu I`` converges to the eigenvalue farthest from
    ``mu``, ``nu``, and ``other = nu + mu`` is the opposite end of the spectrum.
    """

    def program(hvp, v0):
        def plain(i, state):
            v, _ = state
            w = hvp(v)
            return _normalize(w), ops.sum(w * v)

        def shifted(i, state):
            u, nu, mu = state
            w = hvp(u) - mu * u
            return _normalize(w), ops.sum(w * u), mu

        zero = ops.zeros((), v0.dtype)
        _, mu = ops.fori_loop(0, iterations, plain, (_normalize(v0), zero))
        _, nu, _ = ops.fori_loop(0, iterations, shifted, (_normalize(ops.flip(v0, axis=0)), zero, mu))
        return ops.stack([mu, nu + mu]), ops.zeros((0,), v0.dtype)

    return program


def tridiagonal_extremes(alphas, betas, rtol=1e-6):
    """Smallest and largest eigenvalue of the Lanczos tridiagonal matrix.

    The recursion is cut at the first ``beta`` that is not finite or below
    ``rtol * max|alpha|`` (the Krylov space is invariant there: the Ritz values
    before it are exact).
    """
    alphas = np.asarray(alphas, "float64")
    betas = np.asarray(betas, "float64")
    scale = max(float(np.max(np.abs(alphas[np.isfinite(alphas)]), initial=0.0)), 1e-30)
    k = len(alphas)
    for j, b in enumerate(betas):
        if not np.isfinite(b) or b <= rtol * scale or not np.isfinite(alphas[j + 1]):
            k = j + 1
            break
    t = np.diag(alphas[:k]) + np.diag(betas[:k - 1], 1) + np.diag(betas[:k - 1], -1)
    eig = np.linalg.eigvalsh(t)
    return float(eig[0]), float(eig[-1])


class CurvatureMonitor(keras.callbacks.Callback):
    """Largest and smallest Hessian eigenvalues of the loss on a fixed batch.

    The lecture's critical points, saddle points and poor conditioning are
    statements about the Hessian ``H = d^2 L(W) / dW^2`` ("2nd derivative
    determines curvature"): at a saddle point ``H`` has eigenvalues of both
    signs, and a poorly conditioned ``H`` (``lambda_max >> lambda_min > 0``)
    makes small steps along the sharp direction raise the loss while learning
    along the flat one is slow.  Every ``every_n_epochs`` epochs this callback
    estimates, from ``iterations`` Hessian-vector products ``H v`` (never
    forming ``H``):

    * ``lambda_max`` (sharpness) and ``lambda_min``;
    * ``condition = |lambda_max| / |lambda_min|`` (the condition number when
      ``H`` is positive definite; the denominator is floored at
      ``1e-12 |lambda_max|``);
    * ``negative_curvature = max(0, -lambda_min)`` and
      ``negative_ratio = negative_curvature / |lambda_max|`` (saddle indicator:
      ``> 0`` means a descent direction of negative curvature exists).

    ``method="lanczos"`` (default) runs ``iterations`` Lanczos steps with full
    reorthogonalization and takes the extreme eigenvalues of the tridiagonal
    matrix; ``method="power"`` runs ``iterations`` steps of power iteration on
    ``H`` (eigenvalue of largest magnitude, ``mu``) and ``iterations`` steps on
    ``H - mu I`` (the other end of the spectrum), i.e. ``2 * iterations``
    products.  Lanczos converges much faster for the same number of products:
    power iteration's error shrinks like ``(|lambda_2| / |lambda_1|)^k``, and
    at the small end of a network's spectrum that ratio is often close to 1.

    ``L`` is ``model.compute_loss`` (the compiled loss plus regularization
    terms) on ``(x, y)`` with ``training=False`` (dropout off, batch-norm
    moving statistics), so that ``H`` is a fixed, symmetric matrix.  The start
    vector is Gaussian from ``seed``.

    TensorBoard tags (run ``log_dir/subdir``, step = epoch):
    ``curvature/lambda_max``, ``curvature/lambda_min``,
    ``curvature/condition``, ``curvature/negative_curvature``,
    ``curvature/negative_ratio``.  At epoch end ``logs`` gets
    ``curvature_max``, ``curvature_min`` and ``curvature_condition`` (NaN at
    epochs without a check, so that ``History``'s columns stay aligned);
    ``self.history`` keeps one dict per check.

    Departures: none from the lecture, which names the quantities but not an
    estimator.  Hessian-vector products use ``_autodiff`` (TensorFlow, JAX and
    torch backends).

    Args:
        x, y: the fixed batch (arrays, or lists/dicts of arrays for several
            inputs or outputs), of the same length; ``sample_weight``
            optional, of that length too.  Checked at construction; the
            shape of ``x``'s examples against the model's input on train begin.
        every_n_epochs: int >= 1.  Defaults to ``1``.
        iterations: int >= 2, Lanczos steps (clamped to the number of
            parameters) or power-iteration steps per end.  Defaults to ``20``.
        method: ``"lanczos"`` or ``"power"``.
        log_dir: root TensorBoard log directory, or ``None``.
        subdir: sub-run written to.  Defaults to ``"curvature"``.
        seed: int >= 0, seed of the start vectors.  Defaults to ``0``.

    Reference:
        Ghorbani, Krishnan and Xiao, "An Investigation into Neural Net
        Optimization via Hessian Eigenvalue Density", ICML 2019,
        https://arxiv.org/abs/1901.10159; Lanczos, 1950.
    """

    def __init__(self, x, y, every_n_epochs=1, iterations=20, method="lanczos",
                 log_dir=None, subdir="curvature", sample_weight=None, seed=0):
        super().__init__()
        check_batch(x=x, y=y)
        if sample_weight is not None:
            check_batch(x=x, sample_weight=sample_weight)
        self.x = x
        self.y = y
        self.sample_weight = sample_weight
        self.every_n_epochs = check_int("every_n_epochs", every_n_epochs, low=1)
        self.iterations = check_int("iterations", iterations, low=2)
        self.method = check_choice("method", method, ("lanczos", "power"))
        self.seed = check_int("seed", seed, low=0)
        self.log_dir = check_log_dir(log_dir)
        self.subdir = check_subdir(subdir)
        self.history = []
        self._program = None
        self._writer = None
        self._rng = np.random.default_rng(self.seed)

    def estimate(self):
        """``(lambda_min, lambda_max)`` at the model's current weights."""
        if self._program is None:
            size = sum(int(np.prod(v.shape)) for v in self.model.trainable_variables)
            if self.method == "lanczos":  # a Krylov space has at most `size` dimensions
                program = lanczos_program(max(2, min(self.iterations, size)))
            else:
                program = power_program(self.iterations)
            self._size = size
            self._dtype = self.model.trainable_variables[0].dtype
            self._program = compile_hvp_program(self.model, self.x, self.y, program,
                                                self.sample_weight)
        v0 = self._rng.standard_normal(self._size).astype(self._dtype)
        first, second = self._program(v0)
        first, second = np.asarray(first), np.asarray(second)
        if self.method == "lanczos":
            return tridiagonal_extremes(first, second)
        return float(np.min(first)), float(np.max(first))

    def on_train_begin(self, logs=None):
        check_fits_model("x", self.x, self.model)  # before the first epoch, not at its end
        path = monitor_log_dir(self.log_dir, self.subdir)
        self._writer = SummaryWriter(path) if path is not None else None

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            if logs is not None:  # keep History's columns aligned
                logs.update({k: float("nan") for k in
                             ("curvature_max", "curvature_min", "curvature_condition")})
            return
        lo, hi = self.estimate()
        top = abs(hi) if abs(hi) >= abs(lo) else abs(lo)
        negative = max(0.0, -lo)
        values = {
            "curvature/lambda_max": hi,
            "curvature/lambda_min": lo,
            "curvature/condition": abs(hi) / max(abs(lo), 1e-12 * top, 1e-30),
            "curvature/negative_curvature": negative,
            "curvature/negative_ratio": negative / max(top, 1e-30),
        }
        if self._writer is not None:
            self._writer.scalars(values, step=epoch)
            self._writer.flush()
        self.history.append({"epoch": epoch, **{k.split("/")[1]: v for k, v in values.items()}})
        if logs is not None:
            logs["curvature_max"] = hi
            logs["curvature_min"] = lo
            logs["curvature_condition"] = values["curvature/condition"]

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
