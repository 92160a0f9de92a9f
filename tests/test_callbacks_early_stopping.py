"""EarlyStopping + BackupAndRestore: a killed and restarted fit ends as an uninterrupted one."""

import functools
import json
import os
import signal
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from kerasreg.callbacks import BackupAndRestore, EarlyStopping

pytestmark = pytest.mark.tf_only

# The validation loss of this problem falls for 3 epochs and then rises
# (best epoch 2), so patience 3 stops it at epoch 5.
PROBLEM = textwrap.dedent(
    '''
    import keras, numpy as np

    def data():
        rng = np.random.default_rng(7)
        x = rng.normal(size=(48, 12)).astype("float32")
        w = rng.normal(size=(12, 1))
        y = (x @ w * 0.3 + rng.normal(size=(48, 1))).astype("float32")
        xv = rng.normal(size=(40, 12)).astype("float32")
        yv = (xv @ w * 0.3 + rng.normal(size=(40, 1))).astype("float32")
        return x, y, xv, yv

    def model(scramble=False):
        keras.utils.set_random_seed(3)
        m = keras.Sequential([keras.Input((12,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dropout(0.3), keras.layers.Dense(1)])
        m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
        if scramble:  # a restarted process must get everything from the checkpoint
            rng = np.random.default_rng(99)
            m.set_weights([rng.normal(size=w.shape).astype(w.dtype) for w in m.get_weights()])
        return m

    class Interrupt(keras.callbacks.Callback):
        """Stops the process after batch `batch` of epoch `epoch` (once)."""
        def __init__(self, epoch, batch, action):
            super().__init__()
            self.epoch, self.batch, self.action = epoch, batch, action
        def on_epoch_begin(self, epoch, logs=None):
            self.current = epoch
        def on_train_batch_end(self, batch, logs=None):
            if self.current == self.epoch and batch == self.batch:
                self.action()
    '''
)
ns = {}
exec(PROBLEM, ns)  # noqa: S102  (the same code the subprocess runs)


class Interrupted(Exception):
    pass


def _raise():
    raise Interrupted()


def _fit(model, callbacks, epochs=12):
    x, y, xv, yv = ns["data"]()
    return model.fit(x, y, batch_size=8, epochs=epochs, validation_data=(xv, yv), shuffle=False,
                     verbose=0, callbacks=callbacks)


@functools.lru_cache(maxsize=None)
def _uninterrupted(es_cls=EarlyStopping):
    """(final weights, early stopping, history) of the run never interrupted."""
    model = ns["model"]()
    es = es_cls(patience=3, restore_best_weights=True)
    history = _fit(model, [es])
    return model.get_weights(), es, history


def _keeping(backup, es):
    """kerasreg's ``backup`` made to keep the state of ``es`` (Keras' as it is)."""
    if not isinstance(backup, BackupAndRestore):
        return backup
    return BackupAndRestore(backup.backup_dir, save_freq=backup.save_freq, callbacks=[es])


def _interrupted(tmp_path, backup, es_cls, epoch=4, batch=3):
    model = ns["model"]()
    es = es_cls(patience=3, restore_best_weights=True)
    with pytest.raises(Interrupted):
        _fit(model, [_keeping(backup, es), es, ns["Interrupt"](epoch, batch, _raise)])
    keras.backend.clear_session()
    model = ns["model"](scramble=True)
    es = es_cls(patience=3, restore_best_weights=True)
    history = _fit(model, [_keeping(backup, es), es])
    return model, es, history


def _assert_same_weights(a, b, atol=1e-6):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=0, atol=atol)


@pytest.mark.slow
@pytest.mark.parametrize("save_freq", ["epoch", 2])
def test_restart_continues_patience_and_keeps_true_best(tmp_path, save_freq):
    ref_weights, ref_es, ref_hist = _uninterrupted()
    assert (ref_es.best_epoch, ref_es.stopped_epoch) == (2, 5)  # the problem is built for this
    backup = BackupAndRestore(str(tmp_path / "ckpt"), save_freq=save_freq)
    model, es, hist = _interrupted(tmp_path, backup, EarlyStopping)
    assert (es.best_epoch, es.stopped_epoch, es.wait) == (ref_es.best_epoch, ref_es.stopped_epoch, ref_es.wait)
    np.testing.assert_allclose(es.best, ref_es.best, rtol=1e-6)
    _assert_same_weights(es.best_weights, ref_es.best_weights)
    _assert_same_weights(model.get_weights(), ref_weights)
    # The history of the whole run, not only of the second process.
    assert hist.epoch == ref_hist.epoch
    for key in ref_hist.history:
        np.testing.assert_allclose(hist.history[key], ref_hist.history[key], rtol=1e-5, err_msg=key)
    assert not os.path.exists(backup.path)  # deleted after a normal end


