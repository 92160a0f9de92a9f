"""Activation functions compared on the same deep MLP, and dead ReLU units after training at a high learning rate.

The lecture ends with "experimenting with activation functions".  We train
the same deep MLP on the embedded digits with ReLU, leaky ReLU, ELU, GELU,
tanh and the sigmoid (same initialization, optimizer, learning rate and
budget) and count the epochs each needs to reach a target validation
accuracy: the sigmoid's small derivative (at most 1/4 per layer) makes its
deep network learn slowest.

A ReLU unit whose pre-activation is negative for every input outputs 0 and
gets no gradient: it is dead for good.  A large step can push units there.
We train the ReLU network with plain SGD at a normal and at a high learning
rate, and a leaky ReLU network (Keras' ``leaky_relu``: slope 0.2 for
negative inputs, so it never outputs exactly 0) at the same rates, and count with
``kerasreg.callbacks.ActivationMonitor`` the fraction of hidden units that
output zero for every training example.
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
NORMAL_LR, HIGH_LR = 0.03, 1.0  # plain SGD, for the dead units


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
                  metrics=["accuracy"], jit_compile=True, steps_per_execution=8)


def epochs_to(curve, target):
    reached = np.flatnonzero(np.nan_to_num(np.asarray(curve)) >= target)
    return int(reached[0]) + 1 if reached.size else math.inf


def main(argv=None):
    args = experiment.parse_args("activations", CLAIM, argv)
    run = experiment.Run("activations", args, CLAIM)
    epochs = args.epochs or (15 if args.quick else 50)
    dead_epochs = 3 if args.quick else 10
    (x_tr, y_tr), (x_val, y_val), _, info = kerasreg.data.load_arrays(
        "digits", flatten=True, normalize=True, seed=args.seed)
    hidden = [f"hidden_{i + 1}" for i in range(DEPTH)]

    # 1. Speed of learning per activation: same model, optimizer, learning rate.
    curves, reached = {}, {}
    for name in ACTIVATIONS:
        model = build_mlp(name, x_tr.shape[1], info.num_classes, args.seed)
        compile_model(model, kerasreg.optimizers.Momentum(0.03, momentum=0.9))
        callbacks = kerasreg.callbacks.tensorboard_callbacks(
            run.tensorboard_dir(name), hparams={"activation": name, "learning_rate": 0.03})
        callbacks.append(StopAtTarget())
        hist = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), batch_size=32, epochs=epochs,
                         verbose=args.verbose, callbacks=callbacks)
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
              f"{DEPTH}x{WIDTH} MLP, SGD with momentum 0.9, learning rate 0.03",
              ["activation", "epochs to target", "last val accuracy (runs stop at the target)"],
              [[n, reached[n], curves[n][-1]] for n in ACTIVATIONS])

    # 2. Dead units: the fraction of hidden units that output 0 on every training example.
    dead = {}
    for variant, name, lr in (("relu_normal_lr", "relu", NORMAL_LR), ("relu_high_lr", "relu", HIGH_LR),
                              ("leaky_relu_normal_lr", "leaky_relu", NORMAL_LR),
                              ("leaky_relu_high_lr", "leaky_relu", HIGH_LR)):
        model = build_mlp(name, x_tr.shape[1], info.num_classes, args.seed)
        compile_model(model, kerasreg.optimizers.SGD(lr))
        monitor = kerasreg.callbacks.ActivationMonitor(x_tr, layers=hidden, histograms=False)
        callbacks = kerasreg.callbacks.tensorboard_callbacks(
            run.tensorboard_dir(variant), monitors=[monitor], hparams={"activation": name, "learning_rate": lr})
        hist = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), batch_size=32, epochs=dead_epochs,
                         verbose=args.verbose, callbacks=callbacks)
        fractions = np.array(hist.history["activation_dead_fraction"])
        per_layer = monitor.compute()
        dead[variant] = dict(curve=fractions, final=float(fractions[-1]),
                             per_layer=[per_layer[n]["dead_fraction"] for n in hidden],
                             val_acc=float(hist.history["val_accuracy"][-1]), lr=lr,
                             loss=float(hist.history["loss"][-1]))
        run.metric(f"dead_fraction/{variant}", dead[variant]["final"])
        run.metric(f"dead_fraction_per_layer/{variant}", dead[variant]["per_layer"])
        print(f"  {variant:<19} dead units {dead[variant]['final']:.3f}  val acc {dead[variant]['val_acc']:.3f}")
    high, normal = dead["relu_high_lr"]["final"], dead["relu_normal_lr"]["final"]
    run.check(f"ReLU at learning rate {HIGH_LR}: dead fraction > 0.15", value=high, threshold=0.15, op=">")
    run.check(f"ReLU at {HIGH_LR}: dead fraction > 3x (that at {NORMAL_LR}) + 0.05",
              value=high, threshold=3 * normal + 0.05, op=">")
    run.check(f"leaky ReLU at {NORMAL_LR}: no dead units", value=dead["leaky_relu_normal_lr"]["final"],
              threshold=0.0, op="<=")
    run.note(f"Leaky ReLU at {HIGH_LR} cannot die, but on this network the step is too large for it: its "
             f"final training loss is {dead['leaky_relu_high_lr']['loss']:.4g} (nan: diverged; a NaN output "
             "is not 0, so its dead fraction says nothing then).  ReLU survives that rate only by switching "
             "units off.")
    run.table(f"Dead hidden units after {dead_epochs} epochs (output 0 on every training example)",
              ["variant", "learning rate (SGD)", "dead fraction", *hidden, "train loss", "val accuracy"],
              [[v, d["lr"], d["final"], *d["per_layer"], d["loss"], d["val_acc"]] for v, d in dead.items()])

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
    axes[1].set_title(f"Dead units after {dead_epochs} epochs")
    axes[1].legend(fontsize=8)
    run.figure("activations.png", fig,
               "Left: validation accuracy per epoch for each activation. Right: fraction of units that output 0 "
               "for every training example, per hidden layer.")
    run.finish()
    return run


if __name__ == "__main__":
    main()
