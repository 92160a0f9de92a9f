"""Dropout: test-time weight scaling against averaging sampled sub-networks (Monte Carlo).

The lecture: dropout trains many sub-networks (a binary mask mu per example,
keep probability p); at test time we "aggregate over these sub-networks by
reducing connection weights in proportion to the keep probability".  That is
``kerasreg.layers.Dropout(rate, scaling="test")``: no rescaling in training,
outputs multiplied by p at inference.  The exact aggregate would be the
average prediction of all the sub-networks, which Monte Carlo dropout
(``kerasreg.layers.monte_carlo_predict``) estimates by sampling masks.

Design.  A 2x200 ReLU MLP with the lecture's keep probabilities (0.8 of the
inputs, 0.5 of the hidden units), Adam 1e-3, a fixed budget of epochs.  Per
seed: its own split of the digits (validation 20%, test 30%), its own
initial weights, data order and dropout masks.  Nothing is tuned: the claim
compares two ways of predicting with the *same* trained network, on the
test split.  For each seed we measure, on the test split, how often the
Monte Carlo average (1 to 64 sampled masks; 256 in full mode) predicts the
same class as weight scaling, the difference of their accuracies, and the
mean L1 distance between their class probabilities.
"""

import keras
import numpy as np

import kerasreg
from kerasreg import study

SUPPORTS = ("epochs",)

CLAIM = ("Test-time weight scaling matches the average of sampled sub-networks: the Monte Carlo average "
         "approaches it as samples grow, agreeing on over 95% of test predictions and within 2 points of accuracy.")

BATCH = 32


def build_model(input_shape, num_classes):
    return keras.Sequential([
        keras.Input(input_shape),
        kerasreg.layers.Dropout(0.2, scaling="test", name="drop_inputs"),  # inputs: keep 0.8
        keras.layers.Dense(200, activation="relu"),
        kerasreg.layers.Dropout(0.5, scaling="test", name="drop_1"),       # hidden: keep 0.5
        keras.layers.Dense(200, activation="relu"),
        kerasreg.layers.Dropout(0.5, scaling="test", name="drop_2"),
        keras.layers.Dense(num_classes, activation="softmax"),
    ])


def measure(ctx):
    epochs = ctx.epochs(30, 60)
    samples = [1, 4, 16, 64] if ctx.quick else [1, 4, 16, 64, 256]
    ctx.setting("network", "Dropout(keep 0.8) - Dense 200 - Dropout(keep 0.5) - Dense 200 - Dropout(keep 0.5), "
                           "weight scaling at test time")
    ctx.setting("training", f"Adam 1e-3, batches of {BATCH}, {epochs} epochs")
    ctx.setting("Monte Carlo samples", samples)
    state = {}
    curves = []

    def one_seed(seed):
        data = ctx.split("digits", seed=seed, validation=0.2, test=0.3, flatten=True)
        (x_tr, y_tr), (x_te, y_te) = data.train, data.test
        steps = study.steps_per_epoch(len(x_tr), BATCH)
        if not state:
            model = build_model(data.input_shape, data.num_classes)
            model.compile(optimizer=kerasreg.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                          metrics=["accuracy"], steps_per_execution=steps)
            state["model"], state["start"] = model, study.snapshot(model)
        model = state["model"]
        study.restore(model, state["start"])
        study.reinitialize(model, seed)  # this seed's initial weights and dropout masks
        hist = model.fit(study.batches(x_tr, y_tr, BATCH, seed), steps_per_epoch=steps, epochs=epochs, verbose=0)
        ctx.log_history("classic_dropout", seed, {"loss": hist.history["loss"], "accuracy": hist.history["accuracy"]})
        # Weight scaling: the deterministic network (each dropout layer multiplies by p).
        p_ws = keras.ops.convert_to_numpy(model(x_te, training=False))
        out = {"test_accuracy/weight_scaling": float(np.mean(np.argmax(p_ws, -1) == y_te))}
        row = []
        for t in samples:
            mean, _ = kerasreg.layers.monte_carlo_predict(model, x_te, samples=t, seed=seed, batch_size=16384)
            mean = keras.ops.convert_to_numpy(mean)
            out[f"agreement/{t}"] = float(np.mean(np.argmax(mean, -1) == np.argmax(p_ws, -1)))
            out[f"test_accuracy/monte_carlo_{t}"] = float(np.mean(np.argmax(mean, -1) == y_te))
            out[f"l1_distance/{t}"] = float(np.mean(np.abs(mean - p_ws).sum(-1)))
            row.append(out[f"l1_distance/{t}"])
        last = samples[-1]
        out["accuracy_abs_difference"] = abs(out[f"test_accuracy/monte_carlo_{last}"]
                                             - out["test_accuracy/weight_scaling"])
        curves.append(row)
        return out

    result = ctx.per_seed(one_seed)
    ctx.table(f"Test split; weight-scaling accuracy {study.fmt(result['test_accuracy/weight_scaling'])}",
              ["MC samples", "MC test accuracy", "agreement with weight scaling", "mean L1 distance of probabilities"],
              [[t, result[f"test_accuracy/monte_carlo_{t}"], result[f"agreement/{t}"], result[f"l1_distance/{t}"]]
               for t in samples])

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    study.plot_band(ax, samples, curves, "o-", alpha=0.25, label="Monte Carlo average vs weight scaling")
    ax.set_xscale("log")
    ax.set_xlabel("sampled sub-networks")
    ax.set_ylabel("mean L1 distance of test probabilities")
    ax.legend()
    ctx.figure("dropout_scaling.png", fig, "The Monte Carlo average approaches the weight-scaling rule as samples "
                                           "grow (mean over seeds, band: 95% t interval).")
    return result


STUDY = study.Study(
    name="dropout_scaling", claim=CLAIM, measure=measure,
    checks=[
        study.Above("agreement/64", 0.95,
                    describe="Monte Carlo with 64 samples agrees with weight scaling on > 95% of test predictions"),
        study.Below("accuracy_abs_difference", 0.02,
                    describe="their test accuracies differ by < 0.02 (Monte Carlo with the most samples)"),
        study.Less("l1_distance/64", "l1_distance/1",
                   describe="the Monte Carlo average approaches weight scaling as samples grow (64 vs 1 sample)"),
    ],
)


def main(args):
    return study.run(STUDY, args)


if __name__ == "__main__":
    import sys

    from kerasreg import cli

    sys.exit(cli.main(["run", "dropout_scaling", *sys.argv[1:]]))
