"""Sparse weights from L1, sparse representations from activity penalties.

The lecture: an L1 norm penalty ``alpha * ||W||_1`` "encourages sparsity" of
the weights (the output-layer weights W_7 shrink towards zero), while a
penalty on the hidden *outputs*, ``alpha * Omega(h)``, makes the
representation sparse (many h are exactly 0).

Design.  The same 2x100 MLP with no penalty, with L2 and with L1 on the
kernels (``kerasreg.regularizers.add_penalties``), and with ``ActivityL1``
and ``KLSparsity`` on the hidden outputs; a sigmoid network without penalty
is the reference for KL sparsity (which is defined for outputs in (0, 1)).
Per seed: its own split of the digits, its own initial weights (the same
draw for every penalty) and its own order of the batches.  ReLU networks
train with momentum SGD (its L1 subgradient steps leave weights oscillating
within lr * alpha of 0); sigmoid networks learn too slowly with it and use
Adam.  The strengths are fixed, not selected: the claim is what each penalty
does to the weights and the activations at a strength that still lets the
network classify, so the test accuracy of the L1 and KL networks is part of
the claim.  (L1 at 1e-2 puts over 80% of the weights below 1e-3, but costs
about 30 points of test accuracy here: sparsity bought by wrecking the fit
teaches nothing; at 3e-3 it costs about 2 points.)  Sparsity is measured on
the trained weights and on the hidden outputs for the test split.
"""

import keras
import numpy as np

import kerasreg
from kerasreg import regularizers, study

SUPPORTS = ("epochs",)

CLAIM = ("L1 makes many times more weights near zero than L2 at a small cost in accuracy; activity penalties make "
         "the hidden representation sparse (ActivityL1: less than half the mean activation, more exact zeros; KL "
         "sparsity: mean activation near its target) while the network still classifies.")

WEIGHT_TOL = 1e-3
BATCH = 64
VARIANTS = {
    "none": ("relu", {}),
    "l2": ("relu", {"kernel": lambda: regularizers.L2(1e-3)}),
    "l1": ("relu", {"kernel": lambda: regularizers.L1(3e-3)}),
    "activity_l1": ("relu", {"activity": lambda: regularizers.ActivityL1(1e-2)}),
    "kl_sparsity": ("sigmoid", {"activity": lambda: regularizers.KLSparsity(target=0.05, weight=0.05)}),
    "none_sigmoid": ("sigmoid", {}),
}


def build(input_shape, num_classes, activation, penalties):
    model = keras.Sequential([keras.Input(input_shape),
                              keras.layers.Dense(100, activation=activation, name="hidden1"),
                              keras.layers.Dense(100, activation=activation, name="hidden2"),
                              keras.layers.Dense(num_classes, name="output")])
    if penalties:
        model = regularizers.add_penalties(
            model, activity_layers=["hidden1", "hidden2"] if "activity" in penalties else None,
            **{k: make() for k, make in penalties.items()})
    return model


