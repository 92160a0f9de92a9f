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
above the noise variance, the lowest reachable).  A run stops at the target,
or once it diverges (its validation loss above the initial one), or once it
has trained as many epochs as the best run so far needed (the rates are tried
from high to low): then it cannot be the best.  We also draw the loss contours
of (w1, w2) before and after normalization, as in the lecture.
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


def outcome(curve, target, initial_loss):
    """The epochs to the target, or how the run ended without reaching it."""
    reached = epochs_to(curve, target)
    if math.isfinite(reached):
        return reached
    return "diverged" if not curve[-1] <= initial_loss else f"> {len(curve)}"


class StopAtTarget(keras.callbacks.Callback):
    """Stop once the validation loss is below the target, or has diverged.

    Diverged: not finite, or above its value at the initial weights (training
    made the model worse than not training it at all; an unstable rate can
    bounce between 1 and 1e8 for ever without overflowing).
    """

    def __init__(self, target, initial_loss):
        super().__init__()
        self.target = target
        self.initial_loss = initial_loss

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("val_loss", math.inf)
        if loss < self.target or not loss <= self.initial_loss:
            self.model.stop_training = True


def build_model(seed):
    """y = w1 x1 + w2 x2 + b, trained by plain mini-batch SGD on the mean squared error.

    Both variants train this one compiled model: normalization happens in the
    data pipeline, so the inputs have the same shape.  Each run restores the
    initial weights (`kerasreg.experiment.snapshot` / `restore`) and sets its
    learning rate: one traced train function for the whole sweep.
    """
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    # A 3-parameter model: XLA's compile time would exceed its gain.  One execution per epoch
    # (1000 examples / 32 = 32 steps): fewer Python round trips.
    model.compile(optimizer=kerasreg.optimizers.SGD(0.01), loss="mse", jit_compile=False,
                  steps_per_execution=32)
    return model


def fit(model, start, train, val, learning_rate, epochs, target, initial_loss, log_dir, variant, verbose):
    """Train from the initial weights at `learning_rate`; the validation MSE per epoch (inf if not finite)."""
    experiment.restore(model, start, learning_rate=learning_rate)
    callbacks = kerasreg.callbacks.tensorboard_callbacks(
        log_dir, hparams={"features": variant, "learning_rate": learning_rate})
    callbacks.append(StopAtTarget(target, initial_loss))
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

    model = build_model(args.seed)
    start = experiment.snapshot(model)
    curves, best, initial_loss = {}, {}, {}
    for variant, normalize in (("raw", False), ("normalized", True)):
        # Validation in one batch of 512 (250 examples): the same MSE, one step per epoch.
        train, val, _, info = kerasreg.data.from_arrays(
            x, y, task="regression", validation_split=0.2, test_split=0.0, seed=args.seed,
            batch_size=32, eval_batch_size=512, normalize=normalize)
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
        experiment.restore(model, start)
        initial_loss[variant] = float(model.evaluate(val, verbose=0))
        run.metric(f"initial_val_mse/{variant}", initial_loss[variant])
        rows, budget = [], epochs
        # From the highest rate down; a run that has not reached the target after as many epochs as
        # the best run so far cannot be the best one, so it stops there (the best rate is the same
        # as with every run trained to the full budget, and the slow rates cost far less).
        for lr in lrs[::-1]:
            curve = fit(model, start, train, val, float(lr), budget, target, initial_loss[variant],
                        run.tensorboard_dir(f"{variant}_lr{lr:.1e}"), variant, args.verbose)
            curves[(variant, lr)] = curve
            reached = epochs_to(curve, target)
            budget = min(budget, reached)
            rows.append((reached, float(curve[-1]), lr))
        rows = rows[::-1]  # back to increasing rates
        # Best rate: fewest epochs to the target; ties (or never) broken by the final loss.
        reached, final, lr = min(rows, key=lambda r: (r[0], r[1]))
        best[variant] = dict(epochs=reached, learning_rate=lr, final_val_mse=final)
        run.metric(f"epochs_to_target/{variant}", reached)
        run.metric(f"best_learning_rate/{variant}", lr)
        run.metric(f"epochs_to_target_per_lr/{variant}", [r[0] for r in rows])
        run.metric(f"epochs_trained_per_lr/{variant}", [len(curves[(variant, r[2])]) for r in rows])
        print(f"  {variant:<11} best lr {lr:.3g}: {reached} epochs to val MSE < {target:.3g}")

    raw_epochs = best["raw"]["epochs"] if math.isfinite(best["raw"]["epochs"]) else epochs + 1
    run.check("normalized features reach the target", value=best["normalized"]["epochs"], threshold=epochs, op="<=")
    run.check("normalized needs at most 1/5 of the raw features' epochs (never: budget + 1)",
              value=best["normalized"]["epochs"], threshold=raw_epochs / 5, op="<=")
    run.table(f"Epochs to validation MSE < {target:.3g} (budget {epochs}; '> n': not reached in its n epochs: "
              "the budget, or as many as a faster rate needed; 'diverged': above the initial loss or not finite)",
              ["learning rate", *(f"{v}" for v in ("raw", "normalized"))],
              [[f"{lr:.3g}", *(outcome(curves[(v, lr)], target, initial_loss[v]) for v in ("raw", "normalized"))]
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
