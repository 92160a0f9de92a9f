"""Exploding and vanishing gradients on the linear network diag(a, b)^n, and gradient clipping taming a cliff.

The lecture: with linear activations h_i = W h_{i-1}, W = diag(a, b) and
x = [1, 1], the output is y = W^n x and its gradient with respect to (a, b) is
[n a^(n-1), n b^(n-1)]: for a = 1, b = 2 it explodes ([n, n 2^(n-1)]), for
a = 0.5, b = 0.9 it vanishes.  Exploding gradients make cliffs in the loss,
where one gradient step throws the weights far away; clipping the gradient
norm (g <- g u / ||g|| when ||g|| > u) keeps the step bounded.

Part 1 builds that network in Keras and lets ``kerasreg.callbacks.GradientMonitor``
measure the gradient norm for growing depth n, against the closed form.
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


class Diag(keras.layers.Layer):
    """h -> W h with W = diag(w): one 2-vector weight, shared by every layer."""

    def __init__(self, init, **kwargs):
        super().__init__(**kwargs)
        self.init = [float(v) for v in init]

    def build(self, input_shape):
        self.w = self.add_weight(shape=(2,), initializer=keras.initializers.Constant(self.init), name="w")

    def call(self, h):
        return h * self.w


def linear_network(n, a, b):
    """y = W^n x: the same Diag layer applied n times."""
    x = keras.Input((2,))
    diag = Diag([a, b], name="W")
    h = x
    for _ in range(n):
        h = diag(h)
    return keras.Model(x, h)


def sum_output(y_true, y_pred):
    return ops.sum(y_pred, axis=-1)


def measured_gradient_norm(n, a, b, thresholds):
    model = linear_network(n, a, b)
    model.compile(optimizer=kerasreg.optimizers.SGD(1e-30), loss=sum_output)
    monitor = kerasreg.callbacks.GradientMonitor(every_n_steps=1, **thresholds)
    model.fit(np.ones((1, 2), "float32"), np.zeros((1, 2), "float32"), epochs=1, verbose=0, callbacks=[monitor])
    return monitor.history[-1]["global"][0], monitor.verdict


def fit_cliff(optimizer, n, w0, steps):
    """Least squares ||W^n x - t||^2 from a point on the cliff; loss per step."""
    model = linear_network(n, *w0)
    model.compile(optimizer=optimizer, loss="mse")
    x, t = np.ones((1, 2), "float32"), np.ones((1, 2), "float32")
    hist = model.fit(x, t, epochs=steps, verbose=0)
    return np.array(hist.history["loss"]), np.array(model.get_layer("W").w)


def main(argv=None):
    args = experiment.parse_args("gradients", CLAIM, argv)
    run = experiment.Run("gradients", args, CLAIM)
    thresholds = dict(explode_threshold=1e3, vanish_threshold=1e-2)
    depths = [10, 40, 100] if args.quick else [5, 10, 20, 40, 70, 100]
    cases = {"explodes (a=1, b=2)": (1.0, 2.0), "vanishes (a=0.5, b=0.9)": (0.5, 0.9)}
    measured, closed, verdicts = {}, {}, {}
    worst = 0.0
    for label, (a, b) in cases.items():
        measured[label], closed[label], verdicts[label] = [], [], []
        for n in depths:
            norm, verdict = measured_gradient_norm(n, a, b, thresholds)
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
    run.metric("cliff/clipped_steps", int(np.array(clipped_opt.clip_count)))
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
