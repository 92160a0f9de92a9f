"""Momentum reaches the minimum of an ill-conditioned quadratic in fewer steps than SGD; Nesterov no worse.

The lecture: on a poorly conditioned loss, gradient descent oscillates across
the steep direction and crawls along the shallow one; averaging gradients
(momentum) cancels the oscillation, and Nesterov's look-ahead corrects it
further.  We minimize L(w) = 1/2 w^T A w with A = diag(1, kappa), give every
optimizer its best learning rate (and momentum) from the same grid, and count
the steps each needs to bring L below a tolerance.
"""

import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import kerasreg  # noqa: E402
from kerasreg import experiment  # noqa: E402

CLAIM = "On an ill-conditioned quadratic, momentum needs fewer steps than SGD to reach the tolerance, and Nesterov is no worse than momentum."


def main(argv=None):
    args = experiment.parse_args("momentum", CLAIM, argv)
    run = experiment.Run("momentum", args, CLAIM)
    kappa = 50.0
    A = np.diag([1.0, kappa])
    w0 = np.array([-4.0, 1.0])
    tol = 1e-4
    max_steps = args.epochs or (300 if args.quick else 1000)

    def loss(w):
        return 0.5 * w @ A @ w

    def grad(ws):
        return [A @ ws[0]]

    lrs = np.geomspace(4e-3, 2.0 / kappa, 8 if args.quick else 24)
    momenta = [0.5, 0.7, 0.9]
    mom_lrs = np.geomspace(4e-3, 0.2, len(lrs))
    grids = {
        "SGD": [dict(learning_rate=lr) for lr in lrs],
        "Momentum": [dict(learning_rate=lr, momentum=m) for lr, m in itertools.product(mom_lrs, momenta)],
        "Nesterov": [dict(learning_rate=lr, momentum=m) for lr, m in itertools.product(mom_lrs, momenta)],
    }
    classes = {
        "SGD": kerasreg.optimizers.SGD,
        "Momentum": kerasreg.optimizers.Momentum,
        "Nesterov": kerasreg.optimizers.Nesterov,
    }

    def done(ws):
        value = loss(ws[0])
        return not np.isfinite(value) or value < tol or value > 1e6

    def steps_to_tol(path):
        for i, ws in enumerate(path):
            if loss(ws[0]) < tol:
                return i
        return np.inf

    best = {}
    rows = []
    for name, grid in grids.items():
        results = []
        for kwargs in grid:
            path = experiment.trajectory(classes[name](**kwargs), [w0], grad, max_steps, stop=done)
            results.append((steps_to_tol(path), kwargs, path))
        steps, kwargs, path = min(results, key=lambda r: r[0])
        best[name] = (steps, kwargs, path)
        rows.append([name, steps, *(f"{v:.4g}" for v in kwargs.values())])
        run.metric(f"steps/{name}", steps)
        run.metric(f"best_hparams/{name}", kwargs)
    run.table(f"Steps to L < {tol:g} (best of the grid; kappa = {kappa:g})", ["optimizer", "steps", "hyperparameters"], rows)

    run.check("momentum needs fewer steps than SGD", value=best["Momentum"][0], threshold=best["SGD"][0], op="<")
    run.check("Nesterov needs no more steps than momentum", value=best["Nesterov"][0], threshold=best["Momentum"][0], op="<=")

    # Trajectories on the loss contours, as in the slides.
    fig, ax = plt.subplots(figsize=(7, 4))
    g1, g2 = np.meshgrid(np.linspace(-4.5, 1.5, 200), np.linspace(-1.3, 1.3, 200))
    ax.contour(g1, g2, 0.5 * (g1**2 + kappa * g2**2), levels=np.geomspace(1e-3, 60, 15), cmap="Greys", linewidths=0.7)
    for (name, (steps, kwargs, path)), color in zip(best.items(), ["tab:red", "tab:blue", "tab:green"]):
        pts = np.array([p[0] for p in path[: int(min(steps, max_steps)) + 1]])
        ax.plot(pts[:, 0], pts[:, 1], ".-", color=color, ms=3, lw=1, label=f"{name} ({steps} steps)")
    ax.set_xlabel("w1 (shallow)")
    ax.set_ylabel("w2 (steep)")
    ax.legend()
    ax.set_title("Best-tuned trajectories on L(w) = 1/2 (w1^2 + 50 w2^2)")
    run.figure("trajectories.png", fig, "Each optimizer at its best grid setting; momentum cuts across the valley.")
    run.finish()
    return run


if __name__ == "__main__":
    main()
