"""Epoch time with each kerasreg monitor (and weight noise) against none.

Model: the lecture's MLP, 64 -> 5 x Dense(100, ReLU) -> 10, on
``sklearn.datasets.load_digits`` (1797 images, scaled to [0, 1]), batch 32
(57 steps per epoch), SGD(0.05), sparse softmax cross-entropy, Keras'
default ``jit_compile="auto"`` (XLA on JAX; on a CPU-only machine Keras
runs TensorFlow's train step as a plain graph, without XLA, so every op of
a wrapper's update costs executor time there).

Variants: no callback; ``GradientMonitor(every_n_steps=1)`` writing to
TensorBoard (its optimizer wrapper ``GradientMonitoring`` included in the
cost: the baseline is the plain SGD); ``CurvatureMonitor`` (Lanczos, 20
Hessian-vector products on a fixed batch of 256, every epoch);
``ActivationMonitor`` (batch of 256, every epoch, with histograms);
``WeightNoiseCallback(stddev=0.01)`` with its ``WeightNoiseOptimizer``;
``ClippingMonitor`` against the same ``GradientClipping``-wrapped optimizer
without it; ``gaussian_draw_floor``, not a kerasreg component: an optimizer
wrapper that only draws one fresh ``keras.random.normal`` value per weight at
every step and stores it (what any exact per-step weight noise must do at
least), so that weight noise's ratio can be read against that floor.

Timing: each variant has its own model (identical initial weights).  In each
of ``ROUNDS`` rounds the variants run in turn (the order rotates per round),
each ``fit`` for ``EPOCHS`` epochs; a last callback records the wall time
between consecutive epoch ends, so every epoch's time includes the monitors'
epoch-end work.  The first epoch of each ``fit`` (tracing, compilation) is
dropped.  A variant's ratio is paired by round: its median epoch in a round
over the baseline's median epoch in the same round (minutes apart, the
machine's speed drifts by more than the effects measured; two identical
variants' pooled medians differed by up to 0.1).  Reported: the median of
the per-round ratios and a 95% t interval of their geometric mean (over
log ratios); ``none_repeat``, a second identical baseline, shows the noise
floor of the machine; the load average is printed before and after.  Goals: gradient monitor every step <= 1.15, weight
noise <= 1.15, curvature (20 iterations per epoch) <= 1.3, activations
<= 1.3.

Writes ``benchmarks/results/callbacks.json``.
Run: ``python benchmarks/callbacks.py [--rounds N]`` (20 rounds of 6 epochs: about 4
minutes on 2 cores);
``--tiny`` (1 round of 2 epochs, results not written) only checks that it runs.
"""

import json
import os
import platform
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _timing import EpochTimer  # noqa: E402  (benchmarks/ is on sys.path)
from sklearn.datasets import load_digits  # noqa: E402

from kerasreg.callbacks import (ActivationMonitor, ClippingMonitor,  # noqa: E402
                                CurvatureMonitor, GradientMonitor, WeightNoiseCallback)
from kerasreg.optimizers import GradientClipping  # noqa: E402

TINY = "--tiny" in sys.argv[1:]
ROUNDS = 1 if TINY else (int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 20)
EPOCHS = 2 if TINY else 6
BATCH = 32
GOALS = {"gradient_monitor": 1.15, "weight_noise": 1.15, "curvature_monitor": 1.3,
         "activation_monitor": 1.3}



def _geometric_interval(ratios):
    """95% t interval of the geometric mean of ``ratios`` (``kerasreg.study.t_interval`` of their logs)."""
    from kerasreg.study import t_interval

    logs = np.log(np.asarray(ratios, dtype="float64"))
    if len(logs) < 2:
        return [float(np.exp(logs.mean()))] * 2
    interval = t_interval(logs)
    return [float(np.exp(interval.low)), float(np.exp(interval.high))]


class GaussianDrawFloor(keras.optimizers.Optimizer):
    """The inner optimizer's update plus one N(0, 1) draw per trainable weight, stored."""

    def __init__(self, optimizer):
        super().__init__(learning_rate=0.0)
        self.inner = optimizer
        self.seed_generator = keras.random.SeedGenerator(1)

    def build(self, var_list):
        self.inner.build(var_list)
        super().build(var_list)
        size = sum(int(np.prod(v.shape)) for v in var_list)
        self.draw = self.add_variable(shape=(size,), initializer="zeros", name="draw")

    def apply(self, grads, trainable_variables=None):
        if not self.built:
            self.build(trainable_variables)
        self.draw.assign(keras.random.normal(self.draw.shape, seed=self.seed_generator))
        self.inner.apply(grads, trainable_variables)


def make_model(weights, clipping=False, wrap=None):
    model = keras.Sequential([keras.Input((64,))]
                             + [keras.layers.Dense(100, activation="relu") for _ in range(5)]
                             + [keras.layers.Dense(10)])
    if weights is not None:
        model.set_weights(weights)
    optimizer = keras.optimizers.SGD(0.05)
    if clipping:
        optimizer = GradientClipping(optimizer, threshold=1.0)
    if wrap is not None:  # the monitor's own optimizer wrapper (GradientMonitor, weight noise)
        optimizer = wrap(optimizer)
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


