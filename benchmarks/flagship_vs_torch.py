"""Epoch time of the flagship's MLP: Keras ``model.fit`` against a PyTorch eager loop.

The model is the flagship's (``kerasreg/recipes/overfitting.py``, ``build_mlp`` with the
``"baseline"`` variant): Flatten -> 5 x Dense(100, ReLU) -> Dense(10), on the
embedded digits, batch 32, ``kerasreg.optimizers.Adam(1e-3)``, sparse softmax
cross-entropy from logits, ``metrics=["accuracy"]``, ``jit_compile=True``.
Keras trains from the shuffled ``tf.data`` pipeline of ``kerasreg.data.load``
as the recipe does, with ``steps_per_execution`` 1, 8, 32 and "all" (one
execution per epoch).

The PyTorch side is the same network in ``torch.nn`` (the Keras model's
initial weights copied in: Glorot-uniform kernels, zero biases),
``torch.optim.Adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8)`` (PyTorch's Adam
is Kingma and Ba's Algorithm 1, the same rule as ``kerasreg.optimizers.Adam``),
``F.cross_entropy``, the same arrays as tensors, a fresh ``randperm`` each
epoch, and the running loss and accuracy summed on the device and read once
per epoch (as Keras' metrics are).  ``torch.set_num_threads`` is set to the
cores TensorFlow uses (``torch_eager``); ``torch_eager_1_thread`` is an extra
row, since on a loaded machine PyTorch's OpenMP threads can wait on each other
far longer than one thread takes.  No ``torch.compile`` in the main comparison;
``torch.compile(model)`` is an opt-in extra row (``--compile``): on the
loaded 2-core machine its Inductor build ran over 10 minutes, so it is off by
default.

Two training sets: ``flagship``, the recipe's split (10 % of the digits,
about 180 examples, 6 steps per epoch), and ``all_digits`` (1797 examples,
57 steps), where per-epoch overheads weigh less.

Timing: each contestant has its own model.  In each of ``ROUNDS`` rounds they
run in turn (order rotated per round), each for ``EPOCHS`` epochs (Keras: one
``fit`` call; the time between consecutive epoch ends, so everything between
epochs is counted); the first epoch of every call is dropped (Keras' fit
set-up; tracing and compilation happen in a warm-up call before).  Reported:
median epoch time per contestant, and the ratios keras / torch_eager (goal:
< 1) and keras / the faster torch eager row.  The machine is shared; the load average is recorded.

Equivalence: both start from identical weights and see the same unshuffled
batches for ``EQ_EPOCHS`` epochs on the flagship split; reported are both
final epoch losses, their training-set losses after training and the largest
weight difference.

Writes ``benchmarks/results/flagship_vs_torch.json``.
Run: ``python benchmarks/flagship_vs_torch.py`` (about 2-3 minutes on 2 cores;
needs ``pip install torch==2.13.0``, the ``bench`` extra).
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

try:
    import torch
except ImportError:
    print("This benchmark needs PyTorch's CPU build:\n    pip install torch==2.13.0\n"
          "(or: pip install -e '.[bench]')", file=sys.stderr)
    sys.exit(2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _timing import EpochTimer  # noqa: E402  (benchmarks/ is on sys.path)
import tensorflow as tf  # noqa: E402

import kerasreg  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "kerasreg" / "recipes"))
from overfitting import build_mlp  # noqa: E402  (the flagship's own model)

BATCH = 32
SEED = 0
ROUNDS = 4
EPOCHS = 6  # per round and contestant; the first of each is dropped
EQ_EPOCHS = 20
SPLITS = {
    "flagship": dict(validation_split=0.7, test_split=0.2),  # the recipe's split
    "all_digits": dict(validation_split=0.0, test_split=0.0),
}
STEPS_PER_EXECUTION = (1, 8, 32, "all")



def keras_model(info, spe):
    model = build_mlp(info, "baseline", SEED)
    model.compile(
        optimizer=kerasreg.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=True,
        steps_per_execution=spe,
    )
    return model


def torch_model(keras_weights):
    """The same MLP in torch.nn, holding the Keras model's weights."""
    kernels = keras_weights[0::2]
    layers = [torch.nn.Flatten()]
    for i, kernel in enumerate(kernels):
        layers.append(torch.nn.Linear(*kernel.shape))
        if i < len(kernels) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for lin, kernel, bias in zip(linears, kernels, keras_weights[1::2]):
            lin.weight.copy_(torch.from_numpy(kernel.T.copy()))
            lin.bias.copy_(torch.from_numpy(bias))
    return model


