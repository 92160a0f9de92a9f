"""One TensorBoard log directory for Keras' TensorBoard callback, the kerasreg
monitors and the HParams plugin."""

import numbers
import os

import keras

from kerasreg.callbacks._summary import SummaryWriter

__all__ = ["HParamsLogger", "tensorboard_callbacks"]


class HParamsLogger(keras.callbacks.Callback):
    """Records a run's hyperparameters and a curated set of final metrics for
    TensorBoard's HParams dashboard.

    On train begin it writes, into the run directory ``log_dir``, the HParams
    plugin's experiment configuration (``hp.hparams_config``: the
    hyperparameter names and the metric columns below) and session summary
    (``hp.hparams``).  On train end it writes the final metrics as scalars
    ``final/<name>`` at the last epoch.  The metric columns are only:

    * ``final/loss`` and ``final/val_loss`` (last epoch's ``loss`` and
      ``val_loss``);
    * ``final/accuracy`` and ``final/val_accuracy``: the last epoch's first
      log entry whose name ends in ``accuracy`` or ``acc`` (e.g.
      ``sparse_categorical_accuracy``), with and without ``val_``;
    * ``final/test_loss`` and ``final/test_accuracy``, given explicitly by
      ``record_test(loss, accuracy)`` after ``model.evaluate``;
    * ``final/<name>`` (and ``final/val_<name>`` when logged) for each
      ``name`` in ``metrics``, e.g. ``"grad_norm"``, and anything passed to
      ``record``.

    So the dashboard shows these columns, not every scalar of every sub-run.
    Runs that differ in hyperparameters, each in its own ``log_dir`` under
    one parent directory, are then compared with ``tensorboard --logdir
    <parent>``; they should share hyperparameter names and ``metrics``
    (TensorBoard reads the configuration of one of them).

    Args:
        log_dir: the run's directory.
        hparams: dict ``{name: value}`` with str, bool, int or float values.
        trial_id: optional name of the trial (default: derived by TensorBoard
            from the hyperparameters).
        metrics: names of further ``logs`` entries to record at the end
            (e.g. ``("grad_norm",)``).  Defaults to none.
    """

    def __init__(self, log_dir, hparams, trial_id=None, metrics=()):
        super().__init__()
        if log_dir is None:
            raise TypeError("`log_dir` must be a path, got None.")
        if not isinstance(hparams, dict) or not hparams:
            raise TypeError(f"`hparams` must be a non-empty dict, got {hparams!r}.")
        for key, value in hparams.items():
            if not isinstance(value, (str, bool, numbers.Real)):
                raise TypeError(
                    f"`hparams` values must be str, bool, int or float; "
                    f"got {key}={value!r} of type {type(value).__name__}."
                )
        if isinstance(metrics, str) or not all(isinstance(m, str) for m in metrics):
            raise TypeError(f"`metrics` must be a list of names of logged metrics, got {metrics!r}.")
        self.log_dir = os.fspath(log_dir)
        self.hparams = dict(hparams)
        self.trial_id = trial_id
        self.metrics = tuple(metrics)
        self._writer = None
        self._last = (None, {})

    def metric_names(self):
        """The ``final/...`` tags of the dashboard's metric columns."""
        names = ["loss", "val_loss", "accuracy", "val_accuracy", "test_loss", "test_accuracy"]
        for m in self.metrics:
            names += [m, f"val_{m}"]
        return [f"final/{n}" for n in dict.fromkeys(names)]

    def on_train_begin(self, logs=None):
        from tensorboard.plugins.hparams import api as hp
        from tensorboard.plugins.hparams import summary_v2 as hp_summary

        self._writer = SummaryWriter(self.log_dir)
        values = {k: (float(v) if isinstance(v, numbers.Real) and not isinstance(v, bool) else v)
                  for k, v in self.hparams.items()}
        self._writer.summary(hp_summary.hparams_config_pb(
            hparams=[hp.HParam(k) for k in values],
            metrics=[hp.Metric(tag) for tag in self.metric_names()]), step=0)
        self._writer.summary(hp_summary.hparams_pb(values, trial_id=self.trial_id), step=0)
        self._writer.flush()

    def on_epoch_end(self, epoch, logs=None):
        self._last = (epoch, dict(logs or {}))

    def _curated(self, logs):
        out = {}
        for prefix in ("", "val_"):
            if f"{prefix}loss" in logs:
                out[f"{prefix}loss"] = logs[f"{prefix}loss"]
            accuracy = [k for k in logs if k.startswith(prefix) and (
                prefix or not k.startswith("val_")) and k.endswith(("accuracy", "acc"))]
            if accuracy:
                out[f"{prefix}accuracy"] = logs[accuracy[0]]
            for m in self.metrics:
                if f"{prefix}{m}" in logs:
                    out[f"{prefix}{m}"] = logs[f"{prefix}{m}"]
        return {k: float(v) for k, v in out.items()
                if isinstance(v, numbers.Real) and not isinstance(v, bool)}

    def on_train_end(self, logs=None):
        epoch, last = self._last
        if epoch is not None:
            self._step = epoch
            final = {f"final/{k}": v for k, v in self._curated(last).items()}
            self._writer.scalars(final, step=epoch)
        self._writer.close()  # `record` reopens it (a new event file, same run)

    def record(self, values):
        """Write ``{name: float}`` as ``final/<name>`` (e.g. after ``evaluate``);
        names outside ``metric_names()`` are written but get no column."""
        step = getattr(self, "_step", 0)
        if self._writer is None:
            self._writer = SummaryWriter(self.log_dir)
        self._writer.scalars({f"final/{k}": float(v) for k, v in values.items()}, step=step)
        self._writer.close()

    def record_test(self, loss, accuracy=None):
        """Write the test set's ``final/test_loss`` (and ``final/test_accuracy``)."""
        values = {"test_loss": loss}
        if accuracy is not None:
            values["test_accuracy"] = accuracy
        self.record(values)


