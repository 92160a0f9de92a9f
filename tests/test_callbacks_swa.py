"""StochasticWeightAveraging: the average of the recorded weights, BN statistics recomputed."""

import keras
import numpy as np
import pytest

from kerasreg.callbacks import StochasticWeightAveraging

pytestmark = pytest.mark.jax_pass


def _data():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(48, 3)).astype("float32") * 1.7 + 0.3
    y = (x @ np.array([[0.3], [-0.7], [1.1]]) + 0.1 * rng.normal(size=(48, 1))).astype("float32")
    return x, y


def _model():
    inputs = keras.Input((3,))
    h = keras.layers.Dense(4, name="d1")(inputs)
    h = keras.layers.BatchNormalization(momentum=0.7, name="bn")(h)
    outputs = keras.layers.Dense(1, name="d2")(keras.layers.Activation("tanh")(h))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.07), loss="mse")
    return model


class Record(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([np.array(v) for v in self.model.trainable_variables])


def test_average_and_batch_norm_statistics():
    x, y = _data()
    model = _model()
    rec = Record()
    swa = StochasticWeightAveraging(start_epoch=2, freq=2, data=x, batch_size=16)
    model.fit(x, y, batch_size=8, epochs=7, shuffle=False, verbose=0, callbacks=[rec, swa])
    # Epochs 2, 4, 6 are averaged.
    expected = [np.mean([rec.weights[e][i] for e in (2, 4, 6)], axis=0) for i in range(len(rec.weights[0]))]
    assert swa.n_averaged == 3
    for v, e in zip(model.trainable_variables, expected):
        np.testing.assert_allclose(np.array(v), e, rtol=1e-6, atol=1e-7)
    assert np.max(np.abs(expected[0] - rec.weights[-1][0])) > 1e-4  # the average is not the last weights
    # BN inputs under the averaged weights; statistics = mean over the 3 batches of 16
    # of the batch mean and biased variance (the docstring's rule).
    names = [v.path for v in model.trainable_variables]
    w1, b1 = expected[names.index("d1/kernel")], expected[names.index("d1/bias")]
    h = x.astype("float64") @ w1 + b1
    batches = [h[i:i + 16] for i in range(0, 48, 16)]
    mean = np.mean([b.mean(0) for b in batches], axis=0)
    var = np.mean([b.var(0) for b in batches], axis=0)
    bn = model.get_layer("bn")
    np.testing.assert_allclose(np.array(bn.moving_mean), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.array(bn.moving_variance), var, rtol=1e-5, atol=1e-6)
    assert bn.momentum == 0.7  # put back
    # One batch of all the data gives the statistics of the data.
    swa.update_batch_norm([x])
    np.testing.assert_allclose(np.array(bn.moving_mean), h.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.array(bn.moving_variance), h.var(0), rtol=1e-5, atol=1e-6)


def test_state_protocol_round_trip():
    swa = StochasticWeightAveraging(start_epoch=0)
    swa.load_state_dict({"n_averaged": 2, "average": [np.array([0.3, 0.7])]})
    state = swa.state_dict()
    assert state["n_averaged"] == 2 and np.allclose(state["average"][0], [0.3, 0.7])


@pytest.mark.parametrize("kwargs, name", [({"start_epoch": -1}, "start_epoch"), ({"freq": 0}, "freq"),
                                          ({"batch_size": 0}, "batch_size")])
def test_bad_arguments(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        StochasticWeightAveraging(**{"start_epoch": 1, **kwargs})


@pytest.mark.slow
def test_average_survives_a_restart(tmp_path):
    """With kerasreg's BackupAndRestore the running average is checkpointed:
    an interrupted and restarted fit ends with the uninterrupted average."""
    from kerasreg.callbacks import BackupAndRestore

    x, y = _data()

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 4:
                raise KeyboardInterrupt()

    def run(extra, backup):
        keras.utils.set_random_seed(1)
        model = _model()
        swa = StochasticWeightAveraging(start_epoch=2, data=x, batch_size=16)
        cbs = ([BackupAndRestore(backup, callbacks=[swa])] if backup else []) + [swa] + extra
        model.fit(x, y, batch_size=8, epochs=7, shuffle=False, verbose=0, callbacks=cbs)
        return model, swa

    ref, ref_swa = run([], None)
    backup = str(tmp_path / "ckpt")
    with pytest.raises(KeyboardInterrupt):
        run([Stop()], backup)
    model, swa = run([], backup)
    assert swa.n_averaged == ref_swa.n_averaged == 5
    for a, b in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
