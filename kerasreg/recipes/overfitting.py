"""The flagship: a 5x100 MLP overfits, and each regularizer of the lecture shrinks the train/validation gap.

The lecture: "Fitting a deep neural network with 5 layers and 100 neurons per
layer can lead to a very good prediction on the training set but poor
prediction on validation set."  We train exactly that MLP on a small part of
the embedded handwritten digits until it memorizes them, then train it again
with each regularizer of the lecture — L2 and L1 norm penalties, a norm
constraint, dropout, early stopping, data augmentation, weight noise and label
noise — and measure how much each one shrinks the generalization gap, the
difference between validation and training cross-entropy (computed from the
predictions, so the penalties themselves are not counted).

A controlled comparison: every variant starts from the same initial weights
(same seed) and sees the training examples in the same shuffled order; only
the regularizer differs.  The strengths (module constants below) were chosen
so that each effect shows for seeds 0 and 1 in quick and full mode.  With Adam
the effects of L1 and of the norm constraint on this gap are small (Adam
rescales each weight's step, penalty included, so an L1 pull is not the
lecture's gradient-descent shrinkage), which the report's table shows.
"""

import contextlib

import matplotlib

matplotlib.use("Agg")
import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import kerasreg  # noqa: E402
from kerasreg import experiment  # noqa: E402

CLAIM = "A 5x100 MLP overfits a small training set; every regularizer of the lecture shrinks its validation-minus-training loss gap."

HIDDEN, WIDTH = 5, 100
MAX_NORM = 0.5
L2_STRENGTH, L1_STRENGTH = 5e-3, 2e-4
EPOCHS_QUICK, EPOCHS_FULL = 60, 150  # passes over the training set
PASSES = 5  # passes per Keras epoch (see main)
PATIENCE = 2  # early stopping: Keras epochs, i.e. PASSES * PATIENCE passes


def build_mlp(info, variant, seed):
    """The lecture's 5-layer, 100-unit MLP, with the variant's regularizer."""
    keras.utils.set_random_seed(seed)
    # Projected gradient descent: each unit's incoming weight vector kept in ||w||_2 <= MAX_NORM.
    constraint = kerasreg.constraints.L2Ball(max_norm=MAX_NORM, axis=0) if variant == "norm_constraint" else None
    layers = [keras.Input(info.input_shape), keras.layers.Flatten()]
    if variant == "dropout":
        layers.append(kerasreg.layers.Dropout(0.2, seed=seed))  # the lecture: keep 0.8 of the inputs
    for i in range(HIDDEN):
        dense = keras.layers.Dense(WIDTH, activation="relu", kernel_constraint=constraint)
        layers.append(kerasreg.layers.WeightNoise(dense, stddev=0.1, seed=seed + i) if variant == "weight_noise" else dense)
        if variant == "dropout":
            layers.append(kerasreg.layers.Dropout(0.5, seed=seed + 10 + i))  # keep 0.5 of hidden units
    layers.append(keras.layers.Dense(info.num_classes, kernel_constraint=constraint))
    model = keras.Sequential(layers)
    if variant == "l2":
        model = kerasreg.regularizers.add_penalties(model, kernel=kerasreg.regularizers.L2(L2_STRENGTH))
    elif variant == "l1":
        model = kerasreg.regularizers.add_penalties(model, kernel=kerasreg.regularizers.L1(L1_STRENGTH))
    return model


VARIANTS = {
    # variant: extra options for kerasreg.data.load (training split only)
    "baseline": {},
    "l2": {},
    "l1": {},
    "norm_constraint": {},
    "dropout": {},
    "early_stopping": {},
    "augmentation": {"augment": [("crop_and_pan", 0.15)]},  # shifts of up to 15 % (1.2 pixels)
    "weight_noise": {},
    "label_noise": {"label_noise": 0.2},
}


# Variants that change the network; the others (early stopping, augmentation, label noise)
# change the data or the callbacks and train the baseline's network.
ARCHITECTURES = ("baseline", "l2", "l1", "norm_constraint", "dropout", "weight_noise")


def cross_entropy(model, x, y):
    logits = model(x, training=False)  # one call on all examples; no new trace per array shape
    return float(keras.ops.convert_to_numpy(
        keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)).mean()), float(
        np.mean(np.argmax(logits, -1) == y))