class _Wrap(keras.callbacks.Callback):
    """A do-nothing callback whose ``wrap`` builds the variant's optimizer wrapper."""

    def __init__(self, cls):
        super().__init__()
        self.wrap = cls


def main():
    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int32")
    keras.utils.set_random_seed(0)
    weights = make_model(None).get_weights()
    log_root = tempfile.mkdtemp(prefix="kerasreg-bench-")
    fixed_x, fixed_y = x[:256], y[:256]

    variants = {
        "none": (False, lambda: []),
        # a second, identical baseline: its ratio to "none" is the noise floor
        "none_repeat": (False, lambda: []),
        "gradient_monitor": (False, lambda: [GradientMonitor(every_n_steps=1, log_dir=log_root)]),
        "curvature_monitor": (False, lambda: [CurvatureMonitor(fixed_x, fixed_y, iterations=20,
                                                               log_dir=log_root)]),
        "activation_monitor": (False, lambda: [ActivationMonitor(fixed_x, log_dir=log_root)]),
        "weight_noise": (False, lambda: [WeightNoiseCallback(stddev=0.01, seed=1)]),
        "gaussian_draw_floor": (False, lambda: [_Wrap(GaussianDrawFloor)]),
        "gradient_clipping": (True, lambda: []),
        "clipping_monitor": (True, lambda: [ClippingMonitor(log_dir=log_root)]),
    }
    missing = []
    load_before = os.getloadavg()
    print("load average before:", " ".join(f"{v:.2f}" for v in load_before), flush=True)

    callbacks = {name: make() for name, (_, make) in variants.items()}
    # A monitor with a `wrap` method records through an optimizer wrapper.
    models = {name: make_model(weights, clipping,
                               next((c.wrap for c in callbacks[name] if hasattr(c, "wrap")), None))
              for name, (clipping, _) in variants.items()}
    times = {name: [] for name in variants}
    names = list(variants)
    start = time.perf_counter()
    for r in range(ROUNDS):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            timer = EpochTimer()
            models[name].fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0,
                             callbacks=callbacks[name] + [timer])
            times[name].extend(timer.times[1:])
        print(f"round {r + 1}/{ROUNDS} done ({time.perf_counter() - start:.0f} s)", flush=True)

    medians = {name: statistics.median(t) for name, t in times.items()}
    per_epoch = EPOCHS - 1
    baseline_of = {n: ("gradient_clipping" if n == "clipping_monitor" else "none") for n in names}
    round_ratios = {}  # per round: the variant's median epoch over its baseline's, in that round
    for name in names:
        ours = [statistics.median(times[name][r * per_epoch:(r + 1) * per_epoch]) for r in range(ROUNDS)]
        base = [statistics.median(times[baseline_of[name]][r * per_epoch:(r + 1) * per_epoch])
                for r in range(ROUNDS)]
        round_ratios[name] = [a / b for a, b in zip(ours, base)]
    ratios = {name: statistics.median(r) for name, r in round_ratios.items()}
    intervals = {name: _geometric_interval(r) for name, r in round_ratios.items()}
    result = {
        "description": __doc__.split("\n\n")[0],
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_at_end": os.getloadavg(),
        "noise_floor_ratio": ratios["none_repeat"],
        "noise_floor_ci95": intervals["none_repeat"],
        "steps_per_epoch": int(np.ceil(len(x) / BATCH)),
        "rounds": ROUNDS,
        "epochs_timed_per_round": EPOCHS - 1,
        "median_epoch_seconds": medians,
        "ratio_to_baseline": ratios,
        "ratio_geometric_mean_ci95": intervals,
        "ratio_per_round": round_ratios,
        "baseline_of": baseline_of,
        "goals": GOALS,
        "meets_goal": {n: ratios[n] <= g for n, g in GOALS.items() if n in ratios},
        "missing": missing,
        "wall_seconds": time.perf_counter() - start,
    }
    path = os.path.join(os.path.dirname(__file__), "results", "callbacks.json")
    if not TINY:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(result, f, indent=2)
    print("load average at end:", " ".join(f"{v:.2f}" for v in result["load_average_at_end"]))
    print(f"noise floor (none_repeat / none): {ratios['none_repeat']:.3f}")
    for name in names:
        goal = GOALS.get(name)
        low, high = intervals[name]
        print(f"{name:20s} {medians[name] * 1e3:8.1f} ms/epoch  ratio {ratios[name]:.3f} "
              f"[{low:.3f}, {high:.3f}]" + (f"  (goal <= {goal})" if goal else ""))
    if missing:
        print("missing:", missing)
    print("wrote", path if not TINY else "nothing (--tiny)")


if __name__ == "__main__":
    main()
