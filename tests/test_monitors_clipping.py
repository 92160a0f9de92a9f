"""ClippingMonitor: clip rate against a count of the batches whose numpy
gradient norm exceeds the threshold; pre-clip norms against numpy."""

import keras
import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

from kerasreg.callbacks import ClippingMonitor
from kerasreg.optimizers import GradientClipping

pytestmark = pytest.mark.jax_pass


def read_scalars(run_dir):
    acc = event_accumulator.EventAccumulator(run_dir, size_guidance={"tensors": 0})
    acc.Reload()
    return {tag: {e.step: float(tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)}
            for tag in acc.Tags()["tensors"]}


def problem():
    """4 batches of 3 with very different scales; a learning rate so small
    that the weights (and so each batch's gradient norm) stay put."""
    rng = np.random.default_rng(9)
    scales = np.repeat([0.3, 1.7, 0.7, 4.1], 3)[:, None].astype("float32")
    x = (rng.normal(size=(12, 2)) * scales).astype("float32")
    y = (rng.normal(size=(12, 1)) * scales).astype("float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    w = np.array([[0.3], [-0.7]], "float32")
    model.layers[0].set_weights([w])
    norms = []
    for b in range(4):
        xb, yb = x[3 * b:3 * b + 3].astype("float64"), y[3 * b:3 * b + 3].astype("float64")
        norms.append(np.linalg.norm(2.0 / 3 * xb.T @ (xb @ w - yb)))
    return model, x, y, np.array(norms)


def test_clip_rate_is_the_counted_fraction(tmp_path):
    model, x, y, norms = problem()
    threshold = float(np.sort(norms)[1] * 0.5 + np.sort(norms)[2] * 0.5)  # 2 of 4 over
    expected = np.mean(norms > threshold)
    assert expected == 0.5 and np.min(np.abs(norms - threshold) / threshold) > 0.05
    model.compile(GradientClipping(keras.optimizers.SGD(1e-9), threshold=threshold), loss="mse")
    monitor = ClippingMonitor(log_dir=tmp_path)
    history = model.fit(x, y, batch_size=3, epochs=3, shuffle=False, verbose=0, callbacks=[monitor])
    scalars = read_scalars(str(tmp_path / "clipping"))
    assert scalars["clipping/clip_rate"] == {0: expected, 1: expected, 2: expected}
    assert scalars["clipping/clip_count"] == {0: 2.0, 1: 4.0, 2: 6.0}
    assert history.history["clip_rate"] == [expected] * 3
    # pre-clip norm of each epoch's last step (batch 3), at step = updates before it
    assert sorted(scalars["clipping/global_norm"]) == [3, 7, 11]
    np.testing.assert_allclose(list(scalars["clipping/global_norm"].values()), [norms[3]] * 3,
                               rtol=1e-5)
    np.testing.assert_allclose(history.history["grad_norm_preclip"], [norms[3]] * 3, rtol=1e-5)


def test_threshold_above_every_norm_never_clips():
    model, x, y, norms = problem()
    model.compile(GradientClipping(keras.optimizers.SGD(1e-9), threshold=float(norms.max() * 1.3)),
                  loss="mse")
    history = model.fit(x, y, batch_size=3, epochs=2, shuffle=False, verbose=0,
                        callbacks=[ClippingMonitor()])
    assert history.history["clip_rate"] == [0.0, 0.0]


@pytest.mark.tf_only  # per-step reads need the variables synced after each batch (not on JAX)
def test_every_step_pre_clip_norms(tmp_path):
    model, x, y, norms = problem()
    model.compile(GradientClipping(keras.optimizers.SGD(1e-9), threshold=1.0), loss="mse")
    model.fit(x, y, batch_size=3, epochs=2, shuffle=False, verbose=0,
              callbacks=[ClippingMonitor(log_dir=tmp_path, every_n_steps=2)])
    logged = read_scalars(str(tmp_path / "clipping"))["clipping/global_norm"]
    assert sorted(logged) == [0, 2, 4, 6]
    for step, value in logged.items():
        np.testing.assert_allclose(value, norms[step % 4], rtol=1e-5)


def test_needs_a_clipping_optimizer():
    model, x, y, _ = problem()
    model.compile(keras.optimizers.SGD(0.1), loss="mse")
    with pytest.raises(ValueError, match="GradientClipping"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[ClippingMonitor()])
    with pytest.raises(ValueError, match="every_n_steps"):
        ClippingMonitor(every_n_steps=0)
