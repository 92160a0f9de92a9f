"""Per-layer gradient norms every N steps and an exploding / vanishing verdict."""

import warnings

import keras
import numpy as np

from kerasreg._validation import check_bool, check_float, check_int
from kerasreg.callbacks._summary import (SummaryWriter, check_log_dir, check_subdir,
                                        monitor_log_dir, readable_path)
from kerasreg.optimizers.gradient_monitoring import GradientMonitoring

__all__ = ["GradientMonitor", "find_wrapper", "gradient_verdict"]

_VERDICT_CODES = {"exploding": 1.0, "healthy": 0.0, "vanishing": -1.0}


def gradient_verdict(layer_norms, explode_threshold, vanish_threshold):
    """``"exploding"``, ``"vanishing"`` or ``"healthy"`` for ``{layer: norm}``."""
    norms = np.asarray(list(layer_norms.values()), dtype="float64")
    if norms.size == 0:
        return "healthy"
    if not np.all(np.isfinite(norms)) or np.max(norms) > explode_threshold:
        return "exploding"
    if np.min(norms) < vanish_threshold:
        return "vanishing"
    return "healthy"


def find_wrapper(optimizer, cls):
    """The optimizer of class ``cls`` in ``optimizer``'s chain of wrappers, or ``None``."""
    seen = set()
    while optimizer is not None and id(optimizer) not in seen:
        seen.add(id(optimizer))
        if isinstance(optimizer, cls):
            return optimizer
        optimizer = getattr(optimizer, "optimizer", None) or getattr(
            optimizer, "inner_optimizer", None)
    return None


def _numpy(variable):
    return np.asarray(keras.ops.convert_to_numpy(variable))


