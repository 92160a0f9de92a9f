"""Exploding and vanishing gradients on the linear network diag(a, b)^n, and gradient clipping taming the cliff.

The lecture: with linear activations h_i = W h_{i-1}, W = diag(a, b) and
x = [1, 1], the output is y = W^n x and its gradient with respect to (a, b) is
[n a^(n-1), n b^(n-1)]: for a = 1, b = 2 it explodes ([n, n 2^(n-1)]), for
a = 0.5, b = 0.9 it vanishes.  Exploding gradients make cliffs in the loss,
where one gradient step throws the weights far away; clipping the gradient
norm (g <- g u / ||g|| when ||g|| > u) keeps the step bounded.

Part 1.  Each seed draws an exploding case (a = 1, b uniform in [1.5, 2]) and
a vanishing one (a uniform in [0.3, 0.7], b in [0.5, 0.9]); the network is
built in Keras and ``kerasreg.callbacks.GradientMonitor`` measures the
gradient norm at depths 10, 40 and 100 (one fit, one epoch per setting, all
seeds), against the closed form, with its exploding / vanishing verdict at
depth 100.  Nothing is selected: the closed form is the reference.

Part 2, the cliff.  Least squares L(w) = 1/2 sum_i (w_i^n - 1)^2 at depth
n = 20, from starts on the cliff (a uniform in [1.1, 1.2], where ||g|| is 10^3
to 10^5, b in [0.85, 0.95]; smaller b sits on the vanishing side, where
w_2^20 is flat and no rate moves it in 300 steps): per seed 8 validation and
8 test starts.  Plain
SGD and SGD with the lecture's clipping (u = 1) each get their learning rate
selected on the validation starts (mean log10 final loss after T = 300
steps, grid 1e-5 to 1e-2); the claim is judged on the test starts: the
fraction that converge (L < 1e-6).  The loss is analytic: held-out starts play
the test split's part.  The many runs use the rule in numpy, all starts at
once; ``kerasreg.optimizers.GradientClipping`` (mode ``"norm"``, one variable
per seed) then retraces each seed's first test start at its selected rate,
and a check holds it to the formula's path.
"""

import keras
import numpy as np
from keras import ops

import kerasreg
from kerasreg import study

SUPPORTS = ("epochs",)

CLAIM = ("On the linear network diag(a,b)^n the measured gradient norm follows the closed form "
         "[n a^(n-1), n b^(n-1)], exploding for b > 1 and vanishing for a, b < 1; on the resulting cliff, "
         "SGD with norm clipping converges from starts where plain SGD, at its own best rate, does not.")


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


STARTS = 8  # cliff starts per seed, for validation and for test each
CLIFF_DEPTH, THRESHOLD = 20, 1.0
LRS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
CONVERGED = 1e-6
DIVERGED_LOG10 = 10.0  # a run that overflowed counts as log10 L = 10 in the validation mean


def cliff_loss(w, n=CLIFF_DEPTH):
    """1/2 sum_i (w_i^n - 1)^2, row by row."""
    with np.errstate(over="ignore", invalid="ignore"):
        return 0.5 * np.sum((w**n - 1.0) ** 2, axis=-1)


def cliff_grad(w, n=CLIFF_DEPTH):
    with np.errstate(over="ignore", invalid="ignore"):
        return (w**n - 1.0) * n * w ** (n - 1)


def clip(g, u=THRESHOLD):
    """The lecture's rule, row by row: g <- g u / ||g|| where ||g|| > u."""
    norm = np.linalg.norm(g, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > u, g * (u / norm), g)


def descend(w0, lr, clipped, steps):
    """SGD (clipped or not) from every row of w0 at its own rate lr (a column); the final weights."""
    w = np.array(w0, dtype="float64")
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            g = cliff_grad(w)
            w = w - lr * (clip(g) if clipped else g)
    return w


def library_path(w0, lr, steps):
    """``GradientClipping(SGD, mode="norm")`` from each row of w0 at its rate lr, one variable per row.

    The rows hold u = w / lr and get the gradient g(w) itself, so one optimizer
    (learning rate 1) moves each w by -lr clip(g): mode ``"norm"`` clips each
    variable's gradient by its own norm, the lecture's rule for a 2-vector.
    """
    opt = kerasreg.optimizers.GradientClipping(kerasreg.optimizers.SGD(1.0), mode="norm", threshold=THRESHOLD)
    lr = np.asarray(lr, dtype="float64")
    path = study.trajectory(opt, list(w0 / lr[:, None]),
                            lambda us: [cliff_grad(u * r) for u, r in zip(us, lr)], steps)
    return np.array(path[-1], dtype="float64") * lr[:, None], opt


def gradient_norms(ctx):
    """Part 1 for every seed: max relative error against the closed form, and the verdicts at the deepest depth."""
    thresholds = dict(explode_threshold=1e3, vanish_threshold=1e-2)
    depths = [10, 40, 100]
    cases = []
    for seed in ctx.seeds:
        rng = np.random.default_rng(seed)
        cases.append({"exploding": (1.0, rng.uniform(1.5, 2.0)),
                      "vanishing": (rng.uniform(0.3, 0.7), rng.uniform(0.5, 0.9))})
    settings = [(n, case[kind]) for case in cases for kind in ("exploding", "vanishing") for n in depths]
    results = iter(measured_gradient_norms(settings, thresholds))
    out = {"grad_rel_error": [], "flagged/exploding": [], "flagged/vanishing": []}
    rows = []
    for seed, case in zip(ctx.seeds, cases):
        worst = 0.0
        for kind, (a, b) in case.items():
            measured = []
            for n in depths:
                norm, verdict = next(results)
                exact = float(np.hypot(n * a ** (n - 1), n * b ** (n - 1)))
                worst = max(worst, abs(norm - exact) / exact)
                measured.append(f"{norm:.4g} ({exact:.4g})")
            out[f"flagged/{kind}"].append(float(verdict == kind))
            if seed == ctx.seeds[0]:
                rows.append([f"{kind} (a={a:.3g}, b={b:.3g})", *measured, verdict])
        out["grad_rel_error"].append(worst)
    ctx.table(f"Seed {ctx.seeds[0]}: global gradient norm, GradientMonitor (closed form [n a^(n-1), n b^(n-1)])",
              ["case", *[f"n={n}" for n in depths], "verdict at deepest"], rows)
    return {k: np.array(v) for k, v in out.items()}


