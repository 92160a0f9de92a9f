"""One TensorBoard log directory for Keras' TensorBoard callback, the kerasreg
monitors and the HParams plugin."""

import numbers
import os

import keras

from kerasreg.callbacks._summary import SummaryWriter

__all__ = ["HParamsLogger", "tensorboard_callbacks"]


class HParamsLogger(keras.callbacks.Callback):
    """Records a run's hyperparameters and final metrics for TensorBoard's
    HParams dashboard.

    On train begin it writes the HParams plugin's session summary
    (``tensorboard.plugins.hparams.api.hparams``) for ``hparams`` into the run
    directory ``log_dir``; on train end it writes every numeric entry of the
    last epoch's ``logs`` as the scalar ``final/<name>`` at the last epoch.
    Runs that differ in hyperparameters, each in its own ``log_dir`` under
    one parent directory, are then compared in the HParams dashboard of
    ``tensorboard --logdir <parent>``; the dashboard also picks up the scalars
    Keras' ``TensorBoard`` writes under ``log_dir/train`` and
    ``log_dir/validation``.

    Args:
        log_dir: the run's directory.
        hparams: dict ``{name: value}`` with str, bool, int or float values.
        trial_id: optional name of the trial (default: derived by TensorBoard
            from the hyperparameters).
    """

    def __init__(self, log_dir, hparams, trial_id=None):
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
        self.log_dir = os.fspath(log_dir)
        self.hparams = dict(hparams)
        self.trial_id = trial_id
        self._writer = None
        self._last = (None, {})

    def on_train_begin(self, logs=None):
        from tensorboard.plugins.hparams import api as hp

        self._writer = SummaryWriter(self.log_dir)
        values = {k: (float(v) if isinstance(v, numbers.Real) and not isinstance(v, bool) else v)
                  for k, v in self.hparams.items()}
        with self._writer.writer.as_default():
            hp.hparams(values, trial_id=self.trial_id)
        self._writer.flush()

    def on_epoch_end(self, epoch, logs=None):
        self._last = (epoch, dict(logs or {}))

    def on_train_end(self, logs=None):
        epoch, last = self._last
        if epoch is not None:
            final = {f"final/{k}": float(v) for k, v in last.items()
                     if isinstance(v, numbers.Real) and not isinstance(v, bool)}
            self._writer.scalars(final, step=epoch)
        self._writer.close()


def tensorboard_callbacks(log_dir, monitors=(), hparams=None, **tensorboard_kwargs):
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
        **tensorboard_kwargs: passed to ``keras.callbacks.TensorBoard``
            (``histogram_freq``, ``write_graph``, ``update_freq``, ...).

    Returns:
        ``[TensorBoard, *monitors]`` plus the ``HParamsLogger`` last, for
        ``model.fit(callbacks=...)``.  ``TensorBoard`` comes first, so it does
        not repeat the scalars the monitors add to ``logs``; ``HParamsLogger``
        comes last, so its final metrics include them.

    Example:

    >>> cbs = tensorboard_callbacks("logs/lr0.1", monitors=[GradientMonitor(10)],
    ...                             hparams={"learning_rate": 0.1})
    >>> model.fit(x, y, callbacks=cbs)
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
        callbacks.append(HParamsLogger(log_dir, hparams))
    return callbacks
