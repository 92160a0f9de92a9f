"""Step time of each kerasreg optimizer against the Keras built-in it parallels.

Model: an MLP 1024 -> 2048 -> 2048 -> 2048 -> 10 (~10.5M parameters), ReLU,
sparse softmax cross-entropy, batch 32 of fixed random data, identical
initial weights for both models of a pair, ``jit_compile=True`` for both.
Per pair: warm-up (compilation), then ``ROUNDS`` interleaved rounds of
``STEPS`` ``train_on_batch`` calls each (the order A/B alternates per
round); the reported time is the median over rounds of the per-step time.
Goal: kerasreg / Keras <= 1.05.

Pairs (kerasreg vs keras.optimizers):
  SGD vs SGD; Momentum (lecture form, d = alpha) and Momentum(dampening=0)
  vs SGD(momentum=0.9); Nesterov vs SGD(momentum=0.9, nesterov=True);
  AdaGrad vs Adagrad; RMSProp vs RMSprop; Adam vs Adam.

Writes ``benchmarks/results/optimizers.json``.
Run: ``python benchmarks/optimizers.py`` (about 2-3 minutes on 2 cores).
"""

import json
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerasreg import optimizers  # noqa: E402

WIDTHS = (1024, 2048, 2048, 2048)
CLASSES = 10
BATCH = 32
WARMUP = 3
STEPS = 8
ROUNDS = 7
GOAL = 1.05

PAIRS = [
    ("SGD", lambda: optimizers.SGD(0.01), "SGD", lambda: keras.optimizers.SGD(0.01)),
    (
        "Momentum",
        lambda: optimizers.Momentum(0.01, momentum=0.9),
        "SGD(momentum=0.9)",
        lambda: keras.optimizers.SGD(0.01, momentum=0.9),
    ),
    (
        "Momentum(dampening=0)",
        lambda: optimizers.Momentum(0.01, momentum=0.9, dampening=0.0),
        "SGD(momentum=0.9)",
        lambda: keras.optimizers.SGD(0.01, momentum=0.9),
    ),
    (
        "Nesterov",
        lambda: optimizers.Nesterov(0.01, momentum=0.9),
        "SGD(momentum=0.9, nesterov=True)",
        lambda: keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
    ),
    ("AdaGrad", lambda: optimizers.AdaGrad(0.01), "Adagrad", lambda: keras.optimizers.Adagrad(0.01)),
    ("RMSProp", lambda: optimizers.RMSProp(0.001), "RMSprop", lambda: keras.optimizers.RMSprop(0.001)),
    ("Adam", lambda: optimizers.Adam(0.001), "Adam", lambda: keras.optimizers.Adam(0.001)),
]


def make_model(weights, optimizer):
    model = keras.Sequential(
        [keras.Input((WIDTHS[0],))]
        + [keras.layers.Dense(w, activation="relu") for w in WIDTHS[1:]]
        + [keras.layers.Dense(CLASSES)]
    )
    if weights is not None:
        model.set_weights(weights)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True,
    )
    return model


def time_steps(model, x, y, steps):
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)  # returns the loss as numpy: synchronizes
    return (time.perf_counter() - start) / steps


def main():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, WIDTHS[0])).astype("float32")
    y = rng.integers(0, CLASSES, size=(BATCH,)).astype("int32")
    keras.utils.set_random_seed(0)
    template = make_model(None, "sgd")
    params = template.count_params()
    weights = template.get_weights()
    del template

    rows = []
    for ours_name, ours, theirs_name, theirs in PAIRS:
        models = [make_model(weights, ours()), make_model(weights, theirs())]
        for m in models:
            time_steps(m, x, y, WARMUP)
        times = [[], []]
        for r in range(ROUNDS):
            order = (0, 1) if r % 2 == 0 else (1, 0)
            for i in order:
                times[i].append(time_steps(models[i], x, y, STEPS))
        ours_ms, theirs_ms = (1e3 * statistics.median(t) for t in times)
        rows.append(
            {
                "kerasreg": ours_name,
                "keras": theirs_name,
                "kerasreg_ms": round(ours_ms, 2),
                "keras_ms": round(theirs_ms, 2),
                "ratio": round(ours_ms / theirs_ms, 3),
            }
        )
        print(f"  {ours_name}: {ours_ms:.1f} ms vs {theirs_ms:.1f} ms", flush=True)
        del models
        keras.backend.clear_session(free_memory=False)

    header = f"{'kerasreg':<24}{'keras':<34}{'ours ms':>9}{'keras ms':>10}{'ratio':>8}"
    print(f"\n{params / 1e6:.1f}M-parameter MLP, batch {BATCH}, jit_compile=True, "
          f"median of {ROUNDS} interleaved rounds x {STEPS} steps; goal ratio <= {GOAL}")
    print(header)
    print("-" * len(header))
    for row in rows:
        flag = "" if row["ratio"] <= GOAL else "  over goal"
        print(f"{row['kerasreg']:<24}{row['keras']:<34}{row['kerasreg_ms']:>9.1f}"
              f"{row['keras_ms']:>10.1f}{row['ratio']:>8.3f}{flag}")

    result = {
        "benchmark": "optimizer step time, kerasreg / Keras built-in",
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "machine": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "parameters": params,
        "batch": BATCH,
        "rounds": ROUNDS,
        "steps_per_round": STEPS,
        "goal_ratio": GOAL,
        "rows": rows,
    }
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "optimizers.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
