"""Feature normalization x' = (x - mu) / sigma speeds up learning: the same model reaches the target loss in fewer epochs.

The lecture: "Good practice to normalize features before applying learning
algorithm: x' = (x - mu) / sigma", with mu and sigma the vectors of the
features' means and standard deviations, so that every feature has mean 0
and variance 1: it "speeds up learning".  Its picture: the loss contours of
a model on raw features are long, thin, tilted ellipses; after normalization
they are circles, and gradient descent walks straight to the minimum.

We fit a linear regression y = w1 x1 + w2 x2 + b by mini-batch SGD on two
features with very different means and scales, once on the raw features and
once through ``kerasreg.data.from_arrays(..., normalize=True)`` (a
``keras.layers.Normalization`` adapted on the training split only).  Each
gets its best learning rate from the same grid, and we count the epochs each
needs to bring the validation mean squared error below a target (a little
above the noise variance, the lowest reachable).  We also draw the loss
contours of (w1, w2) before and after normalization, as in the lecture.
"""

import math

import matplotlib

matplotlib.use("Agg")
import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import kerasreg  # noqa: E402
from kerasreg import experiment  # noqa: E402

CLAIM = ("With each at its best learning rate from the same grid, SGD on normalized features reaches the "
         "target validation MSE in at most a fifth of the epochs it needs on the raw features.")

MEANS = np.array([3.0, 20.0])  # raw features x_i = MEANS_i + SCALES_i * z_i
SCALES = np.array([1.0, 10.0])
WEIGHTS, BIAS, NOISE = np.array([2.0, -0.3]), 1.0, 0.5


def make_data(n, seed):
    rng = np.random.default_rng(seed)
    x = MEANS + SCALES * rng.standard_normal((n, 2))
    y = x @ WEIGHTS + BIAS + NOISE * rng.standard_normal(n)
    return x.astype("float32"), y.astype("float32")


def epochs_to(curve, target):
    """1-based epoch at which the curve first goes below target (inf: never; runs stop there)."""
    below = np.flatnonzero(np.asarray(curve) < target)
    return int(below[0]) + 1 if below.size else math.inf


class StopAtTarget(keras.callbacks.Callback):
    """Stop once the validation loss is below the target, or is not finite (diverged)."""

    def __init__(self, target):
        super().__init__()
        self.target = target

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("val_loss", math.inf)
        if not (loss < self.target) and math.isfinite(loss):
            return
        self.model.stop_training = True


def fit(train, val, learning_rate, epochs, target, seed, log_dir, variant, verbose):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=kerasreg.optimizers.SGD(learning_rate), loss="mse", jit_compile=True,
                  steps_per_execution=8)
    callbacks = kerasreg.callbacks.tensorboard_callbacks(
        log_dir, hparams={"features": variant, "learning_rate": learning_rate})
    callbacks.append(StopAtTarget(target))
    hist = model.fit(train, validation_data=val, epochs=epochs, verbose=verbose, callbacks=callbacks)
    val_loss = np.array(hist.history["val_loss"], dtype="float64")
    return np.where(np.isfinite(val_loss), val_loss, np.inf)


def contour(ax, x, title):
    """Contours of L(w1, w2) - L* on the slice b = b*: the quadratic form (w - w*)^T E[x x^T] (w - w*)."""
    x = np.asarray(x, "float64")
    second = x.T @ x / len(x)  # E[x x^T], not centered: the means tilt and stretch the ellipses
    span = 3.0 / math.sqrt(np.linalg.eigvalsh(second).min())
    g1, g2 = np.meshgrid(np.linspace(-span, span, 201), np.linspace(-span, span, 201))
    d = np.stack([g1, g2], -1)
    excess = np.einsum("...i,ij,...j->...", d, second, d)
    ax.contour(g1, g2, excess, levels=np.geomspace(excess.max() * 1e-4, excess.max(), 12), cmap="viridis")
    eig = np.linalg.eigvalsh(second)
    ax.set_title(f"{title}\ncondition number of E[x x^T]: {eig.max() / eig.min():.3g}")
    ax.set_xlabel("w1 - w1*")
    ax.set_ylabel("w2 - w2*")
    ax.set_aspect("equal")


