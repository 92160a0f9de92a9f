"""BackupAndRestore mid-epoch resume, backend-neutral (also runs on the JAX pass)."""

import keras
import numpy as np
import pytest

from kerasreg.callbacks import BackupAndRestore

pytestmark = pytest.mark.jax_pass


class Boom(Exception):
    pass


class Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 2 and batch == 3:
            raise Boom()


def _model():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    return m


def test_mid_epoch_resume_is_exact(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 5)).astype("float32")
    y = np.sin(x).sum(1, keepdims=True).astype("float32")
    fit = dict(batch_size=8, epochs=4, shuffle=False, verbose=0)
    ref = _model()
    ref_hist = ref.fit(x, y, **fit)
    backup = BackupAndRestore(str(tmp_path / "ckpt"), save_freq=2)
    with pytest.raises(Boom):
        _model().fit(x, y, callbacks=[backup, Interrupt()], **fit)
    model = _model()
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])  # all must come from the checkpoint
    hist = model.fit(x, y, callbacks=[backup], **fit)
    for a, b in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert hist.epoch == [0, 1, 2, 3]
    # The loss of the resumed epoch 2 includes the batches trained before the kill.
    for key in ("loss", "mae"):
        np.testing.assert_allclose(hist.history[key], ref_hist.history[key], rtol=1e-6, err_msg=key)
    assert int(np.array(model.optimizer.iterations)) == 24
