"""The random seed: mean and spread over seeds, and why picking the best seed on validation does not carry over to test.

The lecture's last slide, "optimizing the random seed", is a warning: the seed
changes the initialization, the order of the mini-batches and the dropout
masks, so the same network trained with different seeds lands at different
accuracies.  Reporting one lucky seed overstates the model; the honest number
is the mean and spread over seeds.  And "tuning" the seed on the validation
set is selection on noise: the chosen seed's advantage on validation shrinks
(regresses to the mean) on the test set.

We train the same MLP with N seeds, report mean and standard deviation, then
repeat the seed selection on many random partitions of the held-out examples
into a validation set (a quarter: a few hundred examples, as in practice) and
a test set (the rest), and compare the best seed's advantage on validation
with its advantage on test.  How much of the advantage survives depends on
how the true differences between seeds compare with the noise of the
validation estimate: the smaller the validation set, the more of the chosen
seed's lead is noise.
"""

import matplotlib

matplotlib.use("Agg")
import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import kerasreg  # noqa: E402
from kerasreg import experiment  # noqa: E402

CLAIM = ("Accuracy varies from seed to seed; the seed picked as best on validation keeps on average "
         "less than half of its validation advantage on test (selection on noise).")


def build(info, seed):
    """The network with the initial weights and dropout seed of `seed` (uncompiled: building is cheap)."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input(info.input_shape),
        keras.layers.Dense(64, activation="relu"),
        kerasreg.layers.Dropout(0.3, seed=seed),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(info.num_classes),
    ])


def main(argv=None):
    args = experiment.parse_args("random_seed", CLAIM, argv)
    run = experiment.Run("random_seed", args, CLAIM)
    n_seeds = 16 if args.quick else 24
    epochs = args.epochs or (15 if args.quick else 30)
    # Small training set, large held-out pool: seeds matter, the pool measures it.
    (x_tr, y_tr), (x_pool, y_pool), _, info = kerasreg.data.load_arrays(
        args.dataset or "digits", validation_split=0.75, test_split=0.0, seed=args.seed, flatten=True)
    batch_size = 32
    steps = epochs * -(-len(x_tr) // batch_size)  # `epochs` passes in batches of 32

    # Compiling (tracing the train step) costs more than training this small
    # network, so one compiled model trains every seed: `restore` resets the
    # optimizer, then the variables of a fresh `build(seed)` replace the weights
    # and the dropout seed state.  The result is that of a fresh model with this
    # seed (the optimizer starts from zeros either way).  A whole training run is
    # one compiled call (steps_per_execution); XLA does not pay for a network this small.
    model = build(info, args.seed)
    model.compile(optimizer=kerasreg.optimizers.Adam(2e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False, steps_per_execution=steps)
    initial = experiment.snapshot(model)
    correct = []  # per seed: 0/1 per held-out example
    for s in range(n_seeds):
        # What the seed varies: the initial weights, the dropout masks (the
        # layer's seed state) and the order of the examples in every epoch
        # (the shuffling of the training batches); the data and its split do not change.
        seed = args.seed * 1000 + s
        experiment.restore(model, initial)
        for variable, value in zip(model.variables, build(info, seed).variables):
            variable.assign(value)
        train, _, _, _ = kerasreg.data.from_arrays(x_tr, y_tr, validation_split=0.0, test_split=0.0,
                                                   batch_size=batch_size, seed=seed)
        # Repeated: one iterator for all the epochs, reshuffled at each pass.
        model.fit(train.repeat(), epochs=1, steps_per_epoch=steps, verbose=0)
        # One direct call on the whole pool (dropout is off outside training).
        pred = np.argmax(np.asarray(model(x_pool)), axis=-1)
        correct.append(pred == y_pool)
    correct = np.array(correct, dtype="float64")  # (seeds, examples)
    acc = correct.mean(axis=1)
    run.metric("accuracy_per_seed", acc)
    run.metric("accuracy_mean", float(acc.mean()))
    run.metric("accuracy_std", float(acc.std(ddof=1)))
    run.metric("accuracy_range", float(acc.max() - acc.min()))

    # Seed selection on random validation (a quarter) / test (the rest) cuts of the held-out pool.
    rng = np.random.default_rng(args.seed)
    partitions = 500
    adv_val, adv_test = [], []
    n = correct.shape[1]
    n_val = n // 4
    for _ in range(partitions):
        perm = rng.permutation(n)
        val_idx, test_idx = perm[:n_val], perm[n_val:]
        val_acc, test_acc = correct[:, val_idx].mean(1), correct[:, test_idx].mean(1)
        best = int(np.argmax(val_acc))
        adv_val.append(val_acc[best] - val_acc.mean())
        adv_test.append(test_acc[best] - test_acc.mean())
    adv_val, adv_test = np.mean(adv_val), np.mean(adv_test)
    kept = adv_test / adv_val
    run.metric("best_seed_advantage_validation", float(adv_val))
    run.metric("best_seed_advantage_test", float(adv_test))
    run.metric("fraction_of_advantage_kept_on_test", float(kept))
    run.check("seeds give different accuracies (std over seeds > 0.002)", value=float(acc.std(ddof=1)), threshold=0.002, op=">")
    run.check("the best-on-validation seed keeps < 1/2 of its advantage on test", value=float(kept), threshold=0.5, op="<")
    run.table(f"{n_seeds} seeds, {epochs} epochs, {len(x_tr)} training examples; "
              f"held-out pool cut into {n_val} validation and {n - n_val} test examples",
              ["mean accuracy", "std", "min", "max", "advantage of best seed on validation", "same seed on test"],
              [[acc.mean(), acc.std(ddof=1), acc.min(), acc.max(), adv_val, adv_test]])
    run.note("Report mean +- std over seeds; never a seed chosen on validation.")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].hist(acc, bins=min(10, n_seeds), color="tab:blue")
    axes[0].axvline(acc.mean(), color="k", ls="--", label=f"mean {acc.mean():.3f} +- {acc.std(ddof=1):.3f}")
    axes[0].set_xlabel("held-out accuracy")
    axes[0].set_ylabel("seeds")
    axes[0].legend()
    axes[1].bar(["validation", "test"], [adv_val, adv_test], color=["tab:orange", "tab:green"])
    axes[1].set_ylabel("best seed's accuracy minus the mean over seeds")
    axes[1].set_title(f"Selection on validation, averaged over {partitions} splits")
    run.figure("random_seed.png", fig, "Left: spread over seeds. Right: the chosen seed's advantage shrinks on test.")
    run.finish()
    return run


if __name__ == "__main__":
    main()
