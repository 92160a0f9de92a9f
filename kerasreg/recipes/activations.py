"""Activation functions compared on the same deep MLP, and dead ReLU units after training at a high learning rate.

The lecture ends with "experimenting with activation functions".  We train
the same deep MLP on the embedded digits with ReLU, leaky ReLU, ELU, GELU,
tanh and the sigmoid (same initialization, optimizer, learning rate and
budget) and count the epochs each needs to reach a target validation
accuracy: the sigmoid's small derivative (at most 1/4 per layer) makes its
deep network learn slowest.

A ReLU unit whose pre-activation is negative for every input outputs 0 and
gets no gradient: it is dead for good.  A large step can push units there.
We train the ReLU network at the normal learning rate of the comparison and at
a high one, and a leaky ReLU network (Keras' ``leaky_relu``: slope 0.2 for
negative inputs, so it never outputs exactly 0) at the same rates, and count
with ``kerasreg.callbacks.ActivationMonitor`` the fraction of hidden units
that output zero for every training example after a few epochs.  How many
units one ReLU run loses depends on its few largest steps, so we average over
several runs, which start from the same initial weights and see the training
set in different orders (a run whose loss becomes NaN has diverged: its NaN
outputs are not zeros, and it is left out of the average); a leaky ReLU unit
cannot output 0 at all, one run per rate shows it.

The optimizer is plain SGD throughout, so the dead-unit runs restart the
ReLU and leaky ReLU networks of the comparison from their initial weights
(``kerasreg.experiment.snapshot`` / ``restore``) instead of building and
tracing new models.
"""

import math

import matplotlib

matplotlib.use("Agg")
import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import kerasreg  # noqa: E402
from kerasreg import experiment  # noqa: E402

CLAIM = ("On the same deep MLP the sigmoid needs more epochs than ReLU to reach the target validation "
         "accuracy, and training ReLU at a high learning rate leaves many more dead units than at a normal "
         "rate, while leaky ReLU has none.")

DEPTH, WIDTH = 6, 64
TARGET = 0.9
ACTIVATIONS = ["relu", "leaky_relu", "elu", "gelu", "tanh", "sigmoid"]
NORMAL_LR, HIGH_LR = 0.3, 1.0  # plain SGD: the comparison's rate, and a rate too high for ReLU


def build_mlp(name, input_dim, num_classes, seed):
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((input_dim,))]
    for i in range(DEPTH):
        layers.append(keras.layers.Dense(WIDTH, activation=name, name=f"hidden_{i + 1}"))
    layers.append(keras.layers.Dense(num_classes, name="logits"))
    return keras.Sequential(layers)


