"""Batch normalization speeds up learning of a deep MLP, and at test time uses the running averages, not the batch's statistics.

The lecture: each hidden layer changes the distribution of the next layer's
inputs, which slows learning (internal covariate shift).  Batch
normalization normalizes each unit over the mini-batch, H' = (H - mu) / sigma
with sigma = sqrt(1/m sum_i (H - mu)_i^2 + delta), and outputs
gamma H' + beta.  At test time "the model needs to be evaluated on a single
example": mu and sigma are replaced by running averages collected during
training.

Part 1 trains the same deep ReLU MLP on the embedded digits with and without
``kerasreg.layers.BatchNormalization`` after every hidden Dense layer, each at
its best learning rate of the same SGD grid, and counts the epochs each needs
to reach a target validation accuracy.  A run stops at the target, at a NaN
loss, or once it has trained as many epochs as the best run so far needed
(the rates are tried from high to low): then it cannot be the best.

Part 2 takes the trained BN network and recomputes its outputs in numpy: in
inference mode they must equal a forward pass that uses each layer's moving
mean and variance, and differ from the training-mode outputs on a small batch
(which use that batch's own mean and variance, also recomputed in numpy).
"""

import math

import matplotlib

matplotlib.use("Agg")
import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import kerasreg  # noqa: E402
from kerasreg import experiment  # noqa: E402

CLAIM = ("With batch normalization a deep MLP reaches the target validation accuracy in fewer epochs "
         "(each variant at its best SGD learning rate); in inference mode the BN network computes "
         "with the moving mean and variance, not the batch's.")

DEPTH, WIDTH = 8, 64
TARGET = 0.9
BN_MOMENTUM = 0.9  # running averages over ~10 steps: short runs need them settled within an epoch