def torch_optimizer(model):
    return torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)


def torch_epoch(step, x, y, shuffle=True):
    """One epoch; returns the example-weighted mean loss and the accuracy."""
    n = x.shape[0]
    order = torch.randperm(n) if shuffle else torch.arange(n)
    loss_sum = torch.zeros(())
    correct = torch.zeros((), dtype=torch.int64)
    for start in range(0, n, BATCH):
        idx = order[start:start + BATCH]
        loss, logits = step(x[idx], y[idx])
        loss_sum += loss.detach() * idx.shape[0]
        correct += (logits.detach().argmax(1) == y[idx]).sum()
    return loss_sum.item() / n, correct.item() / n


def make_torch_step(model, optimizer, compiled=False):
    net = torch.compile(model) if compiled else model

    def step(xb, yb):
        optimizer.zero_grad(set_to_none=True)
        logits = net(xb)
        loss = torch.nn.functional.cross_entropy(logits, yb)
        loss.backward()
        optimizer.step()
        return loss, logits

    return step


class TorchContestant:
    def __init__(self, weights, x, y, compiled=False, threads=None):
        self.threads = threads or torch.get_num_threads()
        torch.set_num_threads(self.threads)
        self.model = torch_model(weights)
        self.step = make_torch_step(self.model, torch_optimizer(self.model), compiled)
        self.x, self.y = x, y

    def run(self, epochs):
        default = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        times = []
        last = time.perf_counter()
        for _ in range(epochs):
            torch_epoch(self.step, self.x, self.y)
            now = time.perf_counter()
            times.append(now - last)
            last = now
        torch.set_num_threads(default)
        return times


class KerasContestant:
    def __init__(self, model, train):
        self.model, self.train = model, train

    def run(self, epochs):
        timer = EpochTimer()
        self.model.fit(self.train, epochs=epochs, verbose=0, callbacks=[timer])
        return timer.times


def median_ms(times):
    return round(1e3 * statistics.median(times), 3)


