"""Batch normalization speeds up learning of a deep MLP, and at test time uses the running averages, not the batch's statistics.

The lecture: each hidden layer changes the distribution of the next layer's
inputs, which slows learning (internal covariate shift).  Batch
normalization normalizes each unit over the mini-batch, H' = (H - mu) / sigma
with sigma = sqrt(1/m sum_i (H - mu)_i^2 + delta), and outputs
gamma H' + beta.  At test time "the model needs to be evaluated on a single
example": mu and sigma are replaced by running averages collected during
training.

Design.  The same deep ReLU MLP (8 hidden layers of 64 units) with and
without ``kerasreg.layers.BatchNormalization`` after every hidden Dense
layer, on the raw digits (pixels in [0, 1], not standardized).  Per seed:
its own split, its own Glorot draw of the kernels (the same for both
variants) and its own order of the batches.  "Speeds up learning" is
measured as the accuracy reached after a short, fixed budget of epochs:
each variant trains at every learning rate of a grid (momentum SGD, 0.9),
the rate is selected per seed on validation accuracy, and the claim is
judged on the test accuracy of the selected runs.  Each variant gets its own
best rate, so BN is not credited merely with tolerating a higher one.  The
comparison is paired by seed on the log of the test error rate (1 - accuracy),
i.e. on the ratio of the two error rates: BN's accuracy is steady (about 0.95)
while the plain network's ranges from 0.35 to 0.8 by seed, so the difference
of accuracies has a wide interval (1.2 half-widths above 0 at base seeds 2,
479 and 512) where the log ratio of errors, about 2 (BN makes 7 times fewer
errors), stays over 2 half-widths above 0.

Part 2 takes each seed's trained BN network and recomputes its outputs in
numpy: in inference mode they must equal a forward pass that uses each
layer's moving mean and variance, and differ from the training-mode outputs
on a small batch (which use that batch's own mean and variance, also
recomputed in numpy).
"""

import keras
import numpy as np

import kerasreg
from kerasreg import study

SUPPORTS = ("epochs",)

CLAIM = ("With batch normalization a deep MLP reaches a higher test accuracy within a short budget of epochs "
         "(each variant at its own best SGD learning rate, selected on validation); in inference mode the BN "
         "network computes with the moving mean and variance, not the batch's.")

DEPTH, WIDTH = 8, 64
BATCH = 32
BN_MOMENTUM = 0.9  # running averages over ~10 steps: short runs need them settled within an epoch
VARIANTS = ("plain", "batch_norm")


