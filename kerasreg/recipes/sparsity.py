"""Sparse weights from L1, sparse representations from activity penalties.

The lecture: an L1 norm penalty ``alpha * ||W||_1`` "encourages sparsity" of
the weights (the output-layer weights W_7 shrink towards zero), while a
penalty on the hidden *outputs*, ``alpha * Omega(h)``, makes the
representation sparse (many h are exactly 0).  We train the same MLP with no
penalty, with L2 and with L1 on the kernels (``kerasreg.regularizers.add_penalties``),
and with ``ActivityL1`` and ``KLSparsity`` on the hidden outputs, and measure
the fraction of near-zero weights and of zero (or near-zero) activations.
"""

import matplotlib

matplotlib.use("Agg")
import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import kerasreg  # noqa: E402
from kerasreg import experiment  # noqa: E402
from kerasreg import regularizers  # noqa: E402

CLAIM = ("L1 makes most weights near zero where L2 and no penalty do not; activity penalties make the hidden "
         "representation sparse (ActivityL1: many exact zeros; KL sparsity: mean activation near the target).")

WEIGHT_TOL = 1e-3


def build(info, seed, activation):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input(info.input_shape),
                             keras.layers.Dense(100, activation=activation, name="hidden1"),
                             keras.layers.Dense(100, activation=activation, name="hidden2"),
                             keras.layers.Dense(info.num_classes, name="output")])


def main(argv=None):
    args = experiment.parse_args("sparsity", CLAIM, argv)
    run = experiment.Run("sparsity", args, CLAIM)
    epochs = args.epochs or (25 if args.quick else 60)
    # Training batches from tf.data, shuffled anew each pass; repeated, so that
    # fit keeps one iterator for all epochs instead of building one per epoch.
    # The validation split as arrays (the same split) for the measurements below.
    train, _, _, info = kerasreg.data.load(args.dataset or "digits", flatten=True, seed=args.seed)
    steps_per_epoch, train = len(train), train.repeat()
    _, (x_val, y_val), _, _ = kerasreg.data.load_arrays(args.dataset or "digits", flatten=True, seed=args.seed)
    variants = {
        "none": ("relu", {}),
        "l2": ("relu", {"kernel": regularizers.L2(1e-3)}),
        "l1": ("relu", {"kernel": regularizers.L1(1e-2)}),
        "activity_l1": ("relu", {"activity": regularizers.ActivityL1(1e-2)}),
        "kl_sparsity": ("sigmoid", {"activity": regularizers.KLSparsity(target=0.05, weight=0.05)}),
        "none_sigmoid": ("sigmoid", {}),
    }
    weights_small, act_zero, act_mean, val_acc, hists = {}, {}, {}, {}, {}
    for name, (activation, penalties) in variants.items():
        model = build(info, args.seed, activation)
        if penalties:
            model = regularizers.add_penalties(model, activity_layers=["hidden1", "hidden2"] if "activity" in penalties else None,
                                               **penalties)
        # ReLU nets: momentum SGD, whose L1 subgradient steps leave weights oscillating
        # within lr*alpha of 0.  Sigmoid nets learn too slowly with it: Adam.
        optimizer = (kerasreg.optimizers.Momentum(0.05, momentum=0.9) if activation == "relu"
                     else kerasreg.optimizers.Adam(3e-3))
        # Each penalty changes the graph, so every variant is traced once; a whole
        # epoch per compiled call keeps the Python overhead off the training loop.
        model.compile(optimizer=optimizer,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
                      steps_per_execution=steps_per_epoch)
        model.fit(train, epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=0,
                  callbacks=kerasreg.callbacks.tensorboard_callbacks(run.tensorboard_dir(name), hparams={"penalty": name}))
        kernels = np.concatenate([np.abs(np.asarray(l.kernel)).ravel() for l in model.layers])
        weights_small[name] = float(np.mean(kernels < WEIGHT_TOL))
        # Calling the models directly on the 359 validation examples (one batch)
        # needs no traced predict/evaluate function.
        hidden = np.asarray(keras.Model(model.inputs[0], model.get_layer("hidden2").output)(x_val))
        act_zero[name] = float(np.mean(hidden <= 1e-6))
        act_mean[name] = float(np.mean(hidden))
        val_acc[name] = float(np.mean(np.argmax(np.asarray(model(x_val)), axis=-1) == y_val))
        hists[name] = (kernels, hidden.ravel())
        run.metric(f"near_zero_weights/{name}", weights_small[name])
        run.metric(f"zero_activations/{name}", act_zero[name])
        run.metric(f"mean_activation/{name}", act_mean[name])
        run.metric(f"val_accuracy/{name}", val_acc[name])

    run.check(f"L1: over half the weights below {WEIGHT_TOL:g}", value=weights_small["l1"], threshold=0.5, op=">")
    run.check("L1 has at least 3x the near-zero weights of L2", value=weights_small["l1"],
              threshold=3 * weights_small["l2"], op=">")
    run.check("ActivityL1 halves the mean hidden activation", value=act_mean["activity_l1"],
              threshold=0.5 * act_mean["none"], op="<")
    run.check("ActivityL1 raises the fraction of exactly-zero ReLU outputs by 1.3x", value=act_zero["activity_l1"],
              threshold=1.3 * act_zero["none"], op=">")
    run.check("... while keeping validation accuracy within 2 points", value=val_acc["activity_l1"],
              threshold=val_acc["none"] - 0.02, op=">")
    run.check("KL sparsity brings the mean sigmoid activation below 0.15 (target 0.05)",
              value=act_mean["kl_sparsity"], threshold=0.15, op="<")
    run.check("... from a mean activation above 0.3 without it", value=act_mean["none_sigmoid"], threshold=0.3, op=">")
    run.check("... and the sparse sigmoid network still classifies (val accuracy > 0.8)",
              value=val_acc["kl_sparsity"], threshold=0.8, op=">")
    run.table("Sparsity per penalty", ["penalty", f"weights < {WEIGHT_TOL:g}", "zero activations", "mean activation",
                                       "val accuracy"],
              [[k, weights_small[k], act_zero[k], act_mean[k], val_acc[k]] for k in variants])

    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for name in ("none", "l2", "l1"):
        axes[0].hist(np.log10(hists[name][0] + 1e-8), bins=60, histtype="step", label=name)
    axes[0].set_xlabel("log10 |weight|")
    axes[0].legend()
    for name in ("none", "activity_l1"):
        axes[1].hist(hists[name][1], bins=60, histtype="step", label=name, log=True)
    axes[1].set_xlabel("hidden2 activation (ReLU)")
    axes[1].legend()
    run.figure("sparsity.png", fig, "Left: weight magnitudes per penalty. Right: hidden activations with and without ActivityL1.")
    run.finish()
    return run


if __name__ == "__main__":
    main()