def tensorboard_callbacks(log_dir, monitors=(), hparams=None, hparam_metrics=(),
                          **tensorboard_kwargs):
    """Keras' ``TensorBoard`` callback, kerasreg monitors and HParams in one log dir.

    Layout of ``log_dir`` (one TensorBoard run per sub-directory):

    ==================== ====================================================
    ``train/``           Keras' ``TensorBoard``: ``epoch_loss``, metrics, ...
    ``validation/``      Keras' ``TensorBoard``, validation metrics
    ``gradients/``       ``GradientMonitor``
    ``curvature/``       ``CurvatureMonitor``
    ``activations/``     ``ActivationMonitor``
    ``clipping/``        ``ClippingMonitor``
    ``.`` (``log_dir``)  ``HParamsLogger``: the hyperparameters, ``final/*``
    ==================== ====================================================

    Each monitor keeps its own ``subdir``; a monitor built without a
    ``log_dir`` gets this one, and one built with another raises.

    Args:
        log_dir: the run's log directory.
        monitors: kerasreg monitor callbacks (instances).
        hparams: optional dict of hyperparameters -> an ``HParamsLogger``.
        hparam_metrics: further logged metrics the ``HParamsLogger`` records
            (its ``metrics``), beyond loss and accuracy.
        **tensorboard_kwargs: passed to ``keras.callbacks.TensorBoard``
            (``histogram_freq``, ``write_graph``, ``update_freq``, ...).

    Returns:
        ``[TensorBoard, *monitors]`` plus the ``HParamsLogger`` last, for
        ``model.fit(callbacks=...)``.  ``TensorBoard`` comes first, so it does
        not repeat the scalars the monitors add to ``logs``; ``HParamsLogger``
        comes last, so its final metrics include them.

    Example:

    >>> x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    >>> y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32")
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> monitor = kerasreg.callbacks.GradientMonitor(10)
    >>> model.compile(optimizer=monitor.wrap(keras.optimizers.SGD(0.1)), loss="mse")
    >>> cbs = tensorboard_callbacks("logs/lr0.1", monitors=[monitor],
    ...                             hparams={"learning_rate": 0.1})
    >>> history = model.fit(x, y, callbacks=cbs, verbose=0)
    """
    if log_dir is None:
        raise TypeError("`log_dir` must be a path, got None.")
    log_dir = os.fspath(log_dir)
    callbacks = [keras.callbacks.TensorBoard(log_dir=log_dir, **tensorboard_kwargs)]
    for monitor in monitors:
        if not isinstance(monitor, keras.callbacks.Callback) or not hasattr(monitor, "log_dir"):
            raise TypeError(f"`monitors` must hold kerasreg monitor callbacks, got {monitor!r}.")
        if monitor.log_dir is None:
            monitor.log_dir = log_dir
        elif os.path.abspath(os.fspath(monitor.log_dir)) != os.path.abspath(log_dir):
            raise ValueError(
                f"monitor {type(monitor).__name__} writes to {monitor.log_dir!r}, "
                f"not to `log_dir`={log_dir!r}; build it without `log_dir`."
            )
        callbacks.append(monitor)
    if hparams is not None:
        callbacks.append(HParamsLogger(log_dir, hparams, metrics=hparam_metrics))
    return callbacks
