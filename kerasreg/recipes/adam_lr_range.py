"""Adam converges over the widest range of learning rates.

The lecture: Adam (RMSProp plus momentum, with bias correction) "works well
in practice, is fairly robust to hyper-parameters".  We train the same small
MLP on a badly scaled classification problem with every optimizer at each
learning rate of one log-spaced grid, and count the rates at which each one
reaches the target training loss (cross-entropy on the whole training set,
measured after the last epoch).
"""

import matplotlib

matplotlib.use("Agg")
import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import kerasreg  # noqa: E402
from kerasreg import experiment  # noqa: E402

CLAIM = "Adam reaches the target loss over the widest range of learning rates (at least as many grid points as any other optimizer, more than SGD)."


def make_data(seed, n=1024):
    """Two classes, 10 features on scales from 0.1 to 30: poorly conditioned."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 10))
    w = rng.normal(size=10)
    y = (np.tanh(x @ w) + 0.3 * rng.normal(size=n) > 0).astype("int32")
    scales = np.geomspace(0.1, 30.0, 10)
    return (x * scales).astype("float32"), y


def build(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((10,)),
            keras.layers.Dense(32, activation="tanh"),
            keras.layers.Dense(32, activation="tanh"),
            keras.layers.Dense(2),
        ]
    )


def main(argv=None):
    args = experiment.parse_args("adam_lr_range", CLAIM, argv)
    run = experiment.Run("adam_lr_range", args, CLAIM)
    x, y = make_data(args.seed)
    epochs = args.epochs or (8 if args.quick else 12)
    lrs = np.geomspace(1e-4, 1.0, 7 if args.quick else 13)
    target = 0.45  # cross-entropy; chance level is 0.69
    optimizers = {
        "SGD": lambda lr: kerasreg.optimizers.SGD(lr),
        "Momentum": lambda lr: kerasreg.optimizers.Momentum(lr, momentum=0.9),
        "AdaGrad": lambda lr: kerasreg.optimizers.AdaGrad(lr),
        "RMSProp": lambda lr: kerasreg.optimizers.RMSProp(lr),
        "Adam": lambda lr: kerasreg.optimizers.Adam(lr),
    }
    # Training batches as tf.data, reshuffled every epoch.  `repeat(epochs)` hands fit all epochs as
    # ONE long epoch: Keras' fit has ~10 ms of fixed overhead per epoch, about what a whole pass over
    # these 1024 examples costs.  The training loss is measured once, after the last epoch.
    train, _, _, _ = kerasreg.data.from_arrays(x, y, validation_split=0.0, test_split=0.0, batch_size=64,
                                               seed=args.seed)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    final = {name: [] for name in optimizers}
    for name, make in optimizers.items():
        # One compiled model per optimizer: tracing its train step costs about a second, a whole run of
        # this small MLP well under one.  `restore` puts back the initial weights and a fresh optimizer
        # state before each learning rate (the same as building and compiling the model afresh).
        model = build(args.seed)
        model.compile(optimizer=make(float(lrs[0])), loss=loss_fn, steps_per_execution=16)
        start = experiment.snapshot(model)
        for lr in lrs:
            experiment.restore(model, start, learning_rate=float(lr))
            model.fit(train.repeat(epochs), epochs=1, verbose=0)
            loss = float(loss_fn(y, model(x)))  # on the whole training set
            final[name].append(loss if np.isfinite(loss) else np.inf)
        count = int(np.sum(np.array(final[name]) < target))
        run.metric(f"converged_rates/{name}", count)
        run.metric(f"final_loss/{name}", final[name])
    run.metric("learning_rates", lrs)
    counts = {k: run.metrics[f"converged_rates/{k}"] for k in optimizers}
    others = max(v for k, v in counts.items() if k != "Adam")
    run.check("Adam converges at least as many rates as any other optimizer", value=counts["Adam"], threshold=others, op=">=")
    run.check("Adam converges at more rates than SGD", value=counts["Adam"], threshold=counts["SGD"], op=">")
    run.table(
        f"Training loss after {epochs} epochs (target < {target})",
        ["optimizer", *[f"{lr:.0e}" for lr in lrs], "rates converged"],
        [[k, *[f"{v:.3f}" for v in final[k]], counts[k]] for k in optimizers],
    )
    fig, ax = plt.subplots(figsize=(7, 4))
    for name in optimizers:
        ax.semilogx(lrs, np.minimum(final[name], 5.0), "o-", label=name)
    ax.axhline(target, color="k", ls="--", lw=0.8, label="target")
    ax.set_xlabel("learning rate")
    ax.set_ylabel(f"training loss after {epochs} epochs (capped at 5)")
    ax.legend()
    run.figure("lr_range.png", fig, "Final loss against learning rate; Adam's basin is the widest.")
    run.finish()
    return run


if __name__ == "__main__":
    main()
