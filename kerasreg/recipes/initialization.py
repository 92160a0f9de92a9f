"""Initialization scale: too small vanishes, too large explodes, He keeps the activation variance of a deep ReLU net.

The lecture: initialize the weights randomly, but mind the scale: "Large ->
grad explosion, Small -> grad vanishing".  Xavier's N(0, 1/m) gives a linear
layer's outputs unit variance; for ReLU units, which zero half of their
inputs, N(0, 2/m) (He) is recommended; the normalized initialization
U(-sqrt(6/(m+n)), sqrt(6/(m+n))) trades off forward and backward variance;
a sparse variant gives each unit k nonzero weights.

Design.  A deep ReLU MLP (10 hidden layers of 100 units) on standardized
digits (statistics of the training split).  Per seed: its own split of the
digits, its own draws of every kernel (biases zero), its own data order.  For
each scheme -- N(0, s^2) with s = 0.01 and 0.5, ``kerasreg.initializers``
``Xavier``, ``He``, ``NormalizedUniform``, ``SparseInit`` (k = 15 nonzero
weights of variance 2/k, the sparse analogue of He) and the data-dependent
``lsuv_initialize`` -- we measure on 512 training examples:

* the variance of every hidden layer's output, and last/first (log10),
  a geometric mean over 4 draws of the weights per seed (one draw of 10
  layers varies by a factor of 2 or more);
* the norm of each layer's gradient at the initial weights.  Keras has no
  backend-neutral gradient call, so a copy of the network takes one plain
  SGD step with learning rate 1e6: the step (w - w') / 1e6 is the gradient
  on every backend.  The huge rate makes a vanished gradient of 1e-12 move a
  float32 weight of 1e-2 by 1e-6, which float32 resolves to 0.1% (with rate
  1 the step would be lost below the weight's last digit).

Then a short training run, He against N(0, 0.01^2): momentum SGD (0.9), the
learning rate of each scheme selected per seed on validation accuracy from a
small grid, judged on test accuracy.  Forward and backward effects are
orders of magnitude, so every seed shows them; the training claim gives the
small initialization its best learning rate and still sees it not learn.
"""

import math

import keras
import numpy as np

import kerasreg
from kerasreg import study

SUPPORTS = ("epochs",)

CLAIM = ("In a 10x100 ReLU MLP the activation variance vanishes (last/first < 1e-3) under N(0, 0.01^2) and "
         "explodes (> 1e3) under N(0, 0.5^2), as does the first layer's gradient relative to He's; He's "
         "N(0, 2/m) keeps last/first within [0.25, 4], Xavier's N(0, 1/m) halves it per layer, LSUV sets every "
         "layer's variance within its tolerance of 1, and He trains where N(0, 0.01^2) does not.")

DEPTH, WIDTH = 10, 100
SMALL, LARGE = 0.01, 0.5
LSUV_TOL = 0.1
PROBE = 512
BATCH = 64
DRAWS = 4  # weight draws per seed for the variances (geometric mean): one draw of 10 layers is noisy
SCHEMES = ("small", "large", "Xavier", "He", "NormalizedUniform", "SparseInit", "LSUV")
LABELS = {"small": f"N(0, {SMALL}^2)", "large": f"N(0, {LARGE}^2)"}


def initializer(scheme, seed):
    """The kernel initializer of a scheme (LSUV draws orthonormal kernels and rescales them: see `initialize`)."""
    return {
        "small": lambda: keras.initializers.RandomNormal(stddev=SMALL, seed=seed),
        "large": lambda: keras.initializers.RandomNormal(stddev=LARGE, seed=seed),
        "Xavier": lambda: kerasreg.initializers.Xavier(seed=seed),
        "He": lambda: kerasreg.initializers.He(seed=seed),
        "NormalizedUniform": lambda: kerasreg.initializers.NormalizedUniform(seed=seed),
        "SparseInit": lambda: kerasreg.initializers.SparseInit(k=15, stddev=math.sqrt(2 / 15), seed=seed),
    }[scheme]()


def build_mlp(input_dim, num_classes):
    """10 ReLU layers of 100 units and a linear output; `initialize` draws its weights."""
    inputs = keras.Input((input_dim,))
    h = inputs
    for i in range(DEPTH):
        h = keras.layers.Dense(WIDTH, activation="relu", name=f"hidden_{i + 1}")(h)
    outputs = keras.layers.Dense(num_classes, name="output")(h)
    return keras.Model(inputs, outputs)