def measure(ctx):
    epochs = ctx.epochs(20, 40)
    ctx.setting("network", "2x100 MLP (ReLU; sigmoid for KL sparsity and its reference)")
    ctx.setting("training", f"batches of {BATCH}, {epochs} epochs; ReLU: momentum SGD 0.05 (0.9); sigmoid: Adam 1e-2")
    ctx.setting("strengths", "L2 1e-3, L1 3e-3, ActivityL1 1e-2, KLSparsity(target 0.05, weight 0.05)")
    models = {}
    weights_seen = {}

    def one_seed(seed):
        data = ctx.split("digits", seed=seed, flatten=True)
        (x_tr, y_tr), (x_te, y_te) = data.train, data.test
        steps = study.steps_per_epoch(len(x_tr), BATCH)
        out = {}
        for name, (activation, penalties) in VARIANTS.items():
            if name not in models:
                # Each penalty changes the graph: one compiled model per variant, restored for every seed.
                model = build(data.input_shape, data.num_classes, activation, penalties)
                optimizer = (kerasreg.optimizers.Momentum(0.05, momentum=0.9) if activation == "relu"
                             else kerasreg.optimizers.Adam(1e-2))
                model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                              metrics=["accuracy"], steps_per_execution=steps)
                hidden = keras.Model(model.inputs[0], model.get_layer("hidden2").output)
                models[name] = (model, study.snapshot(model), hidden)
            model, start, hidden = models[name]
            study.restore(model, start)
            study.reinitialize(model, seed)  # the same draw for every penalty of a seed
            model.fit(study.batches(x_tr, y_tr, BATCH, seed), steps_per_epoch=steps, epochs=epochs, verbose=0)
            kernels = np.concatenate([np.abs(keras.ops.convert_to_numpy(layer.kernel)).ravel()
                                      for layer in model.layers])
            h = keras.ops.convert_to_numpy(hidden(x_te, training=False))
            out[f"near_zero_weights/{name}"] = float(np.mean(kernels < WEIGHT_TOL))
            out[f"zero_activations/{name}"] = float(np.mean(h <= 1e-6))
            out[f"mean_activation/{name}"] = float(np.mean(h))
            out[f"test_accuracy/{name}"] = float(model.evaluate(x_te, y_te, batch_size=2048, verbose=0)[1])
            if name in ("none", "l2", "l1"):
                weights_seen.setdefault(name, kernels)
        out["log10_near_zero_ratio/l1_over_l2"] = float(np.log10(out["near_zero_weights/l1"]
                                                                 / max(out["near_zero_weights/l2"], 1e-6)))
        out["mean_activation_ratio/activity_l1_over_none"] = (out["mean_activation/activity_l1"]
                                                             / out["mean_activation/none"])
        return out

    result = ctx.per_seed(one_seed)
    ctx.table("Sparsity per penalty (weights: all kernels; activations: hidden layer 2 on the test split)",
              ["penalty", f"weights < {WEIGHT_TOL:g}", "zero activations", "mean activation", "test accuracy"],
              [[k, result[f"near_zero_weights/{k}"], result[f"zero_activations/{k}"], result[f"mean_activation/{k}"],
                result[f"test_accuracy/{k}"]] for k in VARIANTS])

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, kernels in weights_seen.items():
        ax.hist(np.log10(kernels + 1e-8), bins=60, histtype="step", label=name)
    ax.set_xlabel("log10 |weight| (first seed)")
    ax.legend()
    ctx.figure("sparsity.png", fig, "Weight magnitudes per penalty, first seed: L1 piles them up near zero.")
    return result


STUDY = study.Study(
    name="sparsity", claim=CLAIM, measure=measure,
    checks=[
        study.Above("log10_near_zero_ratio/l1_over_l2", 1.0,
                    describe=f"L1 has over 10 times L2's fraction of weights below {WEIGHT_TOL:g} (log10 of the ratio)"),
        study.Above("near_zero_weights/l1", 0.1, describe=f"L1: over 10% of the weights below {WEIGHT_TOL:g}"),
        study.Greater("test_accuracy/l1", "test_accuracy/none", margin=-0.05,
                      describe="L1 costs less than 5 points of test accuracy"),
        study.Below("mean_activation_ratio/activity_l1_over_none", 0.5,
                    describe="ActivityL1 halves the mean hidden activation"),
        study.Greater("zero_activations/activity_l1", "zero_activations/none",
                      describe="ActivityL1 gives more exact zeros in the hidden representation"),
        study.Below("mean_activation/kl_sparsity", 0.15,
                    describe="KL sparsity (target 0.05): mean sigmoid activation below 0.15"),
        study.Above("mean_activation/none_sigmoid", 0.3, describe="... from above 0.3 without it"),
        study.Above("test_accuracy/kl_sparsity", 0.8, describe="... and the sparse sigmoid network still classifies "
                                                               "(test accuracy > 0.8)"),
    ],
)


def main(args):
    return study.run(STUDY, args)


if __name__ == "__main__":
    import sys

    from kerasreg import cli

    sys.exit(cli.main(["run", "sparsity", *sys.argv[1:]]))
