"""ActivationMonitor: statistics, dead units and drift against a numpy forward
pass on a fixed batch, read back from the event files."""

import keras
import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

from kerasreg.callbacks import ActivationMonitor

pytestmark = pytest.mark.jax_pass


def read_run(run_dir):
    acc = event_accumulator.EventAccumulator(run_dir, size_guidance={"tensors": 0})
    acc.Reload()
    return {tag: {e.step: tensor_util.make_ndarray(e.tensor_proto) for e in acc.Tensors(tag)}
            for tag in acc.Tags()["tensors"]}


def numpy_stats(a):
    """The docstring's formulas, per unit on the last axis."""
    mu, sd = a.mean(axis=0), a.std(axis=0)
    dead = np.all(a == 0, axis=0)
    return {"mean": a.mean(), "std": a.std(), "zero_fraction": np.mean(a == 0),
            "dead_fraction": dead.mean(), "dead_units": dead.sum(), "mu": mu, "sd": sd}


def test_stats_dead_units_and_drift_match_numpy(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = rng.normal(size=(32, 2)).astype("float32")
    model = keras.Sequential([keras.Input((3,)),
                              keras.layers.Dense(6, activation="relu", name="h1"),
                              keras.layers.Dense(2, name="out")])
    kernel = rng.normal(size=(3, 6)).astype("float32") * 0.3
    bias = np.array([0.1, -50.0, 0.2, -50.0, 0.0, 0.3], "float32")  # units 1 and 3 dead
    model.layers[0].set_weights([kernel, bias])
    model.compile(keras.optimizers.SGD(0.07), loss="mse")
    snapshots = []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append([np.array(w, "float64") for w in self.model.get_weights()])

    monitor = ActivationMonitor(x, log_dir=tmp_path)
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[Snapshot(), monitor])
    events = read_run(str(tmp_path / "activations"))
    previous = None
    for epoch, (k1, b1, k2, b2) in enumerate(snapshots):
        h1 = np.maximum(x @ k1 + b1, 0.0)
        out = h1 @ k2 + b2
        for name, a in (("h1", h1), ("out", out)):
            ref = numpy_stats(a)
            for key in ("mean", "std", "zero_fraction", "dead_fraction", "dead_units"):
                np.testing.assert_allclose(events[f"activations/{name}/{key}"][epoch], ref[key],
                                           rtol=1e-5, atol=1e-6, err_msg=f"{name} {key} {epoch}")
            if previous is not None:
                p = previous[name]
                np.testing.assert_allclose(events[f"activations/{name}/mean_drift"][epoch],
                                           np.mean(np.abs(ref["mu"] - p["mu"])), rtol=1e-4, atol=1e-7)
                np.testing.assert_allclose(events[f"activations/{name}/std_drift"][epoch],
                                           np.mean(np.abs(ref["sd"] - p["sd"])), rtol=1e-4, atol=1e-7)
            # histogram of all activations: counts add up to every value
            hist = events[f"activations/{name}/values"][epoch]
            assert hist[:, 2].sum() == a.size
            np.testing.assert_allclose(hist[0, 0], a.min(), rtol=1e-5, atol=1e-6)
        previous = {"h1": numpy_stats(h1), "out": numpy_stats(out)}
    assert events["activations/h1/dead_units"][0] == 2
    assert 0 not in events["activations/h1/mean_drift"]  # no drift at the first check
    np.testing.assert_allclose(history.history["activation_dead_fraction"], [2 / 8] * 3)
    assert np.isnan(history.history["activation_drift"][0])
    assert history.history["activation_drift"][2] > 0


def test_selected_layers_and_every_n_epochs():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(10, 4)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="tanh", name="a"),
                              keras.layers.Dense(1, name="b")])
    model.compile("sgd", "mse")
    monitor = ActivationMonitor(x, every_n_epochs=2, layers=["a"])
    history = model.fit(x, x[:, :1], epochs=4, verbose=0, callbacks=[monitor])
    assert [h["epoch"] for h in monitor.history] == [1, 3]
    assert all(set(k.split("/")[1] for k in h if "/" in k) == {"a"} for h in monitor.history)
    assert np.isnan(history.history["activation_dead_fraction"][0])
    assert history.history["activation_dead_fraction"][1] == 0.0


def test_bad_arguments():
    x = np.zeros((2, 3), "float32")
    with pytest.raises(ValueError, match="every_n_epochs"):
        ActivationMonitor(x, every_n_epochs=0)
    with pytest.raises(TypeError, match="layers"):
        ActivationMonitor(x, layers="dense")
    with pytest.raises(TypeError, match="histograms"):
        ActivationMonitor(x, histograms=1)


def test_bad_input_is_rejected_at_construction():
    with pytest.raises(TypeError, match="`x`"):
        ActivationMonitor(None)
    with pytest.raises(TypeError, match="`x`"):
        ActivationMonitor("digits")
    with pytest.raises(ValueError, match="`x`"):
        ActivationMonitor(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="`x`"):
        ActivationMonitor([np.zeros((4, 3)), np.zeros((5, 2))])
    with pytest.raises(ValueError, match="layers"):
        ActivationMonitor(np.zeros((4, 3)), layers=[])
    with pytest.raises(TypeError, match="layers"):
        ActivationMonitor(np.zeros((4, 3)), layers=[3])
    with pytest.raises(TypeError, match="log_dir"):
        ActivationMonitor(np.zeros((4, 3)), log_dir=7)
    with pytest.raises(TypeError, match="subdir"):
        ActivationMonitor(np.zeros((4, 3)), subdir=None)