@pytest.mark.slow
def test_keras_early_stopping_loses_its_state(tmp_path):
    """Keras' own EarlyStopping with Keras' BackupAndRestore: after the
    restart it has forgotten epoch 2 and returns other weights."""
    _, ref_es, _ = _uninterrupted(keras.callbacks.EarlyStopping)
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "keras_ckpt"))
    model, es, _ = _interrupted(tmp_path, backup, keras.callbacks.EarlyStopping)
    assert ref_es.best_epoch == 2
    assert es.best_epoch != ref_es.best_epoch
    assert es.stopped_epoch != ref_es.stopped_epoch


@pytest.mark.slow
def test_mid_epoch_resume_restores_optimizer_slots_and_metrics(tmp_path):
    """save_freq=3 with 6 batches an epoch: a checkpoint at the start of batch
    3 of epoch 1.  After the restart, at that batch, the Adam slots, step
    counter and partial-epoch metric sums equal the saved ones, and the
    batches already seen are not trained on twice."""
    backup = BackupAndRestore(str(tmp_path / "ckpt"), save_freq=3)
    seen = {}

    class Probe(keras.callbacks.Callback):
        """After the backup in the list: sees the state the checkpoint holds."""

        def __init__(self, key, stop):
            super().__init__()
            self.key, self.stop = key, stop

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            if self.epoch == 1 and batch == 3:
                seen[self.key] = ([np.array(v) for v in self.model.optimizer.variables],
                                  [np.array(v) for v in self.model.metrics_variables])

        def on_train_batch_end(self, batch, logs=None):
            if self.stop and self.epoch == 1 and batch == 3:
                _raise()

    model = ns["model"]()
    with pytest.raises(Interrupted):
        _fit(model, [backup, Probe("saved", True)], epochs=2)
    assert os.path.exists(backup.path)
    keras.backend.clear_session()
    model = ns["model"](scramble=True)
    _fit(model, [backup, Probe("resumed", False)], epochs=2)
    (opt_saved, met_saved), (opt_resumed, met_resumed) = seen["saved"], seen["resumed"]
    assert int(opt_resumed[0]) == 6 + 3  # iterations: epoch 0 (6 batches) + 3
    assert any(np.any(m != 0) for m in met_resumed)
    _assert_same_weights(opt_resumed, opt_saved, atol=0)
    _assert_same_weights(met_resumed, met_saved, atol=0)
    assert int(np.array(model.optimizer.iterations)) == 12


@pytest.mark.slow
def test_a_killed_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    backup = BackupAndRestore(str(tmp_path / "ckpt"), delete_checkpoint=False)
    model = ns["model"]()
    _fit(model, [backup], epochs=3)  # checkpoint of the start of epoch 2
    before = open(backup.path, "rb").read()

    def dies(f, **arrays):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt()  # as if killed in the middle of the write

    monkeypatch.setattr(np, "savez", dies)
    with pytest.raises(KeyboardInterrupt):
        _fit(model, [BackupAndRestore(str(tmp_path / "ckpt"))], epochs=4)
    monkeypatch.undo()
    assert open(backup.path, "rb").read() == before
    # A leftover temporary file (a SIGKILL skips the clean-up) is ignored and removed.
    stray = tmp_path / "ckpt" / ".tmp-checkpoint-x.npz"
    stray.write_bytes(b"garbage")
    model = ns["model"](scramble=True)
    hist = _fit(model, [BackupAndRestore(str(tmp_path / "ckpt"))], epochs=4)
    assert hist.epoch == [0, 1, 2, 3] and not stray.exists()


