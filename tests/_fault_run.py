"""One run of the fault-tolerance test (tests/test_fault_sigkill.py).

Usage: python _fault_run.py BACKUP_DIR OUT.npz
``KERASREG_KILL`` picks where this process SIGKILLs itself (unset: never):
``step:K`` after global step K; ``epoch_end:E`` at the end of epoch E, after
validation and every other callback, before its checkpoint; ``savez:N``
halfway through writing the bytes of this process' N-th checkpoint;
``replace:N`` with the N-th checkpoint fully written but not yet moved in place.
"""

import io
import os
import signal
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

EPOCHS, BATCH = 6, 8


def data():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(40, 6)).astype("float32")
    y = (x[:, 0] - 0.7 * x[:, 1] > 0.2).astype("int32") + (x[:, 3] > 0.9).astype("int32")
    xv = rng.normal(size=(16, 6)).astype("float32")
    yv = (xv[:, 0] - 0.7 * xv[:, 1] > 0.2).astype("int32") + (xv[:, 3] > 0.9).astype("int32")
    return x, y, xv, yv


def build():
    from kerasreg.optimizers import Adam

    keras.utils.set_random_seed(9)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(12, activation="tanh"),
                              keras.layers.Dense(3)])
    model.compile(optimizer=Adam(0.03), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _die():
    os.kill(os.getpid(), signal.SIGKILL)


class _KillAt(keras.callbacks.Callback):
    def __init__(self, what, n):
        super().__init__()
        self.what, self.n = what, n

    def on_train_batch_end(self, batch, logs=None):
        if self.what == "step" and int(self.model.optimizer.iterations) == self.n:
            _die()

    def on_epoch_end(self, epoch, logs=None):
        if self.what == "epoch_end" and epoch == self.n:
            _die()


def _arm_writer_kill(what, n):
    """Kill inside BackupAndRestore's write (its module's numpy/os calls)."""
    from kerasreg.callbacks import backup_and_restore as bar

    count = {"saves": 0}
    real_savez, real_replace = np.savez, os.replace

    def savez(file, *args, **kwargs):
        count["saves"] += 1
        if what == "savez" and count["saves"] == n:
            buf = io.BytesIO()
            real_savez(buf, *args, **kwargs)
            raw = buf.getvalue()
            file.write(raw[: len(raw) // 2])
            file.flush()
            os.fsync(file.fileno())
            _die()
        return real_savez(file, *args, **kwargs)

    def replace(src, dst, *args, **kwargs):
        if what == "replace" and count["saves"] == n:
            _die()
        return real_replace(src, dst, *args, **kwargs)

    class _NP:  # numpy, except savez
        def __getattr__(self, name):
            return savez if name == "savez" else getattr(np, name)

    class _OS:  # os, except replace
        def __getattr__(self, name):
            return replace if name == "replace" else getattr(os, name)

    bar.np, bar.os = _NP(), _OS()


def train(backup_dir, kill=None):
    from kerasreg.callbacks import BackupAndRestore, EarlyStopping

    model = build()
    es = EarlyStopping(monitor="val_loss", patience=20, restore_best_weights=False)
    callbacks = [BackupAndRestore(backup_dir, save_freq=2, delete_checkpoint=False, callbacks=[es]), es]
    if kill:
        what, n = kill.split(":")
        if what in ("savez", "replace"):
            _arm_writer_kill(what, int(n))
        else:
            callbacks.append(_KillAt(what, int(n)))
    x, y, xv, yv = data()
    history = model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, validation_data=(xv, yv),
                        shuffle=False, verbose=0, callbacks=callbacks)
    return model, es, history


def state(model, es, history):
    """Everything that must survive: weights, optimizer slots, callback state, history."""
    out = {f"weight/{i}": w for i, w in enumerate(model.get_weights())}
    out.update({f"optimizer/{v.path}": np.array(v) for v in model.optimizer.variables})
    out["es/best"] = np.array(es.best, dtype="float64")
    out["es/wait"] = np.array(es.wait)
    out["es/best_epoch"] = np.array(es.best_epoch)
    for k, v in history.history.items():
        out[f"history/{k}"] = np.array(v)
    return out


if __name__ == "__main__":
    result = state(*train(sys.argv[1], os.environ.get("KERASREG_KILL")))
    np.savez(sys.argv[2], **result)
