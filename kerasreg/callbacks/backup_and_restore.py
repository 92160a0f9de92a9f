"""Fault-tolerant training: back up the whole training state, restore it on restart."""

import glob
import inspect
import json
import os
import tempfile
import warnings

import keras
import numpy as np

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


class _HistoryState:
    """The state protocol for Keras' ``History`` (the epochs logged so far)."""

    def __init__(self, history):
        self.history = history

    def get_state(self):
        return {"epoch": [int(e) for e in self.history.epoch],
                "history": {k: [float(v) for v in vs] for k, vs in self.history.history.items()}}

    def set_state(self, state):
        self.history.epoch = list(state["epoch"])
        self.history.history = {k: list(v) for k, v in state["history"].items()}


class BackupAndRestore(keras.callbacks.Callback):
    """Checkpoint everything a restarted ``fit`` needs to continue exactly.

    Like ``keras.callbacks.BackupAndRestore``, but a checkpoint holds the
    *whole* training state, so a run killed at any point (even with SIGKILL,
    even mid-write) and started again ends exactly as an uninterrupted run:

    - every model variable (weights, batch-norm statistics, seed-generator
      states) and every optimizer variable (slots, step counter, learning
      rate), copied value for value;
    - the metric accumulators of the epoch in progress, the epoch and the
      step within it, and the ``History`` so far;
    - the state of every other callback of the same ``fit`` that implements
      the state protocol ``get_state() -> dict`` / ``set_state(dict)``
      (``kerasreg.callbacks.EarlyStopping``, ``StochasticWeightAveraging``):
      ``get_state`` returns JSON-able values, numpy arrays or lists of numpy
      arrays; ``set_state`` is called right after that callback's
      ``on_train_begin``.

    A checkpoint is written after a step or epoch has been fully handled by
    every callback (at the start of the next batch or epoch), so it is always
    consistent.  Writes are atomic: one ``.npz`` file is written to a
    temporary file in ``backup_dir``, flushed, ``fsync``-ed and moved over the
    previous checkpoint with ``os.replace``; a kill during a write leaves the
    previous checkpoint intact.  On restart a mid-epoch checkpoint is resumed
    by skipping the batches of that epoch already trained on (the data must
    arrive in the same order: ``shuffle=False``, or a seeded pipeline);
    callbacks still receive ``on_train_batch_begin/end`` for skipped batches.

    Departures from Keras' ``BackupAndRestore``: Keras saves the weights file
    and a JSON of the epoch separately (not atomically), keeps no callback
    state, no history and no metric accumulators, and resumes a mid-epoch
    checkpoint from the start of its epoch.  No ``double_checkpoint``: the
    atomic replace makes it unnecessary.  Implemented for the TensorFlow and
    JAX backends.  Keras' global random generator (``keras.random`` without a
    seed) is not saved.

    Args:
        backup_dir: str, a directory used only by this callback.
        save_freq: ``"epoch"`` or int >= 1 (batches between checkpoints).
        delete_checkpoint: bool, delete the checkpoint when ``fit`` ends
            normally. Default True.

    Example:

    >>> es = kerasreg.callbacks.EarlyStopping(patience=5)
    >>> model.fit(x, y, validation_data=(xv, yv), epochs=50, shuffle=False,
    ...           callbacks=[kerasreg.callbacks.BackupAndRestore("/ckpt"), es])
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        if not isinstance(backup_dir, (str, os.PathLike)) or not str(backup_dir):
            raise ValueError(f"`backup_dir` must be a non-empty path, got {backup_dir!r}.")
        if save_freq != "epoch":
            save_freq = check_int("save_freq", save_freq, low=1)
        self.backup_dir = str(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = check_bool("delete_checkpoint", delete_checkpoint)
        self.path = os.path.join(self.backup_dir, _CHECKPOINT)

    def get_config(self):
        return {"backup_dir": self.backup_dir, "save_freq": self.save_freq,
                "delete_checkpoint": self.delete_checkpoint}

    # -- the callbacks of this fit ---------------------------------------
    def _siblings(self):
        """The stateful callbacks of the ``CallbackList`` running this ``fit``."""
        frame = inspect.currentframe()
        callback_list = None
        for _ in range(8):
            frame = frame.f_back
            if frame is None:
                break
            owner = frame.f_locals.get("self")
            if isinstance(owner, keras.callbacks.CallbackList) and any(c is self for c in owner.callbacks):
                callback_list = owner
                break
        del frame
        if callback_list is None:
            warnings.warn("BackupAndRestore: no CallbackList found; only the model is backed up.")
            return [], -1
        # A callback's key is its class name and its rank among callbacks of
        # that class, so that adding or removing other callbacks between the
        # runs does not shuffle the states.
        found, own_index, seen = [], -1, {}
        for i, cb in enumerate(callback_list.callbacks):
            name = type(cb).__name__
            if cb is self:
                own_index = i
                continue
            if isinstance(cb, keras.callbacks.History):
                holder = _HistoryState(cb)
            elif callable(getattr(cb, "get_state", None)) and callable(getattr(cb, "set_state", None)):
                holder = cb
            else:
                continue
            rank = seen[name] = seen.get(name, -1) + 1
            found.append((i, f"{name}#{rank}", cb, holder))
        return found, own_index

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
        if keras.backend.backend() == "jax" and hasattr(self.model, "jax_state_sync"):
            self.model.jax_state_sync()

    # -- writing -----------------------------------------------------------
    def _save(self, epoch, step):
        self._sync()
        arrays, meta = {}, {"format": _FORMAT, "epoch": int(epoch), "step": int(step), "callbacks": {}}
        for group, variables in self._groups().items():
            meta[f"n_{group}"] = len(variables)
            for i, v in enumerate(variables):
                arrays[f"{group}/{i}"] = np.array(keras.ops.convert_to_numpy(v.value))
        for _, key, _, holder in self._stateful:
            _flatten_state(f"cb/{key}", holder.get_state(), arrays, meta["callbacks"])
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
    def _load(self):
        with np.load(self.path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        meta = json.loads(str(arrays.pop("__meta__")))
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{self.path}: unknown checkpoint format {meta.get('format')!r}.")
        for group, variables in self._groups().items():
            if group == "metrics":
                continue  # restored with the first skipped batch (see _restore_metrics)
            if meta[f"n_{group}"] != len(variables):
                raise ValueError(
                    f"{self.path}: the checkpoint has {meta[f'n_{group}']} {group} variables, the "
                    f"model {len(variables)}; was it written by a different model or compile()?"
                )
            for i, v in enumerate(variables):
                value = arrays[f"{group}/{i}"]
                if tuple(value.shape) != tuple(v.shape):
                    raise ValueError(f"{self.path}: shape mismatch for {v.path}: {value.shape} vs {v.shape}.")
                v.assign(value)
        return meta, arrays

    # -- hooks -------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._stateful, own_index = self._siblings()
        self._since_save = 0
        self._skip = 0
        self._pending_metrics = None
        self._first_epoch = True
        self._per_call = max(1, int(getattr(self.model, "steps_per_execution", 1) or 1))
        self._skipping_batch = False
        for stale in glob.glob(os.path.join(self.backup_dir, _TMP_PREFIX + "*")):
            os.remove(stale)  # the remains of a write that was killed
        if not os.path.exists(self.path):
            return
        model = self.model
        if not model.built:
            raise ValueError("BackupAndRestore needs a built model before fit().")
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        meta, arrays = self._load()
        if meta["step"]:
            self._pending_metrics = [arrays[f"metrics/{i}"] for i in range(meta["n_metrics"])]
        for index, key, cb, holder in self._stateful:
            flat = meta["callbacks"].get(f"cb/{key}")
            if flat is None:
                warnings.warn(f"BackupAndRestore: no saved state for callback {key}; it starts fresh.")
                continue
            state = _unflatten_state(flat, arrays)
            if index < own_index:
                holder.set_state(state)
            else:  # its on_train_begin (which resets it) has not run yet
                self._after_train_begin(cb, holder, state)
        # Keras' trainers start their epoch loop at ``model._initial_epoch``
        # (the hook Keras' own BackupAndRestore uses).
        model._initial_epoch = meta["epoch"]
        self._skip = meta["step"]
        if self._skip:
            self._wrap_train_function()

    @staticmethod
    def _after_train_begin(cb, holder, state):
        original = cb.on_train_begin

        def on_train_begin(logs=None):
            del cb.on_train_begin
            original(logs)
            holder.set_state(state)

        cb.on_train_begin = on_train_begin

    def _wrap_train_function(self):
        """Consume, without training, the batches the checkpoint has seen."""
        model = self.model
        original = model.train_function
        per_call = self._per_call
        jax = keras.backend.backend() == "jax"

        def train_function(*args):
            if self._skip <= 0:
                self._skipping_batch = False
                model.train_function = original
                return original(*args)
            iterator = args[-1]
            for _ in range(per_call):
                data = next(iterator)
            state = args[0] if jax else None
            if self._pending_metrics is not None:
                self._restore_metrics(data)
                if jax:  # the JAX trainer carries the state in and out of train_function
                    state = (*state[:3], [v.value for v in model.metrics_variables])
            self._skip -= per_call
            self._skipping_batch = True
            logs = {m.name: m.result() for m in model.metrics}
            return (logs, state) if jax else logs

        model.train_function = train_function

    def _restore_metrics(self, data):
        """Set the accumulators of the epoch in progress to their saved values."""
        model, saved = self.model, self._pending_metrics
        if len(model.metrics_variables) != len(saved):
            # TensorFlow without a distribution strategy builds the compiled
            # metrics when the train function is first traced; build them now
            # (on a batch being skipped) so they can be assigned.
            model._symbolic_build(data_batch=data)
        variables = model.metrics_variables
        if len(variables) != len(saved):
            raise ValueError(f"{self.path}: the checkpoint has {len(saved)} metric variables, the model "
                             f"{len(variables)}; was it written by a different compile()?")
        for v, value in zip(variables, saved):
            v.assign(value)
        self._pending_metrics = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
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
        if self.save_freq != "epoch" and not self._skipping_batch:
            self._since_save += self._per_call

    def on_train_end(self, logs=None):
        self.model._initial_epoch = None
        if self.delete_checkpoint and os.path.exists(self.path):
            os.remove(self.path)
