"""GradientMonitor: the lecture's exploding / vanishing example in closed form,
and logged norms against a numpy SGD reference, read back from the event files."""

import keras
import numpy as np
import pytest
from keras import ops
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

from kerasreg.callbacks import GradientMonitor
from kerasreg.optimizers import GradientMonitoring

pytestmark = pytest.mark.jax_pass  # the norms live in optimizer variables: every backend


def read_scalars(run_dir):
    """``{tag: {step: value}}`` of a run, with TensorBoard's own reader."""
    acc = event_accumulator.EventAccumulator(run_dir, size_guidance={"tensors": 0, "scalars": 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags()["tensors"]:
        out[tag] = {e.step: float(tensor_util.make_ndarray(e.tensor_proto))
                    for e in acc.Tensors(tag)}
    for tag in acc.Tags()["scalars"]:
        out[tag] = {e.step: e.value for e in acc.Scalars(tag)}
    return out


class Chain(keras.layers.Layer):
    """The lecture's h_i = W h_{i-1}, i = 1..n, W = diag(a, b) shared by all n layers."""

    def __init__(self, n, a, b, **kwargs):
        super().__init__(**kwargs)
        self.n, self.a0, self.b0 = n, a, b

    def build(self, input_shape):
        self.a = self.add_weight(shape=(), initializer=keras.initializers.Constant(self.a0), name="a")
        self.b = self.add_weight(shape=(), initializer=keras.initializers.Constant(self.b0), name="b")

    def call(self, x):
        h1, h2 = x[:, :1], x[:, 1:]
        for _ in range(self.n):
            h1, h2 = h1 * self.a, h2 * self.b
        return ops.concatenate([h1, h2], axis=-1)


def fit_chain(n, a, b, log_dir):
    """One step on x = [1, 1] with loss sum(y) = a^n + b^n, whose gradient is
    the lecture's [n a^(n-1), n b^(n-1)]; the learning rate is negligible."""
    model = keras.Sequential([keras.Input((2,)), Chain(n, a, b, name="chain")], name="lecture")
    monitor = GradientMonitor(every_n_steps=1, log_dir=log_dir)
    model.compile(monitor.wrap(keras.optimizers.SGD(1e-30)), loss=lambda y, p: ops.sum(p, axis=-1))
    history = model.fit(np.ones((1, 2), "float32"), np.zeros((1, 2), "float32"),
                        epochs=1, verbose=0, callbacks=[monitor])
    return model, monitor, history, read_scalars(str(log_dir / "gradients"))


@pytest.mark.parametrize(
    "n,a,b,verdict",
    [(20, 1.0, 2.0, "exploding"), (200, 0.5, 0.9, "vanishing"), (7, 1.0, 1.1, "healthy")],
)
def test_lecture_linear_network_closed_form_and_verdict(tmp_path, n, a, b, verdict):
    _, monitor, history, scalars = fit_chain(n, a, b, tmp_path)
    closed = np.array([n * a ** (n - 1), n * b ** (n - 1)])  # [n, n 2^(n-1)] in case 1
    logged = np.array([scalars["grad_norm/variable/chain/a"][0],
                       scalars["grad_norm/variable/chain/b"][0]])
    np.testing.assert_allclose(logged, closed, rtol=1e-4, atol=1e-30)
    np.testing.assert_allclose(scalars["grad_norm/layer/chain"][0],
                               np.linalg.norm(closed), rtol=1e-4, atol=1e-30)
    np.testing.assert_allclose(scalars["grad_norm/global"][0], np.linalg.norm(closed),
                               rtol=1e-4, atol=1e-30)
    code = {"exploding": 1.0, "healthy": 0.0, "vanishing": -1.0}[verdict]
    assert monitor.verdict == verdict
    assert scalars["grad_verdict"][0] == code
    assert history.history["grad_verdict"] == [code]
    np.testing.assert_allclose(history.history["grad_norm"], [np.linalg.norm(closed)],
                               rtol=1e-4, atol=1e-30)


def test_case_one_is_n_and_n_two_to_the_n_minus_one(tmp_path):
    n = 20
    _, _, _, scalars = fit_chain(n, 1.0, 2.0, tmp_path)
    assert scalars["grad_norm/variable/chain/a"][0] == pytest.approx(n, rel=1e-6)
    assert scalars["grad_norm/variable/chain/b"][0] == pytest.approx(
        n * 2 ** (n - 1), rel=1e-6)


def numpy_sgd_norms(x, y, kernel, bias, lr, batch, steps):
    """Per-step gradient norms of mean((x W + c - y)^2) under plain SGD."""
    kernel, bias = kernel.astype("float64"), bias.astype("float64")
    out = []
    nb = len(x) // batch
    for t in range(steps):
        xb = x[(t % nb) * batch:(t % nb + 1) * batch].astype("float64")
        yb = y[(t % nb) * batch:(t % nb + 1) * batch].astype("float64")
        r = xb @ kernel + bias - yb
        g_w = 2.0 / r.size * xb.T @ r
        g_b = 2.0 / r.size * r.sum(axis=0)
        out.append((np.linalg.norm(g_w), np.linalg.norm(g_b)))
        kernel, bias = kernel - lr * g_w, bias - lr * g_b
    return np.array(out)


def test_logged_norms_match_numpy_sgd_every_n_steps(tmp_path):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(8, 3)).astype("float32")
    y = rng.normal(size=(8, 2)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense")], name="lin")
    monitor = GradientMonitor(every_n_steps=3, log_dir=tmp_path)
    model.compile(monitor.wrap(keras.optimizers.SGD(0.07)), loss="mse")
    kernel, bias = [np.array(w) for w in model.get_weights()]
    history = model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0,
                        callbacks=[monitor])
    ref = numpy_sgd_norms(x, y, kernel, bias, 0.07, 2, 8)
    scalars = read_scalars(str(tmp_path / "gradients"))
    assert sorted(scalars["grad_norm/global"]) == [0, 3, 6]
    for t in (0, 3, 6):
        np.testing.assert_allclose(scalars["grad_norm/variable/dense/kernel"][t], ref[t, 0], rtol=1e-5)
        np.testing.assert_allclose(scalars["grad_norm/variable/dense/bias"][t], ref[t, 1], rtol=1e-5)
        np.testing.assert_allclose(scalars["grad_norm/layer/dense"][t], np.hypot(*ref[t]), rtol=1e-5)
    # epoch 0 logged steps 0 and 3, epoch 1 logged step 6: logs hold the last one
    np.testing.assert_allclose(history.history["grad_norm"], np.hypot(*ref[[3, 6]].T), rtol=1e-5)
    assert [h["steps"] for h in monitor.history] == [[0, 3], [6]]


def test_training_unchanged_and_nothing_replaced(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(12, 4)).astype("float32")
    y = rng.normal(size=(12, 1)).astype("float32")

    def run(monitor):
        keras.utils.set_random_seed(5)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="tanh"),
                                  keras.layers.Dense(1)])
        optimizer = keras.optimizers.SGD(0.03)
        model.compile(monitor.wrap(optimizer) if monitor else optimizer, loss="mse")
        model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0,
                  callbacks=[monitor] if monitor else [])
        return model

    plain = run(None)
    monitor = GradientMonitor(every_n_steps=2)
    monitored = run(monitor)
    for a, b in zip(plain.get_weights(), monitored.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert "apply" not in vars(monitored.optimizer)
    assert "apply" not in vars(monitored.optimizer.optimizer)
    assert [h["steps"] for h in monitor.history] == [[0, 2], [4]]
    monitored.fit(x, y, epochs=1, verbose=0)  # trains again without the callback
    assert int(np.asarray(monitored.optimizer.norm_count)) == 4  # still recorded


def test_unwrapped_optimizer_is_a_clear_error():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), loss="mse")
    with pytest.raises(ValueError, match=r"monitor\.wrap"):
        model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0, callbacks=[GradientMonitor()])
    monitor = GradientMonitor(every_n_steps=3)
    model.compile(GradientMonitoring(keras.optimizers.SGD(0.1), every_n_steps=2), loss="mse")
    with pytest.raises(ValueError, match="every_n_steps"):
        model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0, callbacks=[monitor])


