"""Non-finite gradients: skipped in-graph (model and every slot untouched),
or training stopped with the step and the layer named."""

import keras
import numpy as np
import pytest

from kerasreg.callbacks import StopOnNonFinite
from kerasreg.optimizers import GradientClipping

# ~15 s per test (two fits each, the XLA one compiled).
pytestmark = [pytest.mark.jax_pass, pytest.mark.slow]

BATCH, BAD_STEP, STEPS = 4, 3, 6


def data():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(BATCH * STEPS, 4)).astype("float32")
    y = rng.normal(size=(BATCH * STEPS, 3)).astype("float32")
    y[BAD_STEP * BATCH + 1, 2] = np.inf  # the loss of step 3 is inf, its gradient inf/NaN
    return x, y


def model(init=None):
    keras.utils.set_random_seed(3)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="tanh", name="first"),
                          keras.layers.Dense(3, name="second")])
    if init is not None:
        m.set_weights(init)
    return m


@pytest.mark.parametrize("jit_compile", [False, True])
def test_skip_leaves_model_and_slots_untouched(jit_compile):
    x, y = data()
    good = np.ones(len(x), bool)
    good[BAD_STEP * BATCH:(BAD_STEP + 1) * BATCH] = False

    def run(xs, ys):
        m = model()
        opt = GradientClipping(keras.optimizers.Adam(0.03), threshold=0.3, skip_nonfinite=True)
        m.compile(opt, "mse", jit_compile=jit_compile)
        m.fit(xs, ys, batch_size=BATCH, shuffle=False, verbose=0, callbacks=[StopOnNonFinite()])
        return m, opt

    m, opt = run(x, y)
    ref, ref_opt = run(x[good], y[good])  # the same run without the bad batch
    assert int(opt.skipped_steps.numpy()) == 1
    assert int(opt.nonfinite_step.numpy()) == BAD_STEP
    assert opt.nonfinite_variable_path() == m.trainable_variables[0].path
    assert int(opt.iterations.numpy()) == STEPS and int(opt.optimizer.iterations.numpy()) == STEPS - 1
    for a, b in zip(m.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    inner = [np.array(v) for v in opt.optimizer.variables]
    for a, b in zip(inner, [np.array(v) for v in ref_opt.optimizer.variables]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert int(opt.clip_count.numpy()) == int(ref_opt.clip_count.numpy()) > 0
    assert all(np.all(np.isfinite(w)) for w in m.get_weights())


def test_without_skip_training_stops_naming_step_and_layer(capsys):
    x, y = data()
    m = model()
    opt = GradientClipping(keras.optimizers.SGD(0.03), threshold=0.3)
    m.compile(opt, "mse")
    stop = StopOnNonFinite()
    m.fit(x, y, batch_size=BATCH, shuffle=False, epochs=3, verbose=0, callbacks=[stop])
    assert stop.stopped_step == BAD_STEP
    assert stop.variable_path == m.trainable_variables[0].path
    assert int(opt.iterations.numpy()) == BAD_STEP + 1  # stopped right after the bad step
    assert f"step {BAD_STEP}" in stop.message and "layer 'first'" in stop.message
    assert "first/kernel" in capsys.readouterr().out
    assert int(opt.skipped_steps.numpy()) == 0


def test_plain_optimizer_stops_on_nonfinite_loss():
    x, y = data()
    m = model()
    m.compile(keras.optimizers.SGD(0.03), "mse")
    stop = StopOnNonFinite(verbose=False)
    m.fit(x, y, batch_size=BATCH, shuffle=False, epochs=3, verbose=0, callbacks=[stop])
    assert stop.stopped_step == BAD_STEP and stop.variable_path is None
    assert "non-finite loss" in stop.message


def test_skip_with_no_bad_step_is_plain_update():
    x, y = data()
    x, y = x[:BAD_STEP * BATCH], y[:BAD_STEP * BATCH]
    a, b = model(), model()
    a.compile(GradientClipping(keras.optimizers.SGD(0.03), threshold=0.3, skip_nonfinite=True), "mse")
    b.compile(GradientClipping(keras.optimizers.SGD(0.03), threshold=0.3), "mse")
    for m in (a, b):
        m.fit(x, y, batch_size=BATCH, shuffle=False, verbose=0)
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)
    assert int(a.optimizer.first_nonfinite.numpy()) == -1