class StopAtTarget(keras.callbacks.Callback):
    """Stop once validation accuracy reaches the target (the count is all we need)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs and logs.get("val_accuracy", 0.0) >= TARGET:
            self.model.stop_training = True


def compile_model(model, optimizer):
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  # A small MLP trained for a few hundred steps: XLA's compile time would exceed its gain.
                  metrics=["accuracy"], jit_compile=False, steps_per_execution=8)


def epochs_to(curve, target):
    reached = np.flatnonzero(np.nan_to_num(np.asarray(curve)) >= target)
    return int(reached[0]) + 1 if reached.size else math.inf


def main(argv=None):
    args = experiment.parse_args("activations", CLAIM, argv)
    run = experiment.Run("activations", args, CLAIM)
    epochs = args.epochs or (10 if args.quick else 20)
    dead_epochs = 3  # the big steps that kill units come early
    repeats = 3 if args.quick else 4  # ReLU runs averaged per learning rate
    (x_tr, _), _, _, info = kerasreg.data.load_arrays("digits", flatten=True, normalize=True, seed=args.seed)
    # The same splits as tf.data, validation in one big batch: cheaper per epoch than numpy validation_data.
    train, val, _, _ = kerasreg.data.load("digits", flatten=True, normalize=True, seed=args.seed,
                                         batch_size=32, eval_batch_size=512)
    input_dim, hidden = x_tr.shape[1], [f"hidden_{i + 1}" for i in range(DEPTH)]

    # 1. Speed of learning per activation: same model, optimizer, learning rate.
    curves, reached, models = {}, {}, {}
    for name in ACTIVATIONS:
        model = build_mlp(name, input_dim, info.num_classes, args.seed)
        compile_model(model, kerasreg.optimizers.SGD(NORMAL_LR))
        models[name] = (model, experiment.snapshot(model))  # part 2 restarts it from here
        callbacks = kerasreg.callbacks.tensorboard_callbacks(
            run.tensorboard_dir(name), hparams={"activation": name, "learning_rate": NORMAL_LR})
        callbacks.append(StopAtTarget())
        hist = model.fit(train, validation_data=val, epochs=epochs, verbose=args.verbose, callbacks=callbacks)
        curves[name] = hist.history["val_accuracy"]
        reached[name] = epochs_to(curves[name], TARGET)
        run.metric(f"epochs_to_target/{name}", reached[name])
        run.metric(f"final_val_accuracy/{name}", curves[name][-1])
        print(f"  {name:<11} epochs to {TARGET}: {reached[name]}  final val acc {curves[name][-1]:.3f}")
    never = epochs + 1
    run.check(f"ReLU reaches validation accuracy {TARGET}", value=reached["relu"], threshold=epochs, op="<=")
    run.check("the sigmoid needs more epochs than ReLU (never: budget + 1)",
              value=min(reached["sigmoid"], never), threshold=reached["relu"], op=">")
    run.table(f"Epochs to validation accuracy {TARGET} (budget {epochs}; inf = never); "
              f"{DEPTH}x{WIDTH} MLP, plain SGD, learning rate {NORMAL_LR}",
              ["activation", "epochs to target", "last val accuracy (runs stop at the target)"],
              [[n, reached[n], curves[n][-1]] for n in ACTIVATIONS])

    # 2. Dead units: the fraction of hidden units that output 0 on every training example.
    dead = {}
    for variant, name, lr, n_runs in (("relu_normal_lr", "relu", NORMAL_LR, repeats),
                                      ("relu_high_lr", "relu", HIGH_LR, repeats),
                                      ("leaky_relu_normal_lr", "leaky_relu", NORMAL_LR, 1),
                                      ("leaky_relu_high_lr", "leaky_relu", HIGH_LR, 1)):
        model, start = models[name]
        runs = []
        for r in range(n_runs):  # same initial weights; each fit reshuffles the training set anew
            experiment.restore(model, start, learning_rate=lr)
            # One check after the last epoch: the dead fraction is all we need (each check costs an epoch's time).
            monitor = kerasreg.callbacks.ActivationMonitor(x_tr, every_n_epochs=dead_epochs, layers=hidden,
                                                           histograms=False)
            callbacks = kerasreg.callbacks.tensorboard_callbacks(
                run.tensorboard_dir(f"{variant}_run{r + 1}"), monitors=[monitor],
                hparams={"activation": name, "learning_rate": lr, "run": r + 1})
            callbacks.append(keras.callbacks.TerminateOnNaN())  # a diverged run has nothing more to show
            # The validation accuracy is only reported after the last epoch.
            hist = model.fit(train, validation_data=val, validation_freq=dead_epochs, epochs=dead_epochs,
                             verbose=args.verbose, callbacks=callbacks)
            if not np.isfinite(hist.history["loss"][-1]):
                runs.append(dict(diverged=True))
                continue
            last = monitor.history[-1]
            runs.append(dict(diverged=False, final=hist.history["activation_dead_fraction"][-1],
                                per_layer=[last[f"activations/{n}/dead_fraction"] for n in hidden],
                                loss=hist.history["loss"][-1], val_acc=hist.history["val_accuracy"][-1]))
        ok = [r for r in runs if not r["diverged"]]  # NaN outputs are not zeros: nothing to count

        def mean(key):
            return np.mean([r[key] for r in ok], axis=0) if ok else np.nan

        dead[variant] = dict(lr=lr, runs=len(runs), diverged=len(runs) - len(ok), final=float(mean("final")),
                             worst=max((r["final"] for r in ok), default=math.nan),
                             per_layer=mean("per_layer") if ok else np.full(DEPTH, np.nan),
                             loss=float(mean("loss")), val_acc=float(mean("val_acc")))
        run.metric(f"dead_fraction/{variant}", dead[variant]["final"])
        run.metric(f"dead_fraction_per_run/{variant}", [r["final"] if not r["diverged"] else math.nan for r in runs])
        run.metric(f"dead_fraction_per_layer/{variant}", dead[variant]["per_layer"])
        run.metric(f"diverged_runs/{variant}", dead[variant]["diverged"])
        print(f"  {variant:<20} dead units {dead[variant]['final']:.3f} (mean of {len(ok)} finite runs of "
              f"{len(runs)})  val acc {dead[variant]['val_acc']:.3f}")
    high, normal = dead["relu_high_lr"]["final"], dead["relu_normal_lr"]["final"]
    run.check(f"ReLU at learning rate {HIGH_LR}: mean dead fraction > 0.15", value=high, threshold=0.15, op=">")
    run.check(f"ReLU at {HIGH_LR}: mean dead fraction > 3x (that at {NORMAL_LR}) + 0.05",
              value=high, threshold=3 * normal + 0.05, op=">")
    run.check(f"leaky ReLU at {NORMAL_LR}: no dead units", value=dead["leaky_relu_normal_lr"]["worst"],
              threshold=0.0, op="<=")
    leaky_high = dead["leaky_relu_high_lr"]
    run.note(f"Leaky ReLU at {HIGH_LR} cannot die, but on this network the step may be too large for it: "
             f"{leaky_high['diverged']} of its {leaky_high['runs']} runs diverged (NaN loss; a NaN output is not 0, "
             "so a dead fraction says nothing then).  ReLU survives that rate only by switching units off.")
    run.table(f"Dead hidden units after {dead_epochs} epochs (output 0 on every training example): mean over the "
              "runs that did not diverge",
              ["variant", "learning rate (SGD)", "runs", "diverged", "dead fraction", *hidden, "train loss",
               "val accuracy"],
              [[v, d["lr"], d["runs"], d["diverged"], d["final"], *d["per_layer"], d["loss"], d["val_acc"]]
               for v, d in dead.items()])

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.4))
    for name in ACTIVATIONS:
        axes[0].plot(np.arange(1, len(curves[name]) + 1), curves[name], label=name)
    axes[0].axhline(TARGET, color="grey", ls="--")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("validation accuracy")
    axes[0].set_title(f"{DEPTH}x{WIDTH} MLP, same optimizer and learning rate")
    axes[0].legend(fontsize=8)
    x = np.arange(DEPTH)
    for k, (variant, d) in enumerate(dead.items()):
        axes[1].bar(x + (k - 1.5) * 0.2, d["per_layer"], width=0.2, label=f"{variant} ({d['final']:.2f} overall)")
    axes[1].set_xticks(x, hidden, fontsize=8)
    axes[1].set_ylabel("fraction of dead units")
    axes[1].set_title(f"Dead units after {dead_epochs} epochs (ReLU: mean over {repeats} runs)")
    axes[1].legend(fontsize=8)
    run.figure("activations.png", fig,
               "Left: validation accuracy per epoch for each activation. Right: fraction of units that output 0 "
               "for every training example, per hidden layer.")
    run.finish()
    return run


if __name__ == "__main__":
    main()
