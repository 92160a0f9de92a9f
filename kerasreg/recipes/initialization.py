"""Initialization scale: too small vanishes, too large explodes, He keeps the activation variance of a deep ReLU net.

The lecture: initialize the weights randomly, but mind the scale: "Large ->
grad explosion, Small -> grad vanishing".  Xavier's N(0, 1/m) gives a linear
layer's outputs unit variance; for ReLU units, which zero half of their
inputs, N(0, 2/m) (He) is recommended; the normalized initialization
U(-sqrt(6/(m+n)), sqrt(6/(m+n))) trades off forward and backward variance;
a sparse variant gives each unit k nonzero weights.

We build a deep ReLU MLP (10 hidden layers of 100 units) and feed it a batch
of standardized digits.  For each scheme -- N(0, s^2) with a small and a large
s, ``kerasreg.initializers.Xavier``, ``He``, ``NormalizedUniform``,
``SparseInit`` (k = 15 nonzero weights of variance 2/k, the sparse analogue of
He) and the data-dependent ``kerasreg.initializers.lsuv_initialize`` -- we
measure the variance of every hidden layer's activations (geometric mean over
a few independent draws of the weights), the gradient norm of every layer at
the initial weights (``kerasreg.callbacks.GradientMonitor``), and, in a
short training run with the same optimizer, the validation accuracy each
initialization reaches.

Only the weights differ between the schemes, never the architecture, so we
build the network once and redraw its weights for each scheme and draw:
building and tracing a Keras model costs about a second, drawing 11 weight
matrices a few milliseconds.  For the same reason one compiled model trains
every scheme (``kerasreg.experiment.snapshot`` / ``restore``, then the
scheme's initial weights).
"""

import math

import matplotlib

matplotlib.use("Agg")
import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import kerasreg  # noqa: E402
from kerasreg import experiment  # noqa: E402

CLAIM = ("In a 10x100 ReLU MLP the activation variance vanishes (last/first < 1e-3) under N(0, 0.01^2) "
         "and explodes (> 1e3) under N(0, 0.5^2), while He's N(0, 2/m) keeps last/first within [0.25, 4] "
         "and LSUV sets every layer's variance within its tolerance of 1.")

DEPTH, WIDTH = 10, 100
SMALL, LARGE = 0.01, 0.5
LSUV_TOL = 0.1


def initializer(scheme, seed):
    """The kernel initializer of a scheme (LSUV draws orthonormal kernels and rescales them: see `initialize`)."""
    return {
        f"N(0, {SMALL}^2)": lambda: keras.initializers.RandomNormal(stddev=SMALL, seed=seed),
        f"N(0, {LARGE}^2)": lambda: keras.initializers.RandomNormal(stddev=LARGE, seed=seed),
        "Xavier": lambda: kerasreg.initializers.Xavier(seed=seed),
        "He": lambda: kerasreg.initializers.He(seed=seed),
        "NormalizedUniform": lambda: kerasreg.initializers.NormalizedUniform(seed=seed),
        "SparseInit": lambda: kerasreg.initializers.SparseInit(k=15, stddev=math.sqrt(2 / 15), seed=seed),
    }[scheme]()


SCHEMES = [f"N(0, {SMALL}^2)", f"N(0, {LARGE}^2)", "Xavier", "He", "NormalizedUniform", "SparseInit", "LSUV"]


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
    saves building (and tracing) a new one per scheme and draw.
    """
    dense = [model.get_layer(f"hidden_{i + 1}") for i in range(DEPTH)] + [model.get_layer("output")]
    for i, layer in enumerate(dense):
        if scheme != "LSUV":  # LSUV draws its own (orthonormal) kernels below
            init = initializer(scheme, seed * 100 + i)
            layer.kernel.assign(init(tuple(layer.kernel.shape), dtype="float32"))
        layer.bias.assign(np.zeros(layer.bias.shape, "float32"))
    if scheme == "LSUV":
        return kerasreg.initializers.lsuv_initialize(model, x_batch, tol=LSUV_TOL, seed=seed)
    return None


def layer_variances(probe, x):
    """Variance (over examples and units) of each hidden layer's output on x."""
    return np.array([float(np.var(keras.ops.convert_to_numpy(a))) for a in probe(x, training=False)])


class StartStepFrom(keras.callbacks.Callback):
    """Before training step s, set the model's weights to weights[s].

    With it, one fit of one compiled model measures the first-step gradient of
    every scheme: step s computes the gradient at scheme s's initial weights
    (what the optimizer then does with it is overwritten before step s + 1).
    """

    def __init__(self, weights):
        super().__init__()
        self.weights = weights

    def on_train_batch_begin(self, batch, logs=None):
        self.model.set_weights(self.weights[batch])


