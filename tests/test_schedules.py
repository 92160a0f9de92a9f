"""Schedules against numpy references written from their docstring formulas."""

import keras
import numpy as np
import pytest

from kerasreg.optimizers import schedules

pytestmark = pytest.mark.jax_pass

STEPS = np.array([0, 1, 2, 3, 5, 7, 11, 13, 17, 29, 41, 57, 99], dtype="int64")


def _eval(schedule, steps=STEPS):
    return np.array([float(keras.ops.convert_to_numpy(schedule(int(s)))) for s in steps])


def ref_step(t, lr0, drop, size):
    return lr0 * drop ** np.floor(t / size)


def ref_cyclical(t, base, mx, size, mode, gamma):
    cycle = np.floor(1 + t / (2 * size))
    x = np.abs(t / size - 2 * cycle + 1)
    scale = {"triangular": 1.0, "triangular2": 1 / 2.0 ** (cycle - 1), "exp_range": gamma ** t}[mode]
    return base + (mx - base) * np.maximum(0, 1 - x) * scale


def ref_one_cycle(t, mx, total, pct, div, final_div):
    lo, p = mx / div, pct * total
    end = lo / final_div
    out = []
    for s in t:
        if s < p:
            out.append(lo + (mx - lo) * s / p)
        elif s < 2 * p:
            out.append(mx - (mx - lo) * (s - p) / p)
        else:
            out.append(lo - (lo - end) * min((s - 2 * p) / (total - 2 * p), 1.0))
    return np.array(out)


def test_step_decay():
    got = _eval(schedules.StepDecay(0.3, drop=0.7, step_size=3))
    np.testing.assert_allclose(got, ref_step(STEPS, 0.3, 0.7, 3), rtol=1e-6)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclical(mode):
    got = _eval(schedules.Cyclical(0.03, 0.3, step_size=7, mode=mode, gamma=0.97))
    np.testing.assert_allclose(got, ref_cyclical(STEPS, 0.03, 0.3, 7, mode, 0.97), rtol=1e-5, atol=1e-7)


def test_one_cycle():
    got = _eval(schedules.OneCycle(0.7, total_steps=57, pct_start=0.3, div_factor=7.0, final_div_factor=30.0))
    ref = ref_one_cycle(STEPS, 0.7, 57, 0.3, 7.0, 30.0)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-7)
    # The peak and the final value are where Smith puts them.
    assert ref.max() <= 0.7 + 1e-7 and abs(got[-1] - 0.1 / 30.0) < 1e-7


def test_warmup_around_schedule_and_float():
    inner = schedules.StepDecay(0.3, drop=0.7, step_size=3)
    got = _eval(schedules.Warmup(inner, warmup_steps=5, start_learning_rate=0.01))
    ref = np.where(STEPS < 5, 0.01 + (0.3 - 0.01) * np.minimum(STEPS, 5) / 5,
                   ref_step(np.maximum(STEPS - 5, 0), 0.3, 0.7, 3))
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    got = _eval(schedules.Warmup(0.3, warmup_steps=7))
    np.testing.assert_allclose(got, np.where(STEPS < 7, 0.3 * STEPS / 7, 0.3), rtol=1e-5, atol=1e-8)


def test_warmup_round_trips_nested_keras_schedule():
    inner = keras.optimizers.schedules.CosineDecay(0.3, decay_steps=50)
    w = schedules.Warmup(inner, warmup_steps=5)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(w))
    np.testing.assert_allclose(_eval(clone), _eval(w), rtol=1e-6)
    assert isinstance(clone.schedule, keras.optimizers.schedules.CosineDecay)


@pytest.mark.parametrize("jit", [False, True])
def test_schedule_drives_sgd_in_fit(jit):
    """A linear model, squared loss, full batch: each SGD step uses the
    schedule's value at the optimizer's step t (numpy reference)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = (x @ np.array([0.3, -0.7, 1.1]) + 0.2).astype("float32")[:, None]
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    w0 = [rng.normal(size=(3, 1)).astype("float32"), np.array([0.1], "float32")]
    model.set_weights(w0)
    sched = schedules.Cyclical(0.01, 0.13, step_size=2, mode="triangular2")
    model.compile(optimizer=keras.optimizers.SGD(sched), loss="mse", jit_compile=jit)
    model.fit(x, y, batch_size=16, epochs=9, shuffle=False, verbose=0)
    w, b = w0[0].astype("float64"), w0[1].astype("float64")
    for t in range(9):
        r = x @ w + b - y
        gw, gb = 2 * x.T @ r / 16, 2 * r.mean(0)
        lr = ref_cyclical(np.array(t), 0.01, 0.13, 2, "triangular2", 1.0)
        w, b = w - lr * gw, b - lr * gb
    np.testing.assert_allclose(model.get_weights()[0], w, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.get_weights()[1], b, rtol=1e-4, atol=1e-5)