class GradientMonitor(keras.callbacks.Callback):
    """Per-layer gradient norms every ``every_n_steps`` steps, with a verdict.

    The lecture's "Exploding and Vanishing Gradients": for the linear network
    ``h_i = W h_{i-1}`` (``i = 1..n``, ``h_0 = x``) with ``W = diag(a, b)`` and
    ``x = [1, 1]``, ``y = W^n x`` and

    ```
    grad_{(a, b)} sum(y) = [n a^(n-1), n b^(n-1)]
    ```

    which explodes for ``a = 1, b = 2`` (``[n, n 2^(n-1)]``) and vanishes for
    ``a = 0.5, b = 0.9`` (``-> [0, 0]``).  This callback reports exactly these
    quantities on any model: for every trainable variable ``w_j`` with gradient
    ``g_j`` of the training loss on the step's mini-batch,

    ```
    ||g_j||_2,   layer norm ||g_L|| = sqrt(sum_{j in L} ||g_j||^2),
    global norm ||g|| = sqrt(sum_j ||g_j||^2)
    ```

    and a verdict per logged step:

    * ``exploding`` if any layer norm is above ``explode_threshold`` (or any
      norm is NaN/inf);
    * otherwise ``vanishing`` if any layer norm is below ``vanish_threshold``;
    * otherwise ``healthy``.

    A layer is the variables sharing a path prefix (``dense/kernel`` and
    ``dense/bias`` form layer ``dense``).

    The contract: the norms are recorded, inside the compiled train step on
    every backend, by the optimizer wrapper
    ``kerasreg.optimizers.GradientMonitoring``; this callback only reads its
    variables once per epoch and writes them.  Compile with the wrapper::

        monitor = GradientMonitor(every_n_steps=10, log_dir="logs")
        model.compile(optimizer=monitor.wrap(keras.optimizers.SGD(0.1)), ...)
        model.fit(x, y, callbacks=[monitor])

    A model whose optimizer is not (and does not wrap) a ``GradientMonitoring``
    raises a ``ValueError`` on train begin saying so.

    TensorBoard (run ``log_dir/subdir``, step = number of updates before the
    gradient): scalars ``grad_norm/global``, ``grad_norm/layer/<layer>``,
    ``grad_norm/variable/<layer>/<variable>`` and ``grad_verdict`` (``+1``
    exploding, ``0`` healthy, ``-1`` vanishing); with ``histograms=True``,
    once per epoch, histograms ``weights/<layer>/<variable>`` and
    ``gradients/<layer>/<variable>`` (the last recorded step's gradient).
    Paths leave out the model's own name (``sequential_1/``), so the runs
    of a sweep carry the same tags.  At epoch end ``logs`` gets
    ``grad_norm`` (global norm of the last logged step) and ``grad_verdict``
    (its code); ``self.verdict`` is the last verdict as a string and
    ``self.history`` one dict per epoch.

    Departures: the lecture states the phenomenon; the thresholds are ours.
    See ``GradientMonitoring`` for what "the gradient" is under
    ``tf.distribute``, loss scaling and clipping.

    Args:
        every_n_steps: int >= 1, log every this many steps (step
            ``t`` is logged when ``t % every_n_steps == 0``; the first step,
            ``t = 0``, is always logged).  Defaults to ``1``.
        log_dir: root TensorBoard log directory, or ``None`` to keep the
            values only in ``logs`` / ``self.history``.
        explode_threshold: float > 0, a layer gradient norm above it is
            exploding.  Defaults to ``1e3``.
        vanish_threshold: float >= 0 below ``explode_threshold``, a layer
            gradient norm below it is vanishing.  Defaults to ``1e-5``.
        subdir: sub-run of ``log_dir`` written to.  Defaults to
            ``"gradients"``.
        histograms: bool, also write weight and gradient histograms once per
            epoch (``wrap`` then keeps a copy of the gradient).  Defaults to
            ``False``.

    Example:

    >>> monitor = GradientMonitor(every_n_steps=10, log_dir="logs")
    >>> x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    >>> y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32")
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=monitor.wrap("sgd"), loss="mse")
    >>> history = model.fit(x, y, callbacks=[monitor], verbose=0)

    Reference:
        Goodfellow, Bengio and Courville, "Deep Learning", 2016, section 8.2.5
        (long-term dependencies; exploding and vanishing gradients).
    """

    def __init__(self, every_n_steps=1, log_dir=None, explode_threshold=1e3,
                 vanish_threshold=1e-5, subdir="gradients", histograms=False):
        super().__init__()
        self.every_n_steps = check_int("every_n_steps", every_n_steps, low=1)
        self.explode_threshold = check_float("explode_threshold", explode_threshold,
                                             low=0.0, low_open=True)
        self.vanish_threshold = check_float("vanish_threshold", vanish_threshold,
                                            low=0.0, high=self.explode_threshold,
                                            high_open=True)
        self.log_dir = check_log_dir(log_dir)
        self.subdir = check_subdir(subdir)
        self.histograms = check_bool("histograms", histograms)
        self.verdict = None
        self.history = []
        self._writer = None

    def get_config(self):
        return {
            "every_n_steps": self.every_n_steps,
            "log_dir": self.log_dir,
            "explode_threshold": self.explode_threshold,
            "vanish_threshold": self.vanish_threshold,
            "subdir": self.subdir,
            "histograms": self.histograms,
        }

    def wrap(self, optimizer):
        """``GradientMonitoring(optimizer)`` recording what this monitor reads.

        Call it before ``model.compile``; ``optimizer`` is anything
        ``keras.optimizers.get`` accepts.
        """
        return GradientMonitoring(optimizer, every_n_steps=self.every_n_steps,
                                  keep_gradients=self.histograms)

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        recorder = find_wrapper(optimizer, GradientMonitoring)
        if recorder is None:
            raise ValueError(
                "GradientMonitor reads the gradient norms that the optimizer wrapper "
                "kerasreg.optimizers.GradientMonitoring records; the model's optimizer "
                f"is a {type(optimizer).__name__}. Compile with "
                "`optimizer=monitor.wrap(your_optimizer)`."
            )
        if recorder.every_n_steps != self.every_n_steps:
            raise ValueError(
                f"GradientMonitor has `every_n_steps`={self.every_n_steps} but the "
                f"model's GradientMonitoring records every {recorder.every_n_steps} "
                "steps; build the optimizer with `monitor.wrap(...)`."
            )
        if self.histograms and not recorder.keep_gradients:
            raise ValueError("GradientMonitor(histograms=True) needs GradientMonitoring("
                             "keep_gradients=True); build the optimizer with `monitor.wrap(...)`.")
        if not recorder.built:  # its state is made in build
            recorder.build(self.model.trainable_variables)
        self._recorder = recorder
        self._paths = [readable_path(v, self.model) for v in recorder.monitored_variables]
        self._layers = {}
        for j, path in enumerate(self._paths):
            self._layers.setdefault(path.rsplit("/", 1)[0] if "/" in path else path, []).append(j)
        self._read = int(_numpy(recorder.norm_count))
        path = monitor_log_dir(self.log_dir, self.subdir)
        self._writer = SummaryWriter(path) if path is not None else None
        self._warned = False

    def _take(self):
        """The rows recorded since the last read: ``(steps, norms)``."""
        recorder = self._recorder
        count = int(_numpy(recorder.norm_count))
        new = count - self._read
        cap = recorder.capacity
        if new > cap and not self._warned:
            warnings.warn(f"GradientMonitor: {new} steps recorded since the last read but "
                          f"GradientMonitoring keeps {cap}; the oldest are lost.")
            self._warned = True
        rows = [(k % cap) for k in range(max(self._read, count - cap), count)]
        self._read = count
        norms = _numpy(recorder.norms)[rows].astype("float64")
        steps = _numpy(recorder.norm_steps)[rows].astype("int64")
        return steps, norms

    def on_epoch_end(self, epoch, logs=None):
        steps, values = self._take()
        if self._writer is not None and self.histograms:
            self._write_histograms(epoch)
        if len(steps) == 0:
            if logs is not None:  # keep History's columns aligned
                logs["grad_norm"] = float("nan")
                logs["grad_verdict"] = float("nan")
            return
        layer_names = list(self._layers)
        layer = np.stack([np.sqrt(np.sum(values[:, idx] ** 2, axis=1))
                          for idx in self._layers.values()], axis=1)
        glob = np.sqrt(np.sum(values ** 2, axis=1))
        # gradient_verdict for every row at once
        finite = np.all(np.isfinite(layer), axis=1)
        exploding = ~finite | (np.max(layer, axis=1, initial=-np.inf) > self.explode_threshold)
        vanishing = ~exploding & (np.min(layer, axis=1, initial=np.inf) < self.vanish_threshold)
        codes = np.where(exploding, 1.0, np.where(vanishing, -1.0, 0.0))
        names = {code: verdict for verdict, code in _VERDICT_CODES.items()}
        verdicts = [names[c] for c in codes.tolist()]
        if self._writer is not None:
            tags = (["grad_norm/global", "grad_verdict"]
                    + [f"grad_norm/layer/{n}" for n in layer_names]
                    + [f"grad_norm/variable/{p}" for p in self._paths])
            table = np.concatenate([glob[:, None], codes[:, None], layer, values], axis=1)
            self._writer.series(tags, steps, table)
            self._writer.flush()
        self.verdict = verdicts[-1]
        self.history.append({
            "epoch": epoch,
            "steps": steps.tolist(),
            "global": glob.tolist(),
            "layers": {n: layer[:, i].tolist() for i, n in enumerate(layer_names)},
            "variables": {p: values[:, j].tolist() for j, p in enumerate(self._paths)},
            "verdicts": verdicts,
        })
        if logs is not None:
            logs["grad_norm"] = float(glob[-1])
            logs["grad_verdict"] = float(codes[-1])

    def _write_histograms(self, epoch):
        values = {}
        for path, v, g in zip(self._paths, self._recorder.monitored_variables,
                              self._recorder.gradients):
            values[f"weights/{path}"] = _numpy(v)
            values[f"gradients/{path}"] = _numpy(g)
        self._writer.histograms(values, step=epoch)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()

