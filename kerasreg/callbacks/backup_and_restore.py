"""Fault-tolerant training: back up the whole training state, restore it on restart."""

import glob
import json
import os
import tempfile
import warnings

import keras
import numpy as np

from kerasreg import _keras_compat
from kerasreg._validation import check_bool, check_int

_FORMAT = 1
_CHECKPOINT = "checkpoint.npz"
_TMP_PREFIX = ".tmp-checkpoint-"


def _flatten_state(prefix, state, arrays, meta):
    """Split a callback state into JSON metadata and named numpy arrays."""
    out = {}
    for key, value in state.items():
        if isinstance(value, np.ndarray):
            name = f"{prefix}/{key}"
            arrays[name] = value
            out[key] = {"__array__": name}
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, np.ndarray) for v in value):
            names = []
            for j, v in enumerate(value):
                names.append(f"{prefix}/{key}/{j}")
                arrays[names[-1]] = v
            out[key] = {"__arrays__": names}
        else:
            json.dumps(value)  # raises TypeError for anything the protocol does not allow
            out[key] = value
    meta[prefix] = out


def _unflatten_state(flat, arrays):
    state = {}
    for key, value in flat.items():
        if isinstance(value, dict) and "__array__" in value:
            state[key] = np.array(arrays[value["__array__"]])
        elif isinstance(value, dict) and "__arrays__" in value:
            state[key] = [np.array(arrays[n]) for n in value["__arrays__"]]
        else:
            state[key] = value
    return state


def state_key(callback):
    """The key of ``callback``'s state in a checkpoint: its ``state_key``
    attribute, else its class name."""
    return str(getattr(callback, "state_key", None) or type(callback).__name__)