def build_mlp(batch_norm, input_dim, num_classes, seed):
    """DEPTH x WIDTH ReLU MLP; with BN: Dense (no bias, beta replaces it) -> BN -> ReLU."""
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((input_dim,))]
    for i in range(DEPTH):
        layers.append(keras.layers.Dense(WIDTH, use_bias=not batch_norm, name=f"dense_{i}"))
        if batch_norm:
            layers.append(kerasreg.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn_{i}"))
        layers.append(keras.layers.ReLU(name=f"relu_{i}"))
    layers.append(keras.layers.Dense(num_classes, name="logits"))
    return keras.Sequential(layers)


def outcome(row):
    """The epochs to the target, or how the run ended without reaching it."""
    if math.isfinite(row["epochs"]):
        return row["epochs"]
    return "diverged" if row["diverged"] else f"> {len(row['curve'])}"


class StopAtTarget(keras.callbacks.Callback):
    """Stop once validation accuracy reaches the target (the count is all we need)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs and logs.get("val_accuracy", 0.0) >= TARGET:
            self.model.stop_training = True


class MovingStatistics(keras.callbacks.Callback):
    """The moving mean and variance of the first BN layer, every `steps_per_execution` steps."""

    def __init__(self):
        super().__init__()
        self.means, self.variances = [], []

    def on_train_batch_end(self, batch, logs=None):
        bn = self.model.get_layer("bn_0")
        self.means.append(keras.ops.convert_to_numpy(bn.moving_mean).copy())
        self.variances.append(keras.ops.convert_to_numpy(bn.moving_variance).copy())


def numpy_forward(model, x, batch_statistics):
    """The BN network's forward pass in numpy, from the docstring's formulas."""
    h = np.asarray(x, "float64")
    for i in range(DEPTH):
        h = h @ np.asarray(model.get_layer(f"dense_{i}").kernel, "float64")
        bn = model.get_layer(f"bn_{i}")
        if batch_statistics:  # training mode: this batch's mean and (biased) variance
            mu, var = h.mean(0), h.var(0)
        else:  # inference mode: the running averages
            mu, var = np.asarray(bn.moving_mean, "float64"), np.asarray(bn.moving_variance, "float64")
        sigma = np.sqrt(var + bn.epsilon)
        h = np.asarray(bn.gamma, "float64") * (h - mu) / sigma + np.asarray(bn.beta, "float64")
        h = np.maximum(h, 0.0)
    out = model.get_layer("logits")
    return h @ np.asarray(out.kernel, "float64") + np.asarray(out.bias, "float64")


def main(argv=None):
    args = experiment.parse_args("batch_norm", CLAIM, argv)
    run = experiment.Run("batch_norm", args, CLAIM)
    epochs = args.epochs or (12 if args.quick else 20)
    lrs = [0.03, 0.1, 0.3] if args.quick else [0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
    # Validation in batches of 512: the same accuracy as with numpy arrays, for a fraction of the cost per epoch.
    train, val, _, info = kerasreg.data.load("digits", flatten=True, seed=args.seed, batch_size=32, eval_batch_size=512)
    input_dim = info.input_shape[0]
    run.metric("train_examples", info.split_sizes["train"])

    results, best, models = {}, {}, {}
    for variant in ("plain", "batch_norm"):
        # One compiled model per variant, trained from the same initial weights at every learning rate
        # (snapshot / restore): the train function is traced once, not once per rate.
        model = build_mlp(variant == "batch_norm", input_dim, info.num_classes, args.seed)
        model.compile(optimizer=kerasreg.optimizers.Momentum(lrs[0], momentum=0.9),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      # A small MLP: XLA's compile time would exceed its gain.
                      metrics=["accuracy"], jit_compile=False, steps_per_execution=8)
        start = experiment.snapshot(model)
        models[variant] = model
        rows, budget = [], epochs
        # From the highest rate down; a run that has not reached the target after as many epochs as
        # the best run so far cannot be the best one, so it stops there (the best rate is the same
        # as with every run trained to the full budget, and the slow rates cost far less).
        for lr in sorted(lrs, reverse=True):
            experiment.restore(model, start, learning_rate=lr)
            moving = MovingStatistics() if variant == "batch_norm" else None
            callbacks = kerasreg.callbacks.tensorboard_callbacks(
                run.tensorboard_dir(f"{variant}_lr{lr:g}"), hparams={"variant": variant, "learning_rate": lr})
            # A run whose loss is NaN (diverged) learns nothing more.
            callbacks += [StopAtTarget(), keras.callbacks.TerminateOnNaN()] + ([moving] if moving else [])
            hist = model.fit(train, validation_data=val, epochs=budget, verbose=args.verbose, callbacks=callbacks)
            acc = np.nan_to_num(np.array(hist.history["val_accuracy"]))
            reached = int(np.argmax(acc >= TARGET)) + 1 if np.any(acc >= TARGET) else math.inf
            row = dict(lr=lr, epochs=reached, best_acc=float(acc.max()), curve=acc, moving=moving,
                       diverged=not np.all(np.isfinite(hist.history["loss"])))
            if not rows or (reached, -row["best_acc"]) < (best[variant]["epochs"], -best[variant]["best_acc"]):
                best[variant] = row
                row["state"] = experiment.snapshot(model)  # the trained network, for part 2
            budget = min(budget, reached)
            rows.append(row)
            print(f"  {variant:<10} lr {lr:<6g} epochs to {TARGET}: {reached}  best val acc {acc.max():.3f}")
        results[variant] = sorted(rows, key=lambda r: r["lr"])
        run.metric(f"epochs_to_target/{variant}", best[variant]["epochs"])
        run.metric(f"best_learning_rate/{variant}", best[variant]["lr"])
        run.metric(f"epochs_to_target_per_lr/{variant}", [r["epochs"] for r in results[variant]])
        run.metric(f"epochs_trained_per_lr/{variant}", [len(r["curve"]) for r in results[variant]])

    plain_epochs = best["plain"]["epochs"] if math.isfinite(best["plain"]["epochs"]) else epochs + 1
    run.check(f"with BN the validation accuracy reaches {TARGET}", value=best["batch_norm"]["epochs"],
              threshold=epochs, op="<=")
    run.check("with BN: fewer epochs to the target than without (never: budget + 1)",
              value=best["batch_norm"]["epochs"], threshold=plain_epochs, op="<")
    run.table(f"Epochs to validation accuracy {TARGET} (budget {epochs}; '> n': "
              "not reached in its n epochs: the budget, or as many as a faster rate needed; 'diverged': NaN loss), "
              "SGD with momentum 0.9",
              ["learning rate", "plain", "batch norm"],
              [[f"{p['lr']:g}", outcome(p), outcome(b)] for p, b in zip(results["plain"], results["batch_norm"])])

    # Part 2: test time uses the running averages.
    model = experiment.restore(models["batch_norm"], best["batch_norm"]["state"])
    x_small = keras.ops.convert_to_numpy(next(iter(val))[0])[:8]  # 8 validation examples
    inference = keras.ops.convert_to_numpy(model(x_small, training=False))
    reference = numpy_forward(model, x_small, batch_statistics=False)
    err_inference = float(np.max(np.abs(inference - reference)))
    expected_training = numpy_forward(model, x_small, batch_statistics=True)
    training = keras.ops.convert_to_numpy(model(x_small, training=True))  # (also updates the moving averages)
    err_training = float(np.max(np.abs(training - expected_training)))
    gap = float(np.max(np.abs(training - inference)))
    run.metric("inference_vs_numpy_moving_stats_max_abs", err_inference)
    run.metric("training_vs_numpy_batch_stats_max_abs", err_training)
    run.metric("training_vs_inference_max_abs", gap)
    run.check("inference mode = numpy with the moving mean/variance (max abs difference of the logits)",
              value=err_inference, threshold=1e-3, op="<")
    run.check("training mode = numpy with the batch's own mean/variance (max abs difference)",
              value=err_training, threshold=1e-3, op="<")
    run.check("on a batch of 8, training-mode logits differ from inference-mode logits by > 0.1",
              value=gap, threshold=0.1, op=">")

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
    for variant, color in (("plain", "tab:red"), ("batch_norm", "tab:blue")):
        for r in results[variant]:
            is_best = r is best[variant]
            axes[0].plot(np.arange(1, len(r["curve"]) + 1), r["curve"], color=color,
                         alpha=1.0 if is_best else 0.3, lw=2 if is_best else 1,
                         label=f"{variant} lr {r['lr']:g}" + (" (best)" if is_best else ""))
    axes[0].axhline(TARGET, color="grey", ls="--")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("validation accuracy")
    axes[0].set_title(f"{DEPTH}x{WIDTH} ReLU MLP (training stops at the target)")
    axes[0].legend(fontsize=6)
    moving = best["batch_norm"]["moving"]
    means, variances = np.array(moving.means), np.array(moving.variances)
    steps = np.arange(1, len(means) + 1)
    for u in range(6):
        axes[1].plot(steps, means[:, u])
        axes[2].plot(steps, variances[:, u])
    axes[1].set_title("bn_0 moving mean (6 units)")
    axes[2].set_title("bn_0 moving variance (6 units)")
    for ax in axes[1:]:
        ax.set_xlabel("training step (x 8)")
    run.figure("batch_norm.png", fig,
               "Left: validation accuracy per epoch for every learning rate (bold: each variant's best). "
               "Middle and right: the running averages the BN network uses at test time.")
    run.finish()
    return run


if __name__ == "__main__":
    main()
