"""Step time of kerasreg's BatchNormalization and Dropout against Keras' own.

For each layer, mode (training: forward + gradient with respect to the
inputs and the layer's weights, moving statistics updated; inference:
forward) and compilation (tf.function graph, XLA), both implementations run
in one process, interleaved: each repetition times a block of calls of ours,
then the same number of Keras' (about ``BLOCK_S`` seconds each), so that
machine load hits both alike.  The reported
ratio is median(ours) / median(Keras') per call; the goal is <= 1.05.

Writes ``benchmarks/results/layers.json``.  Run: ``.venv/bin/python
benchmarks/layers.py`` (TensorFlow backend; about two minutes on 2 cores).
"""

import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from kerasreg import layers as kr  # noqa: E402

SHAPE = (16, 32, 32, 16)  # a conv activation, 262k floats
REPS = int(os.environ.get("REPS", 9))
BLOCK_S = float(os.environ.get("BLOCK_S", 0.06))  # seconds per timed block
GOAL = 1.05

CASES = {
    "BatchNormalization": (
        lambda: kr.BatchNormalization(momentum=0.9),
        lambda: keras.layers.BatchNormalization(momentum=0.9),
    ),
    "Dropout": (
        lambda: kr.Dropout(0.3, seed=1),
        lambda: keras.layers.Dropout(0.3, seed=1),
    ),
    # Not part of the goal: the lecture's scaling does extra work at
    # inference (multiplies by p); listed for information.
    "Dropout(scaling='test') [info]": (
        lambda: kr.Dropout(0.3, scaling="test", seed=1),
        lambda: keras.layers.Dropout(0.3, seed=1),
    ),
}


def make_step(layer, training, jit):
    layer.build(SHAPE)
    weights = list(layer.trainable_variables)

    if training:
        def step(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=True)
                loss = tf.reduce_sum(y * y)
            return tape.gradient(loss, [x] + weights)
    else:
        def step(x):
            return layer(x, training=False)

    return tf.function(step, jit_compile=jit)


def op_counts(step, x):
    """Op types of the traced graph: equal counts mean the same computation,
    so a ratio away from 1 is measurement noise, not the layer."""
    ops = step.get_concrete_function(x).graph.get_operations()
    counts = {}
    for op in ops:
        counts[op.type] = counts.get(op.type, 0) + 1
    return counts


def time_calls(step, x, iters):
    start = time.perf_counter()
    for _ in range(iters):
        out = step(x)
    tf.nest.map_structure(lambda t: t.numpy(), out)  # wait for the last call
    return (time.perf_counter() - start) / iters


LOAD = os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def main():
    x = tf.constant(np.random.default_rng(0).normal(size=SHAPE).astype("float32"))
    results = []
    for name, (ours_fn, keras_fn) in CASES.items():
        for training in (True, False):
            for jit in (False, True):
                steps = {"kerasreg": make_step(ours_fn(), training, jit),
                         "keras": make_step(keras_fn(), training, jit)}
                for step in steps.values():  # trace / compile, warm up
                    time_calls(step, x, 1)
                single = min(time_calls(step, x, 2) for step in steps.values())
                iters = int(min(50, max(1, round(BLOCK_S / single))))
                times = {k: [] for k in steps}
                for _ in range(REPS):
                    for k, step in steps.items():
                        times[k].append(time_calls(step, x, iters))
                med = {k: statistics.median(v) for k, v in times.items()}
                row = {
                    "layer": name,
                    "mode": "training" if training else "inference",
                    "compile": "xla" if jit else "graph",
                    "kerasreg_ms": round(1e3 * med["kerasreg"], 4),
                    "keras_ms": round(1e3 * med["keras"], 4),
                    "ratio": round(med["kerasreg"] / med["keras"], 4),
                    "same_graph_ops": op_counts(steps["kerasreg"], x) == op_counts(steps["keras"], x),
                }
                results.append(row)
                print(f"{name:34s} {row['mode']:9s} {row['compile']:5s} "
                      f"ours {row['kerasreg_ms']:8.3f} ms  keras {row['keras_ms']:8.3f} ms  "
                      f"ratio {row['ratio']:.3f}  same graph ops: {row['same_graph_ops']}", flush=True)
    goal_rows = [r for r in results if "[info]" not in r["layer"]]
    summary = {
        "goal": GOAL,
        "worst_ratio": max(r["ratio"] for r in goal_rows),
        "met": all(r["ratio"] <= GOAL for r in goal_rows),
        "shape": list(SHAPE),
        "reps": REPS,
        "block_s": BLOCK_S,
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "load_average_at_start": LOAD,
        "results": results,
    }
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "layers.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(summary, f, indent=2)
    print(f"worst ratio {summary['worst_ratio']:.3f} (goal <= {GOAL}); wrote {out}")


if __name__ == "__main__":
    main()