class BackupAndRestore(keras.callbacks.Callback):
    """Checkpoint everything a restarted ``fit`` needs to continue exactly.

    Like ``keras.callbacks.BackupAndRestore``, but a checkpoint holds the
    *whole* training state, so a run killed at any point (even with SIGKILL,
    even mid-write) and started again ends exactly as an uninterrupted run:

    - every model variable (weights, batch-norm statistics, seed-generator
      states) and every optimizer variable (slots, step counter, learning
      rate), copied value for value;
    - the metric accumulators of the epoch in progress, the epoch and the
      step within it, and the history (the epoch logs ``fit`` returns);
    - the state of the callbacks named in ``callbacks``.

    **The state protocol** (as Lightning's callbacks declare it).  A callback
    whose state is kept implements ``state_dict() -> dict`` (JSON-able
    values, numpy arrays or lists of numpy arrays) and
    ``load_state_dict(state)``, a plain setter, and may set ``state_key``
    (default: its class name; two kept callbacks need different keys).
    ``kerasreg.callbacks.EarlyStopping`` and ``StochasticWeightAveraging``
    implement it.  On a restore, ``load_state_dict`` is called in this
    callback's ``on_train_begin`` and again in its first ``on_epoch_begin``,
    so the loaded state survives the callback's own ``on_train_begin``
    (which resets it) whatever the order of the ``fit`` callbacks list.
    Nothing else is looked for: callbacks not named are not saved.

    A checkpoint is written after a step or epoch has been fully handled by
    every callback (at the start of the next batch or epoch), so it is always
    consistent.  Writes are atomic: one ``.npz`` file is written to a
    temporary file in ``backup_dir``, flushed, ``fsync``-ed and moved over the
    previous checkpoint with ``os.replace``; a kill during a write leaves the
    previous checkpoint intact.

    On restart ``fit`` starts at the checkpoint's epoch (Keras' own resume
    hook).  A mid-epoch checkpoint is resumed by running the batches of that
    epoch already trained on and putting every model, optimizer and metric
    variable back to the checkpoint after each (the data must arrive in the
    same order: ``shuffle=False``, or a seeded pipeline).  Those steps are
    computed and discarded, so callbacks still receive
    ``on_train_batch_begin/end`` for them (with the discarded step's logs).
    The same works under ``kerasreg.distribute.Trainer``.

    Departures from Keras' ``BackupAndRestore``: Keras saves the weights file
    and a JSON of the epoch separately (not atomically), keeps no callback
    state, no history and no metric accumulators, and resumes a mid-epoch
    checkpoint from the start of its epoch.  No ``double_checkpoint``: the
    atomic replace makes it unnecessary.  Keras' global random generator
    (``keras.random`` without a seed) is not saved.

    Args:
        backup_dir: str, a directory used only by this callback.
        save_freq: ``"epoch"`` or int >= 1 (batches between checkpoints).
        delete_checkpoint: bool, delete the checkpoint when ``fit`` ends
            normally. Default True.
        callbacks: the callbacks (also passed to ``fit``) whose state is
            kept; each implements the state protocol above.  Default none.

    Example:

    >>> es = kerasreg.callbacks.EarlyStopping(patience=5)
    >>> x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    >>> y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32")
    >>> xv, yv = x[:16], y[:16]
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> backup = kerasreg.callbacks.BackupAndRestore("ckpt", callbacks=[es])
    >>> history = model.fit(x, y, validation_data=(xv, yv), epochs=10, shuffle=False,
    ...                     callbacks=[backup, es], verbose=0)
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True, callbacks=()):
        super().__init__()
        if not isinstance(backup_dir, (str, os.PathLike)) or not str(backup_dir):
            raise ValueError(f"`backup_dir` must be a non-empty path, got {backup_dir!r}.")
        if save_freq != "epoch":
            save_freq = check_int("save_freq", save_freq, low=1)
        self.backup_dir = str(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = check_bool("delete_checkpoint", delete_checkpoint)
        self.path = os.path.join(self.backup_dir, _CHECKPOINT)
        if isinstance(callbacks, keras.callbacks.Callback) or not hasattr(callbacks, "__iter__"):
            raise ValueError(f"`callbacks` must be a list of callbacks, got {callbacks!r}.")
        self.callbacks = list(callbacks)
        keys = {}
        for cb in self.callbacks:
            if not (callable(getattr(cb, "state_dict", None)) and callable(getattr(cb, "load_state_dict", None))):
                raise ValueError(
                    f"`callbacks`: {type(cb).__name__} does not implement the state protocol "
                    "(state_dict() and load_state_dict(state))."
                )
            key = state_key(cb)
            if key in keys:
                raise ValueError(f"`callbacks`: two callbacks have the state_key {key!r}; set a "
                                 "distinct `state_key` attribute on one of them.")
            keys[key] = cb

    def get_config(self):
        # ``callbacks`` are objects of a running fit, not configuration.
        return {"backup_dir": self.backup_dir, "save_freq": self.save_freq,
                "delete_checkpoint": self.delete_checkpoint}

    # -- the variables ---------------------------------------------------
    def _groups(self):
        model = self.model
        optimizer = getattr(model, "optimizer", None)
        return {
            "model": list(model.variables),
            "optimizer": list(optimizer.variables) if optimizer is not None else [],
            "metrics": list(model.metrics_variables),
        }

    def _sync(self):
        """JAX: write the state that fit carries between steps into the
        variables; the next step then reads the variables back."""
        if keras.backend.backend() == "jax" and hasattr(self.model, "jax_state_sync"):
            self.model.jax_state_sync()

    # -- writing -----------------------------------------------------------
    def _save(self, epoch, step):
        self._sync()
        history = self._history_so_far()
        arrays, meta = {}, {"format": _FORMAT, "epoch": int(epoch), "step": int(step),
                            "callbacks": {}, "history": history}
        for group, variables in self._groups().items():
            meta[f"n_{group}"] = len(variables)
            for i, v in enumerate(variables):
                arrays[f"{group}/{i}"] = np.array(v.numpy())  # also a sync-on-read metric under a strategy
        for cb in self.callbacks:
            _flatten_state(f"cb/{state_key(cb)}", cb.state_dict(), arrays, meta["callbacks"])
        arrays["__meta__"] = np.array(json.dumps(meta))
        os.makedirs(self.backup_dir, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=".npz", dir=self.backup_dir)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        dir_fd = os.open(self.backup_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._since_save = 0

    # -- reading -----------------------------------------------------------
    def _read(self):
        with np.load(self.path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        meta = json.loads(str(arrays.pop("__meta__")))
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{self.path}: unknown checkpoint format {meta.get('format')!r}.")
        return meta, arrays

    def _assign(self, group, variables):
        """Set ``variables`` to the checkpoint's values of ``group``."""
        saved = self._checkpoint[0][f"n_{group}"]
        if saved != len(variables):
            raise ValueError(
                f"{self.path}: the checkpoint has {saved} {group} variables, the model "
                f"{len(variables)}; was it written by a different model or compile()?"
            )
        arrays = self._checkpoint[1]
        for i, v in enumerate(variables):
            value = arrays[f"{group}/{i}"]
            if tuple(value.shape) != tuple(v.shape):
                raise ValueError(f"{self.path}: shape mismatch for {v.path}: {value.shape} vs {v.shape}.")
            v.assign(value)

    def _load_callbacks(self):
        meta, arrays = self._checkpoint
        for cb in self.callbacks:
            flat = meta["callbacks"].get(f"cb/{state_key(cb)}")
            if flat is None:
                warnings.warn(f"BackupAndRestore: no saved state for callback {state_key(cb)}; "
                              "it starts fresh.", stacklevel=2)
                continue
            cb.load_state_dict(_unflatten_state(flat, arrays))

    # -- the history ---------------------------------------------------------
    def _history_so_far(self):
        epochs = self._restored_history["epoch"] + self._logged["epoch"]
        history = {k: list(v) for k, v in self._restored_history["history"].items()}
        for k, v in self._logged["history"].items():
            history.setdefault(k, []).extend(v)
        return {"epoch": epochs, "history": history}

    def _merge_history(self):
        """Put the restored epochs in front of the ``History`` of this fit.

        ``fit``'s ``History`` callback becomes ``model.history`` at its first
        ``on_epoch_end``, so this runs at the first hook after one.
        """
        if self._history_merged or not self._logged["epoch"]:
            return
        self._history_merged = True
        history = getattr(self.model, "history", None)
        restored = self._restored_history
        if not isinstance(history, keras.callbacks.History) or not restored["epoch"]:
            return
        history.epoch = list(restored["epoch"]) + list(history.epoch)
        for k, v in restored["history"].items():
            history.history[k] = list(v) + list(history.history.get(k, []))

    # -- hooks -------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._since_save = 0
        self._skip = 0
        self._first_epoch = True
        self._per_call = max(1, int(getattr(self.model, "steps_per_execution", 1) or 1))
        self._checkpoint = None
        self._reload_callbacks = False
        self._restored_history = {"epoch": [], "history": {}}
        self._logged = {"epoch": [], "history": {}}
        self._history_merged = False
        for stale in glob.glob(os.path.join(self.backup_dir, _TMP_PREFIX + "*")):
            os.remove(stale)  # the remains of a write that was killed
        if not os.path.exists(self.path):
            return
        model = self.model
        if not model.built:
            raise ValueError("BackupAndRestore needs a built model before fit().")
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        self._checkpoint = meta, _ = self._read()
        groups = self._groups()
        self._assign("model", groups["model"])
        self._assign("optimizer", groups["optimizer"])
        self._restored_history = meta.get("history") or {"epoch": [], "history": {}}
        self._load_callbacks()
        self._reload_callbacks = True
        _keras_compat.set_initial_epoch(model, meta["epoch"])
        self._skip = meta["step"]

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        if self._reload_callbacks:
            # Every callback's on_train_begin (which resets its state) has run.
            self._load_callbacks()
            self._reload_callbacks = False
            if not self._skip:
                self._checkpoint = None
        self._merge_history()
        if not self._first_epoch and self.save_freq == "epoch":
            # Every callback has finished with the previous epoch.
            self._save(epoch, 0)
        self._first_epoch = False

    def on_train_batch_begin(self, batch, logs=None):
        if self.save_freq == "epoch" or self._skip > 0:
            return
        if self._since_save >= self.save_freq:
            # Every callback has finished with the previous batch.
            self._save(self._epoch, batch)

    def on_train_batch_end(self, batch, logs=None):
        if self._skip > 0:
            # A batch the checkpoint had trained on: undo the step.
            self._sync()
            groups = self._groups()
            for group in ("model", "optimizer", "metrics"):
                self._assign(group, groups[group])
            self._skip -= self._per_call
            if self._skip <= 0:
                self._checkpoint = None
            return
        if self.save_freq != "epoch":
            self._since_save += self._per_call

    def on_epoch_end(self, epoch, logs=None):
        self._logged["epoch"].append(int(epoch))
        for k, v in (logs or {}).items():
            self._logged["history"].setdefault(k, []).append(float(np.asarray(v)))

    def on_train_end(self, logs=None):
        self._merge_history()
        _keras_compat.set_initial_epoch(self.model, None)
        if self.delete_checkpoint and os.path.exists(self.path):
            os.remove(self.path)