def test_tags_have_no_automatic_model_prefix_and_histograms(tmp_path):
    x = np.random.default_rng(1).normal(size=(8, 3)).astype("float32")
    y = np.zeros((8, 1), "float32")
    tags = []
    for run in range(2):  # two runs in one process: sequential, sequential_1
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="hidden"),
                                  keras.layers.Dense(1, name="out")])
        monitor = GradientMonitor(log_dir=tmp_path / str(run), histograms=True)
        model.compile(monitor.wrap("sgd"), loss="mse")
        model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[monitor])
        acc = event_accumulator.EventAccumulator(str(tmp_path / str(run) / "gradients"),
                                                 size_guidance={"tensors": 0})
        acc.Reload()
        tags.append(sorted(acc.Tags()["tensors"]))
    assert tags[0] == tags[1]
    for name in ("grad_norm/layer/hidden", "grad_norm/variable/out/bias",
                 "weights/hidden/kernel", "gradients/hidden/kernel", "gradients/out/bias"):
        assert name in tags[0]
    hist = tensor_util.make_ndarray(acc.Tensors("weights/out/kernel")[0].tensor_proto)
    assert hist.shape[-1] == 3 and hist[:, 2].sum() == 2  # (left, right, count) buckets


def test_bad_arguments():
    with pytest.raises(ValueError, match="every_n_steps"):
        GradientMonitor(every_n_steps=0)
    with pytest.raises(ValueError, match="explode_threshold"):
        GradientMonitor(explode_threshold=-1.0)
    with pytest.raises(ValueError, match="vanish_threshold"):
        GradientMonitor(explode_threshold=1.0, vanish_threshold=2.0)
    with pytest.raises(TypeError, match="subdir"):
        GradientMonitor(subdir=3)
    with pytest.raises(TypeError, match="log_dir"):
        GradientMonitor(log_dir=3)
    with pytest.raises(TypeError, match="histograms"):
        GradientMonitor(histograms="yes")
    with pytest.raises(ValueError, match="capacity"):
        GradientMonitoring("sgd", capacity=0)
    with pytest.raises(ValueError, match="every_n_steps"):
        GradientMonitoring("sgd", every_n_steps=0)


