"""Let evaluation and checkpoints during training see Nesterov's theta."""

import keras

from kerasreg._validation import check_bool
from kerasreg.api_export import kerasreg_export


def _nesterov(optimizer):
    """The kerasreg Nesterov optimizer inside ``optimizer`` (unwrapping
    ``LossScaleOptimizer`` and wrappers exposing ``inner_optimizer`` or
    ``optimizer``), or ``None``."""
    from kerasreg.optimizers.nesterov import Nesterov

    seen = set()
    while optimizer is not None and id(optimizer) not in seen:
        if isinstance(optimizer, Nesterov):
            return optimizer
        seen.add(id(optimizer))
        optimizer = getattr(optimizer, "inner_optimizer", None) or getattr(optimizer, "optimizer", None)
    return None


@kerasreg_export
class SwapNesterovWeights(keras.callbacks.Callback):
    """Swap Nesterov's ``theta`` into the model for evaluation and checkpoints.

    While ``kerasreg.optimizers.Nesterov`` trains, the model's variables hold
    the interim point ``theta~ = theta + alpha * v`` (so that Keras computes
    the gradient there).  This callback moves them to ``theta`` whenever
    something other than the training step looks at them, and back afterwards:

    - ``on_test_begin`` / ``on_test_end`` and ``on_predict_begin`` /
      ``on_predict_end``: validation inside ``fit`` (and ``evaluate`` or
      ``predict`` given this callback) sees ``theta``; the variables are
      returned to the point they held before.
    - with ``swap_on_epoch=True`` (the default), ``on_epoch_end`` moves to
      ``theta`` and ``on_epoch_begin`` back to the interim point, so callbacks
      listed *after* this one at epoch end (``ModelCheckpoint``, ``BackupAndRestore``,
      a TensorBoard histogram) see ``theta``.  Checkpoints saved every
      ``save_freq`` batches mid-epoch are not covered.
    - ``on_train_begin`` moves to the interim point, so a second ``fit`` (or
      training a reloaded model, whose variables hold ``theta``) resumes the
      Nesterov sequence exactly.

    After ``fit`` the model holds ``theta`` with or without this callback
    (``Nesterov.finalize_variable_values``).  The moves are the optimizer's
    ``move_to_theta`` / ``move_to_interim``: ``theta = theta~ - alpha * v``,
    exact up to float rounding.

    Args:
        swap_on_epoch: bool, whether to hold ``theta`` between ``on_epoch_end``
            and the next ``on_epoch_begin``. Defaults to ``True``.

    Example:

    >>> x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    >>> y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32")
    >>> xv, yv = x[:16], y[:16]
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=kerasreg.optimizers.Nesterov(0.05), loss="mse")
    >>> history = model.fit(x, y, validation_data=(xv, yv), epochs=10, verbose=0, callbacks=[
    ...     kerasreg.callbacks.SwapNesterovWeights(),
    ...     keras.callbacks.ModelCheckpoint("best.keras", save_best_only=True)])
    """

    def __init__(self, swap_on_epoch=True):
        super().__init__()
        self.swap_on_epoch = check_bool("swap_on_epoch", swap_on_epoch)
        self._restore_interim = []

    def _optimizer(self):
        optimizer = _nesterov(getattr(self.model, "optimizer", None))
        if optimizer is None:
            raise ValueError(
                "SwapNesterovWeights needs a model compiled with "
                "kerasreg.optimizers.Nesterov; got optimizer "
                f"{getattr(self.model, 'optimizer', None)!r}."
            )
        return optimizer

    def _to_theta_and_remember(self):
        optimizer = self._optimizer()
        self._restore_interim.append(not optimizer.holds_theta())
        optimizer.move_to_theta()

    def _restore(self):
        if self._restore_interim and self._restore_interim.pop():
            self._optimizer().move_to_interim()

    def on_train_begin(self, logs=None):
        self._optimizer().move_to_interim()

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch:
            self._optimizer().move_to_interim()

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch:
            self._optimizer().move_to_theta()

    def on_test_begin(self, logs=None):
        self._to_theta_and_remember()

    def on_test_end(self, logs=None):
        self._restore()

    def on_predict_begin(self, logs=None):
        self._to_theta_and_remember()

    def on_predict_end(self, logs=None):
        self._restore()

    def get_config(self):
        return {"swap_on_epoch": self.swap_on_epoch}
