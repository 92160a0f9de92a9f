"""Exploding and vanishing gradients on the linear network diag(a, b)^n, and gradient clipping taming a cliff.

The lecture: with linear activations h_i = W h_{i-1}, W = diag(a, b) and
x = [1, 1], the output is y = W^n x and its gradient with respect to (a, b) is
[n a^(n-1), n b^(n-1)]: for a = 1, b = 2 it explodes ([n, n 2^(n-1)]), for
a = 0.5, b = 0.9 it vanishes.  Exploding gradients make cliffs in the loss,
where one gradient step throws the weights far away; clipping the gradient
norm (g <- g u / ||g|| when ||g|| > u) keeps the step bounded.

Part 1 builds that network in Keras and lets ``kerasreg.callbacks.GradientMonitor``
measure the gradient norm for growing depth n, against the closed form (one
fit, one epoch per depth and case).
Part 2 fits y = W^n x to a target from a point on the cliff, with plain SGD
and with ``kerasreg.optimizers.GradientClipping`` around the same SGD.
"""

import matplotlib

matplotlib.use("Agg")
import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

import kerasreg  # noqa: E402
from kerasreg import experiment  # noqa: E402

CLAIM = ("On the linear network diag(a,b)^n the measured gradient norm follows the closed form "
         "[n a^(n-1), n b^(n-1)], exploding for a=1, b=2 and vanishing for a=0.5, b=0.9; "
         "on the resulting cliff SGD diverges while global-norm clipping converges.")


class LinearNetwork(keras.layers.Layer):
    """x -> W^n x with W = diag(w): n linear layers h_i = W h_{i-1}, all sharing one 2-vector weight w.

    The depth n is a non-trainable variable and the n layers a loop
    (``keras.ops.fori_loop``), so ONE traced train step serves every depth:
    tracing a Keras train step costs about a second, an update here costs
    microseconds.  Backpropagation still runs through all n multiplications.
    """

    def build(self, input_shape):
        self.w = self.add_weight(shape=(2,), initializer="ones", name="w")
        self.depth = self.add_weight(shape=(), dtype="int32", initializer="zeros", trainable=False, name="depth")

    def set(self, n, w):
        self.depth.assign(n)
        self.w.assign(np.asarray(w, "float32"))

    def call(self, h):
        return ops.fori_loop(0, self.depth, lambda i, h: h * self.w, h)


def linear_network():
    model = keras.Sequential([keras.Input((2,)), LinearNetwork(name="W")])
    return model, model.get_layer("W")


def sum_output(y_true, y_pred):
    return ops.sum(y_pred, axis=-1)


def measured_gradient_norms(settings, thresholds):
    """GradientMonitor's global norm and verdict of d sum(W^n x)/d(a, b) for each (n, (a, b)) in ``settings``.

    One fit, one epoch (one step on x = [1, 1]) per setting: a callback puts
    the setting's depth and weights into the network as its epoch begins, and
    GradientMonitor records each epoch's gradient norm and verdict.
    """
    model, net = linear_network()
    # The gradient is measured, not followed: every epoch starts from its own weights anyway.
    monitor = kerasreg.callbacks.GradientMonitor(every_n_steps=1, **thresholds)
    model.compile(optimizer=monitor.wrap(kerasreg.optimizers.SGD(1e-30)), loss=sum_output)
    set_network = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: net.set(*settings[epoch]))
    model.fit(np.ones((1, 2), "float32"), np.zeros((1, 2), "float32"), epochs=len(settings), verbose=0,
              callbacks=[set_network, monitor])
    return [(epoch["global"][0], epoch["verdicts"][0]) for epoch in monitor.history]


def fit_cliff(optimizer, n, w0, steps):
    """Least squares ||W^n x - t||^2 (x = t = [1, 1]) from a point on the cliff.

    Returns the loss before each step and after the last, and the final weights.
    """
    model, net = linear_network()
    model.compile(optimizer=optimizer, loss="mse")
    net.set(n, w0)
    # `steps` updates as ONE epoch over `steps` copies of the example (batch size 1): an epoch of
    # Keras' fit has ~10 ms fixed overhead, an update here well under 1 ms.  Keras logs a running
    # mean of the loss within an epoch, so we record the weights after every update instead and
    # compute each step's loss, mean((w^n - 1)^2), from them.
    weights = [ops.convert_to_numpy(net.w)]
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: weights.append(ops.convert_to_numpy(net.w)))
    x = np.ones((steps, 2), "float32")
    model.fit(x, x, batch_size=1, epochs=1, shuffle=False, verbose=0, callbacks=[record])
    w = np.array(weights, "float64")
    with np.errstate(over="ignore", invalid="ignore"):  # plain SGD's weights overflow to inf/nan
        loss = np.mean((w**n - 1.0) ** 2, axis=1)
    return np.where(np.isfinite(loss), loss, np.inf), w[-1]