def bench_split(split_name, split, compile_torch, rounds):
    train, _, _, info = kerasreg.data.load("digits", batch_size=BATCH, seed=SEED, **split)
    (x_tr, y_tr), _, _, _ = kerasreg.data.load_arrays("digits", seed=SEED, **split)
    n = len(x_tr)
    steps = -(-n // BATCH)
    contestants, setup_s = {}, {}
    for spe in STEPS_PER_EXECUTION:
        name = f"keras_spe_{spe}"
        start = time.perf_counter()
        contestants[name] = KerasContestant(keras_model(info, steps if spe == "all" else spe), train)
        contestants[name].run(1)  # tracing and XLA compilation
        setup_s[name] = round(time.perf_counter() - start, 2)
    weights = keras_model(info, 1).get_weights()
    x = torch.from_numpy(np.ascontiguousarray(x_tr, dtype=np.float32))
    y = torch.from_numpy(y_tr.astype(np.int64))
    variants = [("torch_eager", False, None), ("torch_eager_1_thread", False, 1)]
    variants += [("torch_compile", True, None)] if compile_torch else []
    for name, compiled, threads in variants:
        start = time.perf_counter()
        contestants[name] = TorchContestant(weights, x, y, compiled, threads)
        contestants[name].run(1)
        setup_s[name] = round(time.perf_counter() - start, 2)
    times = {name: [] for name in contestants}
    names = list(contestants)
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            times[name].extend(contestants[name].run(EPOCHS)[1:])
    torch_ms = median_ms(times["torch_eager"])
    best_torch_ms = min(median_ms(t) for name, t in times.items() if name.startswith("torch_eager"))
    rows = {
        name: {
            "median_epoch_ms": median_ms(t),
            "ms_per_step": round(median_ms(t) / steps, 4),
            "ratio_to_torch_eager": round(median_ms(t) / torch_ms, 3),
            "ratio_to_best_torch_eager": round(median_ms(t) / best_torch_ms, 3),
            "min_epoch_ms": round(1e3 * min(t), 3),
            "epochs_timed": len(t),
            "setup_s": setup_s[name],
        }
        for name, t in times.items()
    }
    for name, row in rows.items():
        print(f"  {split_name:<11} {name:<16} {row['median_epoch_ms']:8.2f} ms/epoch "
              f"{row['ms_per_step']:7.3f} ms/step  x{row['ratio_to_torch_eager']:.2f}", flush=True)
    return {"train_examples": n, "steps_per_epoch": steps, "rows": rows}


def equivalence():
    """Identical weights, identical unshuffled batches, EQ_EPOCHS epochs."""
    split = SPLITS["flagship"]
    (x_tr, y_tr), _, _, info = kerasreg.data.load_arrays("digits", seed=SEED, **split)
    model = keras_model(info, 1)
    weights = model.get_weights()
    history = model.fit(x_tr, y_tr, batch_size=BATCH, epochs=EQ_EPOCHS, shuffle=False, verbose=0)
    tmodel = torch_model(weights)
    step = make_torch_step(tmodel, torch_optimizer(tmodel))
    x = torch.from_numpy(np.ascontiguousarray(x_tr, dtype=np.float32))
    y = torch.from_numpy(y_tr.astype(np.int64))
    for _ in range(EQ_EPOCHS):
        torch_loss, torch_acc = torch_epoch(step, x, y, shuffle=False)
    keras_ce = float(np.mean(keras.ops.convert_to_numpy(keras.losses.sparse_categorical_crossentropy(
        y_tr, model.predict(x_tr, batch_size=512, verbose=0), from_logits=True))))
    with torch.no_grad():
        torch_ce = float(torch.nn.functional.cross_entropy(tmodel(x), y))
    linears = [m for m in tmodel if isinstance(m, torch.nn.Linear)]
    diff = max(
        max(float(np.abs(k - lin.weight.detach().numpy().T).max()), float(np.abs(b - lin.bias.detach().numpy()).max()))
        for lin, k, b in zip(linears, model.get_weights()[0::2], model.get_weights()[1::2])
    )
    result = {
        "epochs": EQ_EPOCHS,
        "keras_last_epoch_loss": round(history.history["loss"][-1], 6),
        "torch_last_epoch_loss": round(torch_loss, 6),
        "keras_last_epoch_accuracy": round(history.history["accuracy"][-1], 4),
        "torch_last_epoch_accuracy": round(torch_acc, 4),
        "keras_train_loss_after": round(keras_ce, 6),
        "torch_train_loss_after": round(torch_ce, 6),
        "max_abs_weight_difference": float(f"{diff:.3g}"),
    }
    print(f"  equivalence after {EQ_EPOCHS} epochs: loss keras {keras_ce:.5f} torch {torch_ce:.5f}, "
          f"max |dW| {diff:.2e}", flush=True)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compile", action="store_true", help="add a torch.compile row (slow to build)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved rounds")
    args = parser.parse_args(argv)
    threads = len(os.sched_getaffinity(0))
    tf_intra = tf.config.threading.get_intra_op_parallelism_threads()  # 0: TF picks = cores
    torch.set_num_threads(threads if tf_intra == 0 else tf_intra)
    torch.manual_seed(SEED)
    start = time.perf_counter()
    load_begin = os.getloadavg()
    result = {
        "benchmark": "flagship MLP epoch time: Keras model.fit vs PyTorch eager",
        "goal": "keras / torch_eager < 1 (best_keras: against the faster of torch at TF's thread count and at 1 thread)",
        "model": "Flatten -> 5 x Dense(100, relu) -> Dense(10), batch 32, Adam(1e-3), from-logits CE",
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__, "torch": torch.__version__,
                     "python": platform.python_version()},
        "platform": platform.platform(),
        "cores": threads,
        "torch_threads": torch.get_num_threads(),
        "tf_intra_op_threads": tf_intra or threads,
        "rounds": args.rounds,
        "epochs_per_round": EPOCHS,
        "load_average_at_start": load_begin,
        "splits": {},
    }
    result["equivalence"] = equivalence()
    for split_name, split in SPLITS.items():
        result["splits"][split_name] = bench_split(split_name, split, args.compile, args.rounds)
    best = {s: min((row["ratio_to_best_torch_eager"], name) for name, row in r["rows"].items()
                   if name.startswith("keras")) for s, r in result["splits"].items()}
    result["best_keras"] = {s: {"variant": name, "ratio": ratio, "goal_met": ratio < 1}
                            for s, (ratio, name) in best.items()}
    result["load_average_at_end"] = os.getloadavg()
    result["wall_s"] = round(time.perf_counter() - start, 1)
    out = ROOT / "benchmarks" / "results" / "flagship_vs_torch.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"best keras/torch: {result['best_keras']}; load {result['load_average_at_end']}; "
          f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
