"""Activation functions compared on the same deep MLP, and dead ReLU units after training at a high learning rate.

The lecture ends with "experimenting with activation functions".  We train
the same deep MLP (6 hidden layers of 64 units) on the embedded digits with
ReLU, the sigmoid and tanh (and, in full mode, leaky ReLU, ELU and GELU):
the sigmoid's small derivative (at most 1/4 per layer) makes its deep
network learn slowest.

A ReLU unit whose pre-activation is negative for every input outputs 0 and
gets no gradient: it is dead for good.  A large step can push units there.
Leaky ReLU (Keras' ``leaky_relu``: slope 0.2 for negative inputs) never
outputs exactly 0, so it cannot die.

Design.  Per seed: its own split, its own initial weights (the same draw,
from the seed, for every activation) and its own order of the batches.
Part 1: plain SGD, batches of 32, a short budget of epochs; each activation's
learning rate is selected per seed on validation accuracy from a grid, and
the claim is judged on test accuracy.  Part 2: ReLU and leaky ReLU networks
trained for 3 epochs at a normal rate (0.3, in the grid of part 1) and at a
high one (0.8); a unit is dead when it outputs exactly 0 for every training
example (counted directly on the training split).  The two rates are fixed,
not selected: the claim is about what a too-high rate does (at 1.0 ReLU
itself diverged for 1 seed in 10 that we tried; at 0.8 for 1 of 60: 10 seeds
of each of the base seeds 0-3, 479 and 512, in its second epoch, with only
6% of its units dead at the end of the first: that run lost its units to
overflow, not to switching off; and whether a run diverges depends on its
initial weights).  So ReLU at the high rate trains 3 times per seed, with
initial weights and data order drawn from seed, seed + 1 and seed + 2 (the
first run is the one paired with the normal rate), and the seed's dead
fraction is the mean over the runs that did not diverge (the report counts
the ones that did).  A lower rate does not avoid the question: the fraction
of dead units falls with the rate (0.7: mean 0.50, the lowest 0.21 over the
same 60 seeds; 0.8: 0.58, the lowest 0.32).  Leaky ReLU, which cannot switch units
off, may diverge at the high rate instead (NaN loss; at 1.0 it did for most
seeds): the report counts those runs, and has no dead-unit count for them.
"""

import keras
import numpy as np

import kerasreg
from kerasreg import study

SUPPORTS = ("epochs",)

CLAIM = ("On the same deep MLP the sigmoid reaches a lower test accuracy than ReLU within a short budget (each at "
         "its best learning rate on validation); training ReLU at a high learning rate leaves many more dead units "
         "than at a normal one, while leaky ReLU has none.")

DEPTH, WIDTH, BATCH = 6, 64, 32
NORMAL_LR, HIGH_LR = 0.3, 0.8  # plain SGD: a rate of the grid, and one too high for ReLU
DEAD_EPOCHS = 3
HIGH_REPEATS = 3  # ReLU at the high rate: runs per seed (weights and order), dead fraction averaged over those that ran


def build_mlp(activation, input_dim, num_classes):
    layers = [keras.Input((input_dim,))]
    for i in range(DEPTH):
        layers.append(keras.layers.Dense(WIDTH, activation=activation, name=f"hidden_{i + 1}"))
    layers.append(keras.layers.Dense(num_classes, name="logits"))
    return keras.Sequential(layers)


def dead_fraction(probe, x):
    """Fraction of hidden units whose output is exactly 0 for every example of x."""
    outputs = [keras.ops.convert_to_numpy(h) for h in probe(x, training=False)]
    return float(np.mean(np.concatenate([np.all(h == 0.0, axis=0) for h in outputs])))