def main(argv=None):
    args = experiment.parse_args("overfitting", CLAIM, argv)
    run = experiment.Run("overfitting", args, CLAIM)
    # First of all: the global seed also seeds tf.data's shuffling, so every variant's
    # pipeline (built below) shuffles in the same order.
    keras.utils.set_random_seed(args.seed)
    epochs = args.epochs or (EPOCHS_QUICK if args.quick else EPOCHS_FULL)  # passes over the training set
    learning_rate = 2e-3 if args.quick else 1e-3  # quick: overfit in fewer epochs
    # 180 examples make an epoch of 6 steps, a few milliseconds of work, while Keras spends
    # ~30 ms per epoch around it (iterators, validation, callbacks).  So each Keras "epoch"
    # below is PASSES passes over the training set (reshuffled each pass): the curves and
    # early stopping see a point every PASSES epochs.
    keras_epochs = max(1, round(epochs / PASSES))  # --epochs is rounded to a multiple of PASSES
    dataset = args.dataset or "digits"
    # A small training set (10 %, about 180 digits) makes memorization easy.
    split = dict(validation_split=0.7, test_split=0.2, seed=args.seed)
    (x_tr, y_tr), (x_val, y_val), _, info = kerasreg.data.load_arrays(dataset, **split)
    run.metric("train_examples", len(x_tr))
    # --strategy mirrored | multi_worker: the same recipe across devices or hosts (docs/multi_worker.md).
    strategy = kerasreg.distribute.get_strategy(args.strategy)
    results, curves = {}, {}
    # Variants that differ only in their data or callbacks train the same network: one compiled
    # model serves them all, restored to its initial state before each fit.  Tracing a model costs
    # seconds; restoring it costs nothing, and the result is that of a freshly built model.
    compiled = {}
    for variant, data_options in VARIANTS.items():
        # A fresh pipeline per variant: every variant sees the same seeded shuffling order.
        train, val, _, _ = kerasreg.data.load(dataset, batch_size=32, eval_batch_size=512,  # validation is 7x
                                              **split, **data_options)                      # the training set
        train = train.repeat(PASSES)
        network = variant if variant in ARCHITECTURES else "baseline"
        if network not in compiled:
            with strategy.scope() if strategy else contextlib.nullcontext():
                model = build_mlp(info, network, args.seed)
                model.compile(
                    optimizer=kerasreg.optimizers.Adam(learning_rate),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["accuracy"],
                    jit_compile=False,  # a 5x100 MLP: XLA's compile time exceeds what it saves
                    steps_per_execution=32,  # one compiled call per epoch: Python overhead off the loop
                )
            compiled[network] = (model, experiment.snapshot(model))
        model, initial = compiled[network]
        experiment.restore(model, initial)
        callbacks = kerasreg.callbacks.tensorboard_callbacks(
            run.tensorboard_dir(variant), hparams={"variant": variant, "epochs": epochs}, write_graph=False
        )
        if variant == "early_stopping":
            stopper = kerasreg.callbacks.EarlyStopping(monitor="val_loss", patience=PATIENCE, restore_best_weights=True)
            callbacks.append(stopper)
        if args.strategy == "multi_worker":  # Keras' fit does not run under it: kerasreg's loop does
            hist = kerasreg.distribute.fit(model, train, validation_data=val, epochs=keras_epochs,
                                           strategy=strategy, verbose=args.verbose, callbacks=callbacks)
        else:
            hist = model.fit(train, validation_data=val, epochs=keras_epochs, verbose=args.verbose,
                             callbacks=callbacks)
        train_ce, train_acc = cross_entropy(model, x_tr, y_tr)
        val_ce, val_acc = cross_entropy(model, x_val, y_val)
        results[variant] = dict(train_loss=train_ce, val_loss=val_ce, gap=val_ce - train_ce,
                                train_acc=train_acc, val_acc=val_acc, epochs=len(hist.history["loss"]) * PASSES)
        if variant == "early_stopping":
            results[variant]["best_epoch"] = (int(stopper.best_epoch) + 1) * PASSES
        curves[variant] = (hist.history["loss"], hist.history["val_loss"])
        run.metric(f"gap/{variant}", results[variant]["gap"])
        run.metric(f"val_accuracy/{variant}", val_acc)
        print(f"  {variant:<16} gap {val_ce - train_ce:.3f}  train acc {train_acc:.3f}  val acc {val_acc:.3f}")

    base = results["baseline"]
    run.check("the 5x100 MLP overfits: training accuracy >= 0.99", value=base["train_acc"], threshold=0.99, op=">=")
    run.check("the baseline's validation loss exceeds its training loss by > 0.2", value=base["gap"], threshold=0.2, op=">")
    for variant in VARIANTS:
        if variant != "baseline":
            run.check(f"{variant} shrinks the gap", value=results[variant]["gap"], threshold=base["gap"], op="<")
    run.table(
        "Generalization gap (validation minus training cross-entropy) per regularizer",
        ["variant", "train loss", "val loss", "gap", "gap shrunk by", "train acc", "val acc", "epochs"],
        [[v, r["train_loss"], r["val_loss"], r["gap"], f"{100 * (1 - r['gap'] / base['gap']):.0f} %",
          r["train_acc"], r["val_acc"], r["epochs"]] for v, r in results.items()],
    )

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for variant, (tr, va) in curves.items():
        passes = np.arange(1, len(va) + 1) * PASSES
        line, = axes[0].plot(passes, va, label=variant)
        axes[0].plot(passes, tr, color=line.get_color(), ls=":", lw=0.8)
    axes[0].set_xlabel("epoch (pass over the training set)")
    axes[0].set_ylabel("loss (dotted: training, solid: validation)")
    axes[0].set_ylim(0, max(2.0, base["val_loss"] * 1.2))
    axes[0].legend(fontsize=7)
    names = list(results)
    axes[1].barh(names, [results[v]["gap"] for v in names], color=["tab:red"] + ["tab:blue"] * (len(names) - 1))
    axes[1].set_xlabel("validation minus training cross-entropy")
    axes[1].invert_yaxis()
    run.figure("overfitting.png", fig, "Left: loss curves as Keras reports them (for l1 and l2 they include the penalty terms). "
               "Right: the generalization gap of each variant, penalties excluded (red: no regularization).")
    run.finish()
    return run


if __name__ == "__main__":
    main()