def test_early_stopping_rule_on_a_given_sequence():
    """Patience counted as in the docstring, on values fed directly."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    es = EarlyStopping(monitor="val_loss", patience=3, min_delta=0.05)
    es.set_model(model)
    es.on_train_begin()
    values = [0.9, 0.7, 0.68, 0.66, 0.61, 0.6, 0.59, 0.58, 0.1]
    stopped = None
    for epoch, v in enumerate(values):
        model.stop_training = False
        es.on_epoch_end(epoch, {"val_loss": v})
        if model.stop_training:
            stopped = epoch
            break
    # 0.7 < 0.9 - 0.05: best; 0.68, 0.66 are not below 0.65 (wait 1, 2);
    # 0.61 < 0.65: best at epoch 4; 0.6, 0.59, 0.58 are not below 0.56: the
    # third of them exhausts the patience of 3, at epoch 7.
    assert (es.best_epoch, stopped, es.stopped_epoch) == (4, 7, 7)
    assert es.get_config()["min_delta"] == 0.05
    state = json.loads(json.dumps({k: v for k, v in es.state_dict().items() if k != "best_weights"}))
    assert state == {"best": pytest.approx(0.61), "best_epoch": 4, "wait": 3, "stopped_epoch": 7}


@pytest.mark.parametrize("kwargs, name", [({"patience": -1}, "patience"), ({"min_delta": -0.1}, "min_delta"),
                                          ({"mode": "up"}, "mode"), ({"start_from_epoch": 1.5}, "start_from_epoch"),
                                          ({"restore_best_weights": 1}, "restore_best_weights")])
def test_early_stopping_bad_arguments(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        EarlyStopping(**kwargs)


@pytest.mark.parametrize("kwargs, name", [({"backup_dir": ""}, "backup_dir"), ({"save_freq": 0}, "save_freq"),
                                          ({"save_freq": "batch"}, "save_freq"),
                                          ({"delete_checkpoint": "yes"}, "delete_checkpoint")])
def test_backup_bad_arguments(kwargs, name, tmp_path):
    with pytest.raises((ValueError, TypeError), match=name):
        BackupAndRestore(**{"backup_dir": str(tmp_path), **kwargs})


SCRIPT = PROBLEM + textwrap.dedent(
    '''
    import os, signal, sys
    from kerasreg.callbacks import BackupAndRestore, EarlyStopping
    backup_dir, out, kill_epoch, kill_batch, save_freq = sys.argv[1:6]
    save_freq = save_freq if save_freq == "epoch" else int(save_freq)
    marker = os.path.join(os.path.dirname(out), "killed-once")
    first = not os.path.exists(marker)
    model = model(scramble=not first)

    def kill():
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)

    es = EarlyStopping(patience=3)
    cbs = [BackupAndRestore(backup_dir, save_freq=save_freq, callbacks=[es]), es]
    if first and int(kill_epoch) >= 0:
        cbs.append(Interrupt(int(kill_epoch), int(kill_batch), kill))
    x, y, xv, yv = data()
    h = model.fit(x, y, batch_size=8, epochs=12, validation_data=(xv, yv), shuffle=False, verbose=0,
                  callbacks=cbs)
    np.savez(out, best_epoch=es.best_epoch, stopped_epoch=es.stopped_epoch,
             val_loss=np.array(h.history["val_loss"]),
             **{f"best{i}": w for i, w in enumerate(es.best_weights)},
             **{f"final{i}": w for i, w in enumerate(model.get_weights())})
    '''
)


@pytest.mark.slow
def test_sigkill_mid_run_then_restart_matches_uninterrupted(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}

    def run(name, kill_epoch, kill_batch, save_freq):
        d = tmp_path / name
        d.mkdir(exist_ok=True)
        args = [sys.executable, str(script), str(d / "ckpt"), str(d / "out.npz"), str(kill_epoch),
                str(kill_batch), str(save_freq)]
        return subprocess.run(args, env=env, timeout=300, capture_output=True, text=True), d / "out.npz"

    first, out = run("killed", 4, 3, 2)  # mid-epoch 4, one batch after a checkpoint
    assert first.returncode == -signal.SIGKILL, first.stderr[-2000:]
    assert not out.exists()
    second, out = run("killed", 4, 3, 2)
    assert second.returncode == 0, second.stderr[-2000:]
    # The uninterrupted run of the same code, in this process.
    ref_weights, ref_es, ref_hist = _uninterrupted()
    b = np.load(out)
    assert int(b["best_epoch"]) == ref_es.best_epoch == 2
    assert int(b["stopped_epoch"]) == ref_es.stopped_epoch == 5
    np.testing.assert_allclose(b["val_loss"], ref_hist.history["val_loss"], rtol=1e-5)
    for i, w in enumerate(ref_es.best_weights):
        np.testing.assert_allclose(b[f"best{i}"], w, rtol=0, atol=1e-6)
    for i, w in enumerate(ref_weights):
        np.testing.assert_allclose(b[f"final{i}"], w, rtol=0, atol=1e-6)
