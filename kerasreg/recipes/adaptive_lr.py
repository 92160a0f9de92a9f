"""AdaGrad's learning rate decays too early on a non-convex problem; RMSProp keeps going.

The lecture: AdaGrad divides the step by the square root of the *sum* of all
past squared gradients, so on a long non-convex path its effective learning
rate lambda/(delta + sqrt(r)) keeps shrinking and progress stalls; RMSProp
uses an exponentially weighted average instead, which forgets old gradients.
We walk a rippled, non-convex valley whose minimum lies far from the start and
measure where each optimizer is after the same number of steps, and how much
its effective learning rate has decayed.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import kerasreg  # noqa: E402
from kerasreg import experiment  # noqa: E402

CLAIM = "On a long non-convex path, AdaGrad's effective learning rate decays early and it stalls, while RMSProp keeps going and ends far lower."

TARGET = np.array([30.0, 20.0])
RIPPLE = 0.3


def loss(w):
    """Pseudo-Huber bowl (gradient norm <= 1 far away) plus ripples: non-convex."""
    d = w - TARGET
    return float(np.sum(np.sqrt(1.0 + d**2)) + RIPPLE * np.sum(np.sin(w)))


def grad(ws):
    w = ws[0]
    d = w - TARGET
    return [d / np.sqrt(1.0 + d**2) + RIPPLE * np.cos(w)]


def main(argv=None):
    args = experiment.parse_args("adaptive_lr", CLAIM, argv)
    run = experiment.Run("adaptive_lr", args, CLAIM)
    steps = args.epochs or (300 if args.quick else 1000)
    lr, eps = 0.3, 1e-7
    w0 = np.zeros(2)
    opts = {
        "AdaGrad": kerasreg.optimizers.AdaGrad(learning_rate=lr, epsilon=eps),
        "RMSProp": kerasreg.optimizers.RMSProp(learning_rate=lr, rho=0.9, epsilon=eps),
    }
    paths, effective = {}, {}
    for name, opt in opts.items():
        path = experiment.trajectory(opt, [w0], grad, steps)
        paths[name] = np.array([p[0] for p in path])
        # The effective per-parameter rate lambda/(delta + sqrt(r)) from the accumulated r,
        # recomputed here from the gradients seen (the lecture's formula).
        r = np.zeros(2)
        rates = []
        for w in paths[name][:-1]:
            g = grad([w])[0]
            r = r + g**2 if name == "AdaGrad" else 0.9 * r + 0.1 * g**2
            rates.append(lr / (eps + np.sqrt(r)))
        effective[name] = np.array(rates).mean(axis=1)
        run.metric(f"final_loss/{name}", loss(paths[name][-1]))
        run.metric(f"distance_to_min/{name}", float(np.linalg.norm(paths[name][-1] - TARGET)))
        run.metric(f"effective_lr_decay/{name}", float(effective[name][0] / effective[name][-1]))

    m = run.metrics
    run.check("RMSProp ends with a lower loss than AdaGrad", value=m["final_loss/RMSProp"], threshold=m["final_loss/AdaGrad"], op="<")
    run.check("AdaGrad's effective learning rate decays over 10x", value=m["effective_lr_decay/AdaGrad"], threshold=10.0, op=">")
    run.check("AdaGrad stalls: still over 10 units from the minimum", value=m["distance_to_min/AdaGrad"], threshold=10.0, op=">")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    g1, g2 = np.meshgrid(np.linspace(-3, 35, 200), np.linspace(-3, 25, 200))
    z = np.sqrt(1 + (g1 - TARGET[0]) ** 2) + np.sqrt(1 + (g2 - TARGET[1]) ** 2) + RIPPLE * (np.sin(g1) + np.sin(g2))
    axes[0].contour(g1, g2, z, levels=25, cmap="Greys", linewidths=0.6)
    for name, color in zip(paths, ["tab:red", "tab:blue"]):
        axes[0].plot(paths[name][:, 0], paths[name][:, 1], "-", color=color, label=name)
    axes[0].plot(*TARGET, "k*", ms=12)
    axes[0].legend()
    axes[0].set_title(f"{steps} steps, learning rate {lr}")
    for name, color in zip(effective, ["tab:red", "tab:blue"]):
        axes[1].semilogy(effective[name], color=color, label=name)
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("effective learning rate")
    axes[1].legend()
    run.figure("adaptive_lr.png", fig, "Left: paths on the rippled valley. Right: lambda/(delta+sqrt(r)) per step.")
    run.finish()
    return run


if __name__ == "__main__":
    main()