def first_step_gradient_norms(model, initial_weights, x, y):
    """The norm of each layer's gradient at each scheme's initial weights, on the batch (x, y)."""
    monitor = kerasreg.callbacks.GradientMonitor(every_n_steps=1)
    model.compile(optimizer=monitor.wrap(kerasreg.optimizers.SGD(0.01)),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=False)
    n = len(initial_weights)
    model.fit(np.concatenate([x] * n), np.concatenate([y] * n), batch_size=len(x), shuffle=False, epochs=1,
              verbose=0, callbacks=[StartStepFrom(initial_weights), monitor])
    layers = monitor.history[0]["layers"]
    return [np.array([layers[f"hidden_{i + 1}"][s] for i in range(DEPTH)]) for s in range(n)]


def main(argv=None):
    args = experiment.parse_args("initialization", CLAIM, argv)
    run = experiment.Run("initialization", args, CLAIM)
    draws = 3 if args.quick else 5
    epochs = args.epochs or (6 if args.quick else 12)
    (x_tr, y_tr), _, _, info = kerasreg.data.load_arrays("digits", flatten=True, normalize=True, seed=args.seed)
    # The same splits as tf.data, validation in one big batch: cheaper per epoch than numpy validation_data.
    train, val, _, _ = kerasreg.data.load("digits", flatten=True, normalize=True, seed=args.seed,
                                         batch_size=32, eval_batch_size=512)
    x_batch, y_batch = x_tr[:512], y_tr[:512]
    run.metric("input_variance", float(np.var(x_batch)))

    # 1. Activation variance and gradient norm per layer at initialization.
    net = build_mlp(x_tr.shape[1], info.num_classes)
    probe = keras.Model(net.input, [net.get_layer(f"hidden_{i + 1}").output for i in range(DEPTH)])
    variances, initial, lsuv_reports = {}, {}, {}
    for scheme in SCHEMES:
        per_draw = []
        for d in range(draws):
            report = initialize(net, scheme, args.seed * draws + d, x_batch)
            per_draw.append(layer_variances(probe, x_batch))
            if d == 0:  # the weights the gradients are measured at and the training starts from
                initial[scheme] = net.get_weights()
            if report is not None:
                lsuv_reports.setdefault(scheme, []).append(report)
        # Geometric means over the draws: the variances multiply layer by layer.
        variances[scheme] = np.exp(np.mean(np.log(np.maximum(per_draw, 1e-300)), axis=0))
        run.metric(f"variance/{scheme}", variances[scheme])
        if scheme == "LSUV":
            lsuv_max_dev = max(abs(v - 1.0) for per in per_draw for v in per)
            run.metric("lsuv/max_abs_variance_minus_1", lsuv_max_dev)
    # One draw is enough to see factors of 1e3 in the gradients.
    gradients = dict(zip(SCHEMES, first_step_gradient_norms(net, [initial[s] for s in SCHEMES], x_batch, y_batch)))
    for s in SCHEMES:
        run.metric(f"gradient_norm/{s}", gradients[s])
    ratio = {s: variances[s][-1] / variances[s][0] for s in SCHEMES}
    for s in SCHEMES:
        run.metric(f"last_over_first/{s}", ratio[s])

    small, large = SCHEMES[0], SCHEMES[1]
    run.check(f"{small}: last/first activation variance < 1e-3 (vanishes)", value=ratio[small], threshold=1e-3, op="<")
    run.check(f"{large}: last/first activation variance > 1e3 (explodes)", value=ratio[large], threshold=1e3, op=">")
    run.check("He: last/first activation variance >= 0.25", value=ratio["He"], threshold=0.25, op=">=")
    run.check("He: last/first activation variance <= 4", value=ratio["He"], threshold=4.0, op="<=")
    run.check("Xavier's N(0, 1/m) halves the variance per ReLU layer: last/first < 0.05",
              value=ratio["Xavier"], threshold=0.05, op="<")
    run.check(f"LSUV: every layer's variance within tol={LSUV_TOL} of 1 (all draws)",
              value=lsuv_max_dev, threshold=LSUV_TOL, op="<")
    run.check(f"{small}: first layer's gradient norm < 1e-3 x He's (vanishing gradient)",
              value=gradients[small][0] / gradients["He"][0], threshold=1e-3, op="<")
    run.check(f"{large}: first layer's gradient norm > 1e3 x He's (exploding gradient)",
              value=gradients[large][0] / gradients["He"][0], threshold=1e3, op=">")
    reports = lsuv_reports["LSUV"][0]
    run.table("LSUV (first draw): variance after rescaling, per layer",
              ["layer", "variance", "rescalings", "converged"],
              [[r.layer, r.variance, r.iterations, r.converged] for r in reports])

    # 2. A short training run: same optimizer, learning rate and epochs for every scheme.
    model = build_mlp(x_tr.shape[1], info.num_classes)
    model.compile(optimizer=kerasreg.optimizers.Momentum(0.01, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  # A few hundred steps of a small MLP: XLA's compile time would exceed its gain.
                  metrics=["accuracy"], jit_compile=False, steps_per_execution=8)
    start = experiment.snapshot(model)  # fresh optimizer state (zero velocities), reused by every scheme
    train_results = {}
    for scheme in SCHEMES:
        experiment.restore(model, start)
        model.set_weights(initial[scheme])
        tag = scheme.replace(" ", "").replace("^", "").replace("(", "_").replace(")", "").replace(",", "_")
        callbacks = kerasreg.callbacks.tensorboard_callbacks(
            run.tensorboard_dir(tag), hparams={"init": scheme, "epochs": epochs})
        # A run whose loss is NaN (exploded) learns nothing more: stop it there.
        callbacks.append(keras.callbacks.TerminateOnNaN())
        # Initialization is about optimization: the curve is the training accuracy per epoch, and the
        # validation accuracy is measured once, after the last epoch (each validation costs a third of an epoch).
        hist = model.fit(train, validation_data=val, validation_freq=epochs, epochs=epochs, verbose=args.verbose,
                         callbacks=callbacks)
        curve = hist.history["accuracy"]
        val_acc = hist.history["val_accuracy"][-1] if "val_accuracy" in hist.history else math.nan  # nan: stopped
        train_results[scheme] = (val_acc, hist.history["loss"][-1], curve)
        run.metric(f"val_accuracy/{scheme}", val_acc)
        print(f"  {scheme:<18} last/first variance {ratio[scheme]:9.3g}  "
              f"val acc after {len(curve)} epochs {val_acc:.3f}")
    run.check(f"He trains: validation accuracy after {epochs} epochs >= 0.7",
              value=train_results["He"][0], threshold=0.7, op=">=")
    run.check(f"{small} does not train in that time: validation accuracy < 0.3",
              value=train_results[small][0], threshold=0.3, op="<")
    run.table(
        f"Per scheme: activation variance of hidden layers 1 and {DEPTH}, gradient norms, accuracy after {epochs} epochs "
        "(SGD with momentum 0.9, learning rate 0.01; a run stops at a NaN loss)",
        ["scheme", "var layer 1", f"var layer {DEPTH}", "last/first", "grad norm layer 1",
         f"grad norm layer {DEPTH}", "epochs trained", "train loss", "val accuracy"],
        [[s, variances[s][0], variances[s][-1], ratio[s], gradients[s][0], gradients[s][-1],
          len(train_results[s][2]), train_results[s][1], train_results[s][0]] for s in SCHEMES],
    )

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
    layers = np.arange(1, DEPTH + 1)
    for s in SCHEMES:
        axes[0].semilogy(layers, variances[s], "o-", ms=3, label=s)
        axes[1].semilogy(layers, gradients[s], "o-", ms=3, label=s)
        axes[2].plot(np.arange(1, len(train_results[s][2]) + 1), train_results[s][2], label=s)
    axes[0].axhspan(1 - LSUV_TOL, 1 + LSUV_TOL, color="grey", alpha=0.2)
    axes[0].set_xlabel("hidden layer")
    axes[0].set_ylabel("activation variance (log)")
    axes[0].set_title(f"Forward: {DEPTH} ReLU layers of {WIDTH}")
    axes[1].set_xlabel("hidden layer")
    axes[1].set_ylabel("||gradient of the layer's weights|| at step 0 (log)")
    axes[1].set_title("Backward")
    axes[2].set_xlabel("epoch")
    axes[2].set_ylabel("training accuracy")
    axes[2].set_title("Training with the same optimizer")
    axes[0].legend(fontsize=7)
    run.figure("initialization.png", fig,
               "Left: per-layer activation variance (grey band: LSUV's tolerance around 1). Middle: per-layer "
               "gradient norm at the initial weights. Right: training accuracy per epoch.")
    run.finish()
    return run


if __name__ == "__main__":
    main()