def initialize(model, scheme, seed, x_batch):
    """Draw every kernel of `model` from `scheme` and zero the biases, as a fresh model would.

    This is what Keras does when it builds a Dense layer with
    kernel_initializer=initializer(scheme, ...); doing it on one built model
    saves building (and tracing) a new one per scheme and seed.
    """
    dense = [model.get_layer(f"hidden_{i + 1}") for i in range(DEPTH)] + [model.get_layer("output")]
    # LSUV draws its own (orthonormal) kernels below: only the biases are zeroed for it.
    draw = None if scheme == "LSUV" else (lambda seed: initializer(scheme, seed))
    study.reinitialize(dense, seed, initializer=draw)
    if scheme == "LSUV":
        kerasreg.initializers.lsuv_initialize(model, x_batch, tol=LSUV_TOL, seed=seed)


GRAD_LR = 1e6  # see the module docstring


def gradient_norms(grad_net, weights, x, y):
    """Each hidden layer's gradient norm at `weights`: one SGD step of rate GRAD_LR moves w by -GRAD_LR * g."""
    grad_net.set_weights(weights)
    kernels = [grad_net.get_layer(f"hidden_{i + 1}").kernel for i in range(DEPTH)]
    before = [keras.ops.convert_to_numpy(k).astype("float64") for k in kernels]
    grad_net.train_on_batch(x, y)
    return np.array([np.linalg.norm(b - keras.ops.convert_to_numpy(k).astype("float64")) / GRAD_LR
                     for b, k in zip(before, kernels)])


def standardized(data):
    """The split's arrays standardized with the training split's statistics (constant pixels left at 0)."""
    mu, sd = data.train[0].mean(0), data.train[0].std(0)
    sd = np.where(sd > 0, sd, 1.0)
    return [((x - mu) / sd).astype("float32") for x in (data.train[0], data.validation[0], data.test[0])]


def measure(ctx):
    epochs = ctx.epochs(5, 8)
    grid = (0.01, 0.1) if ctx.quick else (0.003, 0.01, 0.03, 0.1)
    ctx.setting("network", f"{DEPTH}x{WIDTH} ReLU MLP, biases zero")
    ctx.setting("training", f"momentum SGD (0.9), batches of {BATCH}, {epochs} epochs, learning rate per scheme and seed "
                            f"selected on validation accuracy from {list(grid)}")
    nets = {}
    variances_all = {s: [] for s in SCHEMES}
    gradients_all = {s: [] for s in SCHEMES}

    def one_seed(seed):
        data = ctx.split("digits", seed=seed, flatten=True)
        x_tr, x_va, x_te = standardized(data)
        y_tr, y_va, y_te = data.train[1], data.validation[1], data.test[1]
        x_batch, y_batch = x_tr[:PROBE], y_tr[:PROBE]
        if not nets:
            net = build_mlp(x_tr.shape[1], data.num_classes)
            nets["probe"] = (net, keras.Model(net.input, [net.get_layer(f"hidden_{i + 1}").output
                                                         for i in range(DEPTH)]))
            grad_net = build_mlp(x_tr.shape[1], data.num_classes)
            grad_net.compile(optimizer=kerasreg.optimizers.SGD(GRAD_LR),
                             loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            nets["grad"] = grad_net
            model = build_mlp(x_tr.shape[1], data.num_classes)
            model.compile(optimizer=kerasreg.optimizers.Momentum(grid[0], momentum=0.9),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
                          steps_per_execution=study.steps_per_epoch(len(x_tr), BATCH))
            nets["train"] = (model, study.snapshot(model))
        net, probe = nets["probe"]
        out, initial = {}, {}
        for scheme in SCHEMES:
            draws = []
            for d in reversed(range(DRAWS)):  # draw 0 last: the weights the gradient and training start from
                initialize(net, scheme, (seed + 1000003 * d) % 2**31, x_batch)
                draws.append([float(np.var(keras.ops.convert_to_numpy(a))) for a in probe(x_batch, training=False)])
            initial[scheme] = net.get_weights()
            # Geometric mean over the draws: the variances multiply layer by layer.
            var = np.exp(np.mean(np.log(np.maximum(np.array(draws), 1e-300)), axis=0))
            grads = gradient_norms(nets["grad"], initial[scheme], x_batch, y_batch)
            variances_all[scheme].append(var)
            gradients_all[scheme].append(grads)
            out[f"log10_last_over_first/{scheme}"] = math.log10(max(var[-1], 1e-300) / var[0])
            out[f"log10_grad_layer1/{scheme}"] = math.log10(max(grads[0], 1e-300))
            if scheme == "LSUV":  # measured again here (every draw), not read from LSUV's own report
                out["lsuv/max_abs_variance_minus_1"] = float(np.max(np.abs(np.array(draws) - 1.0)))
                out["lsuv/fraction_of_layers_within_tol"] = float(np.mean(np.abs(np.array(draws) - 1.0) < LSUV_TOL))
        for scheme in ("small", "large"):
            out[f"log10_grad_layer1_over_He/{scheme}"] = (out[f"log10_grad_layer1/{scheme}"]
                                                          - out["log10_grad_layer1/He"])

        # Training: He against the small scale, each at its best learning rate on validation.
        model, start = nets["train"]
        steps = study.steps_per_epoch(len(x_tr), BATCH)
        for scheme in ("He", "small"):
            finals, val_acc = [], []
            for lr in grid:
                study.restore(model, start, learning_rate=lr)
                model.set_weights(initial[scheme])
                model.fit(study.batches(x_tr, y_tr, BATCH, seed), steps_per_epoch=steps, epochs=epochs, verbose=0,
                          callbacks=[keras.callbacks.TerminateOnNaN()])
                val_acc.append(float(model.evaluate(x_va, y_va, batch_size=2048, verbose=0)[1]))
                finals.append(model.get_weights())
            k = ctx.select(f"learning_rate/{scheme}", grid, val_acc, seed=seed, higher_is_better=True)
            model.set_weights(finals[k])
            out[f"test_accuracy/{scheme}"] = float(model.evaluate(x_te, y_te, batch_size=2048, verbose=0)[1])
        return out

    result = ctx.per_seed(one_seed)
    ctx.table("Per scheme: log10(variance of hidden layer 10 / layer 1) and log10 of the first layer's gradient "
              "norm at the initial weights",
              ["scheme", "log10 last/first variance", "log10 ||grad layer 1||"],
              [[LABELS.get(s, s), result[f"log10_last_over_first/{s}"], result[f"log10_grad_layer1/{s}"]]
               for s in SCHEMES])
    ctx.table(f"Test accuracy after {epochs} epochs, learning rate selected on validation",
              ["scheme", "test accuracy"], [[LABELS.get(s, s), result[f"test_accuracy/{s}"]] for s in ("He", "small")])

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.4))
    layers = np.arange(1, DEPTH + 1)
    for s in SCHEMES:
        for ax, values in ((axes[0], variances_all[s]), (axes[1], gradients_all[s])):
            logs = np.log10(np.maximum(np.array(values), 1e-300))
            study.plot_band(ax, layers, logs, "o-", ms=3, label=LABELS.get(s, s))
    axes[0].axhspan(math.log10(1 - LSUV_TOL), math.log10(1 + LSUV_TOL), color="grey", alpha=0.2)
    axes[0].set_ylabel("log10 activation variance")
    axes[0].set_title(f"Forward: {DEPTH} ReLU layers of {WIDTH}")
    axes[1].set_ylabel("log10 ||gradient of the layer's kernel|| at the initial weights")
    axes[1].set_title("Backward")
    for ax in axes:
        ax.set_xlabel("hidden layer")
    axes[0].legend(fontsize=7)
    ctx.figure("initialization.png", fig, "Per-layer activation variance and gradient norm at initialization "
                                          "(mean of log10 over seeds, band: 95% t interval; grey: LSUV's tolerance).")
    return result


