"""Momentum reaches the minimum of an ill-conditioned quadratic in fewer steps than SGD; Nesterov no worse.

The lecture: on a poorly conditioned loss, gradient descent oscillates across
the steep direction and crawls along the shallow one; averaging gradients
(momentum) cancels the oscillation, and Nesterov's look-ahead corrects it
further.  We minimize L(w) = 1/2 w^T A w with A = diag(1, kappa), give every
optimizer its best learning rate (and momentum) from the same grid, and count
the steps each needs to bring L below a tolerance.

How the grid runs fast: SGD, momentum and Nesterov are linear in the
gradient, so a step with learning rate lr on L is exactly a step with rate 1
on lr * L.  We therefore put every learning rate of the grid in one row of a
(grid size, 2) weight matrix, scale row i's gradient by lr_i and let ONE
optimizer (learning rate 1) walk all rows at once: one traced update per
(optimizer, momentum) instead of one per grid point.  (This trick does not
carry over to Adam, RMSProp or AdaGrad, which divide by the gradient's scale.)
"""

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

    def loss(W):
        """L(w) for every row w of W."""
        return 0.5 * np.sum((W @ A) * W, axis=1)

    lrs = np.geomspace(4e-3, 2.0 / kappa, 8 if args.quick else 24)
    mom_lrs = np.geomspace(4e-3, 0.2, len(lrs))
    momenta = [0.5, 0.7, 0.9]
    # (name, optimizer with learning rate 1, the learning rates of the rows, its fixed hyperparameters)
    settings = [("SGD", lambda: kerasreg.optimizers.SGD(1.0), lrs, {})]
    for name, cls in [("Momentum", kerasreg.optimizers.Momentum), ("Nesterov", kerasreg.optimizers.Nesterov)]:
        for m in momenta:
            settings.append((name, lambda cls=cls, m=m: cls(1.0, momentum=m), mom_lrs, {"momentum": m}))

    best = {}  # name -> (steps, final loss, hyperparameters, path) of its best grid point
    for name, make, grid, fixed in settings:
        scale = grid[:, None]

        def grad(ws, scale=scale):
            return [scale * (ws[0] @ A)]  # row i: lr_i * A w_i

        def reached(ws):
            # The first row below the tolerance is the fastest of this grid: stop there.
            # (Diverging rows become inf/nan; they never count as reaching it.)
            return bool(np.any(loss(ws[0]) < tol))

        # Rows whose learning rate is too large diverge to inf/nan: expected, so numpy need not warn.
        with np.errstate(over="ignore", invalid="ignore"):
            path = experiment.trajectory(make(), [np.tile(w0, (len(grid), 1))], grad, max_steps, stop=reached)
            final = loss(path[-1][0])
        final = np.where(np.isfinite(final), final, np.inf)
        row = int(np.argmin(final))  # ties in steps go to the lowest loss at the last step
        steps = len(path) - 1 if final[row] < tol else np.inf
        candidate = (steps, float(final[row]), dict(learning_rate=float(grid[row]), **fixed), [p[0][row] for p in path])
        if name not in best or candidate[:2] < best[name][:2]:
            best[name] = candidate

    rows = []
    for name, (steps, _, kwargs, _) in best.items():
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
    for (name, (steps, _, kwargs, path)), color in zip(best.items(), ["tab:red", "tab:blue", "tab:green"]):
        pts = np.array(path)
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