def cliff(ctx, steps):
    """Part 2 for every seed: the fraction of test starts each optimizer brings below CONVERGED."""
    n_seeds = len(ctx.seeds)
    starts = []
    for seed in ctx.seeds:
        rng = np.random.default_rng([seed, 1])
        starts.append(np.stack([rng.uniform(1.1, 1.2, 2 * STARTS), rng.uniform(0.85, 0.95, 2 * STARTS)], axis=1))
    starts = np.array(starts)  # (seeds, 2 * STARTS, 2)
    shape = (n_seeds, len(LRS), 2 * STARTS)
    w0 = np.broadcast_to(starts[:, None], (*shape, 2)).reshape(-1, 2)
    lr = np.broadcast_to(np.asarray(LRS)[None, :, None], shape).reshape(-1, 1)
    out, chosen = {"initial_loss_log10": np.log10(cliff_loss(starts[:, STARTS:])).mean(axis=1)}, {}
    rows = np.arange(n_seeds)
    for name, clipped in (("SGD", False), ("clipped", True)):
        final = cliff_loss(descend(w0, lr, clipped, steps)).reshape(shape)
        log_loss = np.where(np.isfinite(final), np.log10(np.maximum(final, 1e-30)), DIVERGED_LOG10)
        log_loss = np.minimum(log_loss, DIVERGED_LOG10)
        chosen[name] = ctx.select(name, list(LRS), log_loss[:, :, :STARTS].mean(axis=2))  # validation starts
        test = final[rows, chosen[name], STARTS:]
        out[f"converged/{name}"] = np.mean(test < CONVERGED, axis=1)
        out[f"median_log10_loss/{name}"] = np.median(log_loss[rows, chosen[name], STARTS:], axis=1)
        out[f"diverged/{name}"] = np.mean(~np.isfinite(test), axis=1)
    # The library retraces each seed's first test start at the clipped rule's selected rate.
    rates = np.asarray(LRS)[chosen["clipped"]]
    first = starts[:, STARTS]
    w_lib, opt = library_path(first, rates, steps)
    w_np = descend(first, rates[:, None], True, steps)
    out["library_vs_formula"] = np.max(np.abs(w_lib - w_np), axis=1)
    figure(ctx, first[0], {name: LRS[int(chosen[name][0])] for name in chosen}, steps)
    ctx.setting("cliff", f"depth {CLIFF_DEPTH}, u = {THRESHOLD}, T = {steps} steps, converged: L < {CONVERGED:g}")
    ctx.note(f"GradientClipping clipped {int(ops.convert_to_numpy(opt.clip_count))} of {steps} steps "
             f"(all seeds' first test starts together).")
    return out


def figure(ctx, w0, rates, steps):
    """Loss per step from seed 0's first test start, each optimizer at its selected rate."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for (name, lr), color in zip(rates.items(), ["tab:red", "tab:blue"]):
        w, curve = np.array(w0, dtype="float64"), []
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(steps + 1):
                curve.append(cliff_loss(w))
                g = cliff_grad(w)
                w = w - lr * (clip(g) if name == "clipped" else g)
        curve = np.array(curve)
        ax.semilogy(np.where(np.isfinite(curve), np.maximum(curve, 1e-30), np.nan), color=color,
                    label=f"{name}, learning rate {lr:g}")
    ax.set_xlabel("step")
    ax.set_ylabel("L(w)")
    ax.set_title(f"Seed {ctx.seeds[0]}: from a start on the cliff (a, b) = ({w0[0]:.3f}, {w0[1]:.3f})")
    ax.legend()
    ctx.figure("cliff.png", fig, "Each optimizer at its learning rate selected on validation starts; plain SGD "
               "must take a rate small enough for the cliff and then crawls.")


def measure(ctx):
    steps = ctx.epochs(300, 300)
    out = gradient_norms(ctx)
    out.update(cliff(ctx, steps))
    return out


STUDY = study.Study(
    name="gradients", claim=CLAIM, measure=measure,
    checks=[
        study.Below("grad_rel_error", 1e-4,
                    describe="GradientMonitor's norms match the closed form (max relative error)"),
        study.Above("flagged/exploding", 0.5, describe="b in [1.5, 2] at depth 100 is flagged exploding"),
        study.Above("flagged/vanishing", 0.5, describe="a in [0.3, 0.7], b in [0.5, 0.9] at depth 100 is flagged "
                                                       "vanishing"),
        study.Greater("converged/clipped", "converged/SGD",
                      describe="on the cliff, clipped SGD converges from more test starts than plain SGD, each at "
                               "its rate selected on validation starts"),
        study.Above("converged/clipped", 0.9, describe="clipped SGD converges from over 90% of the test starts"),
        study.Below("library_vs_formula", 1e-4,
                    describe="kerasreg's GradientClipping follows the lecture's rule (max |w difference|)"),
    ],
)


def main(args):
    return study.run(STUDY, args)


if __name__ == "__main__":
    import sys

    from kerasreg import cli

    sys.exit(cli.main(["run", "gradients", *sys.argv[1:]]))