def measure(ctx):
    epochs = ctx.epochs(4, 6)
    grid = (0.1, 0.3) if ctx.quick else (0.03, 0.1, 0.3, 1.0)
    activations = ("relu", "sigmoid", "tanh") if ctx.quick else ("relu", "leaky_relu", "elu", "gelu", "tanh",
                                                                 "sigmoid")
    ctx.setting("network", f"{DEPTH}x{WIDTH} MLP")
    ctx.setting("training", f"plain SGD, batches of {BATCH}, {epochs} epochs; learning rate per activation and seed "
                            f"selected on validation accuracy from {list(grid)}")
    ctx.setting("dead units", f"{DEAD_EPOCHS} epochs of plain SGD at learning rates {NORMAL_LR} and {HIGH_LR}")
    models = {}

    def model_for(activation, steps, input_dim, num_classes):
        if activation not in models:
            model = build_mlp(activation, input_dim, num_classes)
            model.compile(optimizer=kerasreg.optimizers.SGD(grid[0]),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
                          steps_per_execution=steps)
            probe = keras.Model(model.inputs[0], [model.get_layer(f"hidden_{i + 1}").output for i in range(DEPTH)])
            models[activation] = (model, study.snapshot(model), probe)
        return models[activation]

    def one_seed(seed):
        data = ctx.split("digits", seed=seed, flatten=True)
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = data.train, data.validation, data.test
        steps = study.steps_per_epoch(len(x_tr), BATCH)
        out = {}
        for activation in activations:
            model, start, _ = model_for(activation, steps, x_tr.shape[1], data.num_classes)
            finals, val_acc = [], []
            for lr in grid:
                study.restore(model, start, learning_rate=lr)
                study.reinitialize(model, seed)  # the same draw for every activation of a seed
                model.fit(study.batches(x_tr, y_tr, BATCH, seed), steps_per_epoch=steps, epochs=epochs, verbose=0,
                          callbacks=[keras.callbacks.TerminateOnNaN()])
                val_acc.append(float(model.evaluate(x_va, y_va, batch_size=2048, verbose=0)[1]))
                finals.append(study.snapshot(model))
            k = ctx.select(f"learning_rate/{activation}", grid, val_acc, seed=seed, higher_is_better=True)
            study.restore(model, finals[k])
            out[f"test_accuracy/{activation}"] = float(model.evaluate(x_te, y_te, batch_size=2048, verbose=0)[1])

        # Part 2: dead units at a normal and at a high learning rate.
        for activation in ("relu", "leaky_relu"):
            model, start, probe = model_for(activation, steps, x_tr.shape[1], data.num_classes)
            for name, lr in (("normal", NORMAL_LR), ("high", HIGH_LR)):
                repeats = HIGH_REPEATS if (activation, name) == ("relu", "high") else 1
                dead, diverged = [], []
                for r in range(repeats):  # r = 0: the seed's own weights and order, paired with the normal rate
                    study.restore(model, start, learning_rate=lr)
                    study.reinitialize(model, seed + r)
                    hist = model.fit(study.batches(x_tr, y_tr, BATCH, seed + r), steps_per_epoch=steps,
                                     epochs=DEAD_EPOCHS, verbose=0, callbacks=[keras.callbacks.TerminateOnNaN()])
                    diverged.append(not np.isfinite(hist.history["loss"][-1]))
                    if not diverged[-1] and (activation, name) != ("leaky_relu", "high"):
                        dead.append(dead_fraction(probe, x_tr))
                out[f"diverged/{activation}_{name}"] = float(np.mean(diverged))
                if (activation, name) != ("leaky_relu", "high"):  # it usually diverges: only that is reported
                    out[f"dead_fraction/{activation}_{name}"] = float(np.mean(dead)) if dead else np.nan
        return out

    result = ctx.per_seed(one_seed)
    diverged = result["diverged/leaky_relu_high"]
    relu_runs = HIGH_REPEATS * len(diverged)
    relu_diverged = int(round(HIGH_REPEATS * result["diverged/relu_high"].sum()))
    ctx.note(f"Leaky ReLU at {HIGH_LR} cannot switch units off; its loss became NaN in {int(diverged.sum())} of "
             f"{len(diverged)} seeds.  ReLU at {HIGH_LR} diverged in {relu_diverged} of its {relu_runs} runs "
             f"({HIGH_REPEATS} draws of weights and order per seed; a seed's dead fraction is the mean over the runs "
             "that did not): it mostly survives that rate by losing units.")
    ctx.table(f"Test accuracy after {epochs} epochs, each activation at its learning rate selected on validation",
              ["activation", "test accuracy"], [[a, result[f"test_accuracy/{a}"]] for a in activations])
    rows = []
    for activation in ("relu", "leaky_relu"):
        for name in ("normal", "high"):
            dead = result.get(f"dead_fraction/{activation}_{name}")
            runs = HIGH_REPEATS if (activation, name) == ("relu", "high") else 1
            rows.append([activation, NORMAL_LR if name == "normal" else HIGH_LR,
                         "(not counted)" if dead is None else dead,
                         f"{int(round(runs * result[f'diverged/{activation}_{name}'].sum()))} of "
                         f"{runs * len(ctx.seeds)}"])
    ctx.table(f"Dead hidden units after {DEAD_EPOCHS} epochs (output exactly 0 on every training example)",
              ["activation", "learning rate", "dead fraction", "diverged runs"], rows)

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for ax, names, key in ((axes[0], activations, "test_accuracy/{}"),
                           (axes[1], ("relu_normal", "relu_high", "leaky_relu_normal"),
                            "dead_fraction/{}")):
        for j, name in enumerate(names):
            study.plot_interval(ax, j, result[key.format(name)])
        ax.set_xticks(range(len(names)), names, fontsize=8)
    axes[0].set_ylabel(f"test accuracy after {epochs} epochs")
    axes[1].set_ylabel("fraction of dead hidden units")
    ctx.figure("activations.png", fig, "Left: test accuracy per activation. Right: dead units. Mean with 95% t "
                                       "interval over seeds (grey: one point per seed).")
    return result


STUDY = study.Study(
    name="activations", claim=CLAIM, measure=measure,
    checks=[
        study.Greater("test_accuracy/relu", "test_accuracy/sigmoid",
                      describe="ReLU's test accuracy after the short budget is higher than the sigmoid's"),
        study.Greater("dead_fraction/relu_high", "dead_fraction/relu_normal", margin=0.1,
                      describe=f"ReLU at learning rate {HIGH_LR} has over 0.1 more of its units dead than at {NORMAL_LR}"),
        study.Above("dead_fraction/relu_high", 0.3,
                    describe=f"ReLU at learning rate {HIGH_LR}: over 30% of the hidden units dead"),
        study.Below("dead_fraction/leaky_relu_normal", 1e-3,
                    describe=f"leaky ReLU at {NORMAL_LR} has no dead units (ReLU at that rate has some)"),
    ],
)


def main(args):
    return study.run(STUDY, args)


if __name__ == "__main__":
    import sys

    from kerasreg import cli

    sys.exit(cli.main(["run", "activations", *sys.argv[1:]]))