def build_mlp(batch_norm, input_dim, num_classes):
    """DEPTH x WIDTH ReLU MLP; with BN: Dense (no bias, beta replaces it) -> BN -> ReLU."""
    layers = [keras.Input((input_dim,))]
    for i in range(DEPTH):
        layers.append(keras.layers.Dense(WIDTH, use_bias=not batch_norm, name=f"dense_{i}"))
        if batch_norm:
            layers.append(kerasreg.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn_{i}"))
        layers.append(keras.layers.ReLU(name=f"relu_{i}"))
    layers.append(keras.layers.Dense(num_classes, name="logits"))
    return keras.Sequential(layers)


def dense_layers(model):
    """The Dense layers, in order: ``study.reinitialize`` draws the same kernels for both variants from them."""
    return [model.get_layer(name) for name in [f"dense_{i}" for i in range(DEPTH)] + ["logits"]]


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


def measure(ctx):
    epochs = ctx.epochs(3, 3)
    grid = (0.03, 0.1, 0.3) if ctx.quick else (0.01, 0.03, 0.1, 0.3, 1.0)
    ctx.setting("network", f"{DEPTH}x{WIDTH} ReLU MLP, with and without BN (momentum {BN_MOMENTUM}) after each Dense")
    ctx.setting("training", f"momentum SGD (0.9), batches of {BATCH}, {epochs} epochs; learning rate per variant and "
                            f"seed selected on validation accuracy from {list(grid)}")
    models = {}

    def one_seed(seed):
        data = ctx.split("digits", seed=seed, flatten=True)
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = data.train, data.validation, data.test
        steps = study.steps_per_epoch(len(x_tr), BATCH)
        out = {}
        for variant in VARIANTS:
            if variant not in models:
                # One compiled model per variant, restored for every seed and rate: traced once.
                model = build_mlp(variant == "batch_norm", x_tr.shape[1], data.num_classes)
                model.compile(optimizer=kerasreg.optimizers.Momentum(grid[0], momentum=0.9),
                              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                              metrics=["accuracy"], steps_per_execution=steps)
                models[variant] = (model, study.snapshot(model))
            model, start = models[variant]
            finals, val_acc = [], []
            for lr in grid:
                study.restore(model, start, learning_rate=lr)
                study.reinitialize(dense_layers(model), seed)
                hist = model.fit(study.batches(x_tr, y_tr, BATCH, seed), steps_per_epoch=steps, epochs=epochs, verbose=0,
                                 callbacks=[keras.callbacks.TerminateOnNaN()])
                ctx.log_history(f"{variant}_lr{lr:g}", seed, {"loss": hist.history["loss"]})
                val_acc.append(float(model.evaluate(x_va, y_va, batch_size=2048, verbose=0)[1]))
                finals.append(study.snapshot(model))
            k = ctx.select(f"learning_rate/{variant}", grid, val_acc, seed=seed, higher_is_better=True)
            study.restore(model, finals[k])
            out[f"test_accuracy/{variant}"] = float(model.evaluate(x_te, y_te, batch_size=2048, verbose=0)[1])
            out[f"validation_accuracy/{variant}"] = val_acc[k]

        # Part 2: the selected BN network at test time uses the running averages.
        model = models["batch_norm"][0]
        x_small = x_te[:8]
        inference = keras.ops.convert_to_numpy(model(x_small, training=False))
        out["inference_vs_numpy_moving_stats"] = float(np.max(np.abs(
            inference - numpy_forward(model, x_small, batch_statistics=False))))
        expected_training = numpy_forward(model, x_small, batch_statistics=True)
        training = keras.ops.convert_to_numpy(model(x_small, training=True))  # (also updates the moving averages)
        out["training_vs_numpy_batch_stats"] = float(np.max(np.abs(training - expected_training)))
        out["training_vs_inference"] = float(np.max(np.abs(training - inference)))
        return out

    result = ctx.per_seed(one_seed)
    for v in VARIANTS:  # the claim compares error rates by their ratio (a difference of logs)
        result[f"log_test_error/{v}"] = np.log(1.0 - result[f"test_accuracy/{v}"])
    ctx.table(f"Accuracy after {epochs} epochs at each variant's selected learning rate",
              ["variant", "validation accuracy (selection)", "test accuracy"],
              [[v, result[f"validation_accuracy/{v}"], result[f"test_accuracy/{v}"]] for v in VARIANTS])
    ctx.table("BN at test time: max |difference| of the logits of 8 test examples",
              ["compared", "max abs difference"],
              [["inference mode vs numpy with the moving mean/variance", result["inference_vs_numpy_moving_stats"]],
               ["training mode vs numpy with the batch's mean/variance", result["training_vs_numpy_batch_stats"]],
               ["training mode vs inference mode", result["training_vs_inference"]]])

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for k, v in enumerate(VARIANTS):
        study.plot_interval(ax, k, result[f"test_accuracy/{v}"])
    ax.set_xticks(range(len(VARIANTS)), VARIANTS)
    ax.set_ylabel(f"test accuracy after {epochs} epochs")
    ctx.figure("batch_norm.png", fig, "Test accuracy after the short budget, each variant at its selected learning "
                                      "rate: mean with 95% t interval (grey: one point per seed).")
    return result


STUDY = study.Study(
    name="batch_norm", claim=CLAIM, measure=measure,
    checks=[
        study.Less("log_test_error/batch_norm", "log_test_error/plain",
                   describe="with BN the test accuracy after the short budget is higher (its error rate lower: "
                            "log of the ratio of error rates)"),
        study.Below("inference_vs_numpy_moving_stats", 1e-3,
                    describe="inference mode = numpy with the moving mean/variance (max abs difference of logits)"),
        study.Below("training_vs_numpy_batch_stats", 1e-3,
                    describe="training mode = numpy with the batch's own mean/variance (max abs difference)"),
        study.Above("training_vs_inference", 0.1,
                    describe="on a batch of 8, training-mode logits differ from inference-mode logits by > 0.1"),
    ],
)


def main(args):
    return study.run(STUDY, args)


if __name__ == "__main__":
    import sys

    from kerasreg import cli

    sys.exit(cli.main(["run", "batch_norm", *sys.argv[1:]]))
