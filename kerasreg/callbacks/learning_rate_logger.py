"""Log the learning rate actually used, once per epoch."""

import keras
import numpy as np


class LearningRateLogger(keras.callbacks.Callback):
    """Put the learning rate of the epoch's last step into ``logs[key]``.

    For an optimizer whose learning rate is a ``LearningRateSchedule`` the
    rate used by the last step of the epoch is ``schedule(t - 1)``, with
    ``t = optimizer.iterations`` after the epoch (the step counter starts at
    0 and is incremented by each update).  ``optimizer.learning_rate`` -- what
    Keras 3's ``TensorBoard`` and ``ReduceLROnPlateau`` log -- is
    ``schedule(t)``, the rate of the *next* step; for a step-wise schedule the
    two differ exactly at the boundaries.  For a float (variable) learning
    rate both are the variable's value; put this logger before
    ``ReduceLROnPlateau`` in the callback list to log the rate before it is
    reduced.  Works with ``LossScaleOptimizer`` (reads the inner optimizer).

    ``History``, ``CSVLogger`` and any later callback see ``logs[key]``.
    Keras 3's ``TensorBoard`` writes its own ``learning_rate`` tag
    (``schedule(t)``) over a ``"learning_rate"`` key, so to have the rate
    actually used in TensorBoard as well pass ``key="learning_rate_used"``.

    Args:
        key: str, the logs key. Default ``"learning_rate"``.
    """

    def __init__(self, key="learning_rate"):
        super().__init__()
        if not isinstance(key, str) or not key:
            raise TypeError(f"`key` must be a non-empty string, got {key!r}.")
        self.key = key

    def learning_rate_used(self):
        optimizer = self.model.optimizer
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        # The schedule itself is not public on Keras optimizers; this is the
        # attribute Keras' own `_get_current_learning_rate` reads.
        lr = getattr(optimizer, "_learning_rate", None)
        if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
            step = max(int(np.array(optimizer.iterations)) - 1, 0)
            return float(keras.ops.convert_to_numpy(lr(step)))
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs[self.key] = self.learning_rate_used()