def main(argv=None):
    args = experiment.parse_args("feature_normalization", CLAIM, argv)
    run = experiment.Run("feature_normalization", args, CLAIM)
    epochs = args.epochs or (40 if args.quick else 150)
    x, y = make_data(1250, args.seed)
    target = 1.2 * NOISE**2
    run.metric("target_val_mse", target)
    lrs = np.geomspace(1e-4, 1.0, 5 if args.quick else 9)

    curves, best = {}, {}
    for variant, normalize in (("raw", False), ("normalized", True)):
        train, val, _, info = kerasreg.data.from_arrays(
            x, y, task="regression", validation_split=0.2, test_split=0.0, seed=args.seed,
            batch_size=32, normalize=normalize)
        if normalize:
            xt = np.concatenate([keras.ops.convert_to_numpy(xb) for xb, _ in train])
            run.metric("normalized_train_mean", xt.mean(0))
            run.metric("normalized_train_std", xt.std(0))
            run.check("normalized training features: max |mean| < 1e-3",
                      value=float(np.abs(xt.mean(0)).max()), threshold=1e-3, op="<")
            run.check("normalized training features: max |std - 1| < 1e-3",
                      value=float(np.abs(xt.std(0) - 1).max()), threshold=1e-3, op="<")
            run.metric("normalizer_mean", keras.ops.convert_to_numpy(info.normalizer.mean).ravel())
            run.metric("normalizer_variance", keras.ops.convert_to_numpy(info.normalizer.variance).ravel())
        rows = []
        for lr in lrs:
            curve = fit(train, val, float(lr), epochs, target, args.seed,
                        run.tensorboard_dir(f"{variant}_lr{lr:.1e}"), variant, args.verbose)
            curves[(variant, lr)] = curve
            reached = epochs_to(curve, target)
            rows.append((reached, float(curve[-1]), lr))
        # Best rate: fewest epochs to the target; ties (or never) broken by the final loss.
        reached, final, lr = min(rows, key=lambda r: (r[0], r[1]))
        best[variant] = dict(epochs=reached, learning_rate=lr, final_val_mse=final)
        run.metric(f"epochs_to_target/{variant}", reached)
        run.metric(f"best_learning_rate/{variant}", lr)
        run.metric(f"epochs_to_target_per_lr/{variant}", [r[0] for r in rows])
        print(f"  {variant:<11} best lr {lr:.3g}: {reached} epochs to val MSE < {target:.3g}")

    raw_epochs = best["raw"]["epochs"] if math.isfinite(best["raw"]["epochs"]) else epochs + 1
    run.check("normalized features reach the target", value=best["normalized"]["epochs"], threshold=epochs, op="<=")
    run.check("normalized needs at most 1/5 of the raw features' epochs (never: budget + 1)",
              value=best["normalized"]["epochs"], threshold=raw_epochs / 5, op="<=")
    run.table(f"Epochs to validation MSE < {target:.3g} (budget {epochs}; inf = never)",
              ["learning rate", *(f"{v}" for v in ("raw", "normalized"))],
              [[f"{lr:.3g}", epochs_to(curves[("raw", lr)], target), epochs_to(curves[("normalized", lr)], target)]
               for lr in lrs])
    run.table("Best learning rate of each",
              ["features", "learning rate", "epochs to target", "final val MSE"],
              [[v, f"{b['learning_rate']:.3g}", b["epochs"], b["final_val_mse"]] for v, b in best.items()])

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    for variant, color in (("raw", "tab:red"), ("normalized", "tab:blue")):
        c = curves[(variant, best[variant]["learning_rate"])]
        axes[0].semilogy(np.arange(1, len(c) + 1), c, "o-", ms=4, color=color,
                         label=f"{variant} (lr {best[variant]['learning_rate']:.2g})")
    axes[0].axhline(target, color="grey", ls="--", label="target")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("validation MSE (log)")
    axes[0].set_title("Each at its best learning rate (runs stop at the target)")
    axes[0].legend()
    mu, sigma = x.mean(0), x.std(0)
    contour(axes[1], x, "Before normalization")
    contour(axes[2], (x - mu) / sigma, "After normalization")
    run.figure("feature_normalization.png", fig,
               "Left: validation loss per epoch. Middle and right: contours of the loss over (w1, w2) "
               "(bias at its optimum), on raw and on normalized features.")
    run.finish()
    return run


if __name__ == "__main__":
    main()