def main(argv=None):
    args = experiment.parse_args("gradients", CLAIM, argv)
    run = experiment.Run("gradients", args, CLAIM)
    thresholds = dict(explode_threshold=1e3, vanish_threshold=1e-2)
    depths = [10, 40, 100] if args.quick else [5, 10, 20, 40, 70, 100]
    cases = {"explodes (a=1, b=2)": (1.0, 2.0), "vanishes (a=0.5, b=0.9)": (0.5, 0.9)}
    settings = [(n, (a, b)) for a, b in cases.values() for n in depths]
    results = iter(measured_gradient_norms(settings, thresholds))
    measured, closed, verdicts = {}, {}, {}
    worst = 0.0
    for label, (a, b) in cases.items():
        measured[label], closed[label], verdicts[label] = [], [], []
        for n in depths:
            norm, verdict = next(results)
            exact = float(np.hypot(n * a ** (n - 1), n * b ** (n - 1)))
            measured[label].append(norm)
            closed[label].append(exact)
            verdicts[label].append(verdict)
            worst = max(worst, abs(norm - exact) / exact)
        run.metric(f"grad_norm/{label}", measured[label])
        run.metric(f"verdict/{label}", verdicts[label])
    run.metric("depths", depths)
    run.check("measured norms match the closed form (max relative error)", value=worst, threshold=1e-4, op="<")
    deep = len(depths) - 1
    run.check(f"a=1, b=2 at n={depths[deep]} is flagged exploding",
              value=float(verdicts["explodes (a=1, b=2)"][deep] == "exploding"), threshold=1.0, op=">=")
    run.check(f"a=0.5, b=0.9 at n={depths[deep]} is flagged vanishing",
              value=float(verdicts["vanishes (a=0.5, b=0.9)"][deep] == "vanishing"), threshold=1.0, op=">=")
    run.table("Global gradient norm: GradientMonitor vs [n a^(n-1), n b^(n-1)]",
              ["case", *[f"n={n}" for n in depths], "verdict at deepest"],
              [[label, *[f"{m:.4g} ({c:.4g})" for m, c in zip(measured[label], closed[label])], verdicts[label][-1]]
               for label in cases])

    # Part 2: the cliff. n = 20, start at a = 1.15 where ||g|| is about 1e4.
    n, w0 = 20, (1.15, 0.9)
    steps = args.epochs or (300 if args.quick else 600)
    lr = 1e-3
    plain, w_plain = fit_cliff(kerasreg.optimizers.SGD(lr), n, w0, steps)
    clipped_opt = kerasreg.optimizers.GradientClipping(kerasreg.optimizers.SGD(lr), mode="global_norm", threshold=1.0)
    clipped, w_clip = fit_cliff(clipped_opt, n, w0, steps)
    plain_final = float(plain[-1]) if np.isfinite(plain[-1]) else float("inf")
    run.metric("cliff/final_loss_sgd", plain_final)
    run.metric("cliff/final_loss_clipped", float(clipped[-1]))
    run.metric("cliff/initial_loss", float(clipped[0]))
    run.metric("cliff/clipped_steps", int(ops.convert_to_numpy(clipped_opt.clip_count)))
    run.check("plain SGD is thrown off the cliff (final loss not below the start)",
              value=plain_final, threshold=float(clipped[0]), op=">=")
    run.check("SGD with global-norm clipping converges (final loss < 1e-3)",
              value=float(clipped[-1]), threshold=1e-3, op="<")

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for label in cases:
        axes[0].semilogy(depths, closed[label], "-", lw=3, alpha=0.3)
        axes[0].semilogy(depths, measured[label], "o--", label=f"{label}: measured")
    axes[0].axhline(thresholds["explode_threshold"], color="r", lw=0.7, ls=":")
    axes[0].axhline(thresholds["vanish_threshold"], color="b", lw=0.7, ls=":")
    axes[0].set_xlabel("depth n")
    axes[0].set_ylabel("||grad|| (thick: closed form)")
    axes[0].legend(fontsize=8)
    axes[1].semilogy(np.where(np.isfinite(plain), plain, np.nan), label="SGD")
    axes[1].semilogy(clipped, label="SGD + global-norm clipping (u = 1)")
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("loss")
    axes[1].set_title(f"Cliff: n = {n}, start (a, b) = {w0}, lr = {lr}")
    axes[1].legend(fontsize=8)
    run.figure("gradients.png", fig, "Left: gradient norm against depth. Right: the cliff with and without clipping.")
    run.finish()
    return run


if __name__ == "__main__":
    main()
