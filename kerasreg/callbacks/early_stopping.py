"""Early stopping whose state survives a restart of ``fit``."""

import keras
import numpy as np

from kerasreg._validation import check_bool, check_choice, check_float, check_int


class EarlyStopping(keras.callbacks.EarlyStopping):
    """Stop when ``monitor`` has not improved for ``patience`` epochs; keep the best weights.

    The lecture's early stopping: evaluate on the validation set after every
    epoch, remember the parameters with the lowest validation error, stop
    once it has not improved for ``p`` epochs, and return the remembered
    parameters (Goodfellow et al., Deep Learning, Algorithm 7.1).  With
    ``v_e`` the monitored value after epoch ``e``, an epoch improves when

    ```
    v_e < best - min_delta     (mode "min")      v_e > best + min_delta   (mode "max")
    ```

    ``p`` is ``patience``.  The rule and its corner cases (``baseline``,
    ``start_from_epoch``, the first epoch never stopping) are Keras' own; this
    class inherits them.  What it adds:

    - ``restore_best_weights`` defaults to ``True`` (the algorithm returns the
      best parameters; Keras defaults to ``False``).
    - ``best_epoch``, ``best``, ``stopped_epoch`` and ``wait`` are readable
      after ``fit``.
    - The state protocol of ``kerasreg.callbacks.BackupAndRestore``
      (``state_dict()`` / ``load_state_dict(state)``): named in its
      ``callbacks``, the state is saved with every checkpoint, so
      after a killed ``fit`` is started again, patience continues where it
      was and the weights restored at the end are the best of the whole run.
      Keras' own ``EarlyStopping`` restarts from scratch (its ``best`` and
      ``best_weights`` are lost with the process), so it may stop late and
      restore weights that are not the best.

    Args:
        monitor: str, the ``logs`` key to watch. Default ``"val_loss"``.
        min_delta: float >= 0, the smallest change that counts as improvement.
        patience: int >= 0, epochs without improvement before stopping.
        mode: ``"auto"``, ``"min"`` or ``"max"``.
        start_from_epoch: int >= 0, epochs of warm-up before monitoring.
        restore_best_weights: bool, set the best epoch's weights at the end.
        baseline: optional float the monitored value must beat.
        verbose: 0 or 1.

    Example:

    >>> x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    >>> y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32")
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> es = EarlyStopping(patience=5)
    >>> history = model.fit(x, y, validation_split=0.2, epochs=20, verbose=0,
    ...                     callbacks=[kerasreg.callbacks.BackupAndRestore("run", callbacks=[es]), es])
    >>> 0 <= es.best_epoch < len(history.epoch), es.best == min(history.history["val_loss"])
    (True, True)

    Reference:
        Goodfellow, Bengio and Courville, "Deep Learning", 2016, Section 7.8.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, mode="auto", start_from_epoch=0,
                 restore_best_weights=True, baseline=None, verbose=0):
        if not isinstance(monitor, str):
            raise TypeError(f"`monitor` must be a string naming a logs key, got {monitor!r}.")
        super().__init__(
            monitor=monitor,
            min_delta=check_float("min_delta", min_delta, low=0.0),
            patience=check_int("patience", patience, low=0),
            verbose=check_int("verbose", verbose, low=0, high=2),
            mode=check_choice("mode", mode, ("auto", "min", "max")),
            baseline=check_float("baseline", baseline, allow_none=True),
            restore_best_weights=check_bool("restore_best_weights", restore_best_weights),
            start_from_epoch=check_int("start_from_epoch", start_from_epoch, low=0),
        )
        self.best = None
        self.best_epoch = 0

    def get_config(self):
        return {
            "monitor": self.monitor,
            "min_delta": abs(float(self.min_delta)),
            "patience": self.patience,
            "mode": self.mode,
            "start_from_epoch": self.start_from_epoch,
            "restore_best_weights": self.restore_best_weights,
            "baseline": self.baseline,
            "verbose": self.verbose,
        }

    # -- state protocol -------------------------------------------------
    def state_dict(self):
        """JSON-able values and numpy arrays that define where the run is."""
        best = None if self.best is None else float(np.asarray(self.best))
        return {
            "best": best,
            "best_epoch": int(self.best_epoch),
            "wait": int(self.wait),
            "stopped_epoch": int(self.stopped_epoch),
            "best_weights": None if self.best_weights is None else [np.array(w) for w in self.best_weights],
        }

    def load_state_dict(self, state):
        """Inverse of ``state_dict`` (a plain setter)."""
        self.best = state["best"]
        self.best_epoch = int(state["best_epoch"])
        self.wait = int(state["wait"])
        self.stopped_epoch = int(state["stopped_epoch"])
        weights = state["best_weights"]
        self.best_weights = None if weights is None else [np.array(w) for w in weights]