class DiagVector(keras.layers.Layer):
    """h -> diag(w) h applied n times, w one 2-vector variable."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = n

    def build(self, input_shape):
        self.w = self.add_weight(shape=(2,), initializer=keras.initializers.Constant([1.0, 2.0]), name="w")

    def call(self, x):
        for _ in range(self.n):
            x = x * self.w
        return x


def test_norm_of_huge_but_finite_gradient_does_not_overflow(tmp_path):
    # n = 100, a = 1, b = 2: grad = [100, 100 * 2^99] ~ 6.3e31, finite in float32,
    # but its square (4e63) is not: the norm must still be finite and exact.
    n = 100
    model = keras.Sequential([keras.Input((2,)), DiagVector(n, name="diag")], name="lecture")
    monitor = GradientMonitor(every_n_steps=1, log_dir=tmp_path)
    model.compile(monitor.wrap(keras.optimizers.SGD(1e-30)), loss=lambda y, p: ops.sum(p, axis=-1))
    model.fit(np.ones((1, 2), "float32"), np.zeros((1, 2), "float32"), epochs=1, verbose=0, callbacks=[monitor])
    closed = np.hypot(float(n), n * 2.0 ** (n - 1))
    assert monitor.history[-1]["global"][0] == pytest.approx(closed, rel=1e-5)
    assert monitor.verdict == "exploding"


def test_norm_of_a_gradient_whose_squares_underflow_to_zero(tmp_path):
    # n = 100: grad = n w^(n-1).  w = [0.5, 0.6]: [1.6e-28, 1.1e-20], squares 2.5e-56 (0 in float32) and
    # 1.2e-40 (a denormal, or 0 where denormals are flushed); w = [0.45, 0.5]: [5.2e-33, 1.6e-28], both
    # squares 0 in float32 (every intermediate of the chain stays a normal number).  The lecture's
    # vanishing network: the norm must still be the closed form, not 0.
    n = 100
    for w in ([0.5, 0.6], [0.45, 0.5]):
        layer = DiagVector(n, name="diag")
        model = keras.Sequential([keras.Input((2,)), layer], name="lecture")
        layer.w.assign(np.array(w, "float32"))
        monitor = GradientMonitor(every_n_steps=1, log_dir=tmp_path / str(w[0]))
        model.compile(monitor.wrap(keras.optimizers.SGD(1e-30)), loss=lambda y, p: ops.sum(p, axis=-1))
        model.fit(np.ones((1, 2), "float32"), np.zeros((1, 2), "float32"), epochs=1, verbose=0, callbacks=[monitor])
        closed = np.hypot(n * w[0] ** (n - 1), n * w[1] ** (n - 1))
        assert monitor.history[-1]["global"][0] == pytest.approx(closed, rel=1e-4, abs=0), w  # abs=0: approx allows 1e-12


@pytest.mark.tf_only
def test_recording_step_has_no_op_that_tensorflow_compiles_on_demand():
    """Without XLA (Keras' default on a CPU-only machine), an ``Xla*`` op in the
    train step is compiled and run through XLA at every call; ``slice_update``
    is one (XlaDynamicUpdateSlice), and cost ~0.2 ms a step here, most of the
    wrapper's overhead.  The ring buffer is written with a scatter instead."""
    import tensorflow as tf

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(GradientMonitoring(keras.optimizers.SGD(0.1), every_n_steps=2), loss="mse")
    model.optimizer.build(model.trainable_variables)
    step = tf.function(lambda x, y: model.train_step((x, y)))
    graph = step.get_concrete_function(tf.TensorSpec((4, 3)), tf.TensorSpec((4, 2))).graph
    ops_used = {node.op for node in graph.as_graph_def().node}
    ops_used |= {node.op for f in graph.as_graph_def().library.function for node in f.node_def}
    assert "TensorScatterUpdate" in ops_used  # the buffer write is in the graph
    assert not [op for op in ops_used if op.startswith("Xla")]