STUDY = study.Study(
    name="initialization", claim=CLAIM, measure=measure,
    checks=[
        study.Below("log10_last_over_first/small", -3.0,
                    describe=f"N(0, {SMALL}^2): last/first activation variance < 1e-3 (vanishes)"),
        study.Above("log10_last_over_first/large", 3.0,
                    describe=f"N(0, {LARGE}^2): last/first activation variance > 1e3 (explodes)"),
        study.Above("log10_last_over_first/He", math.log10(0.25), describe="He: last/first variance >= 0.25"),
        study.Below("log10_last_over_first/He", math.log10(4.0), describe="He: last/first variance <= 4"),
        study.Below("log10_last_over_first/Xavier", math.log10(0.05),
                    describe="Xavier's N(0, 1/m) halves the variance per ReLU layer: last/first < 0.05"),
        study.Above("lsuv/fraction_of_layers_within_tol", 0.99,
                    describe=f"LSUV: every layer's variance within {LSUV_TOL} of 1 (fraction of layers, per seed)"),
        study.Below("log10_grad_layer1_over_He/small", -3.0,
                    describe=f"N(0, {SMALL}^2): first layer's gradient norm < 1e-3 x He's (vanishing gradient)"),
        study.Above("log10_grad_layer1_over_He/large", 3.0,
                    describe=f"N(0, {LARGE}^2): first layer's gradient norm > 1e3 x He's (exploding gradient)"),
        study.Above("test_accuracy/He", 0.7, describe="He trains: test accuracy > 0.7"),
        study.Below("test_accuracy/small", 0.3,
                    describe=f"N(0, {SMALL}^2) does not train in that time, even at its best rate: test accuracy < 0.3"),
    ],
)


def main(args):
    return study.run(STUDY, args)


if __name__ == "__main__":
    import sys

    from kerasreg import cli

    sys.exit(cli.main(["run", "initialization", *sys.argv[1:]]))
