"""Learning-rate scheduling: the LR finder's rate, and schedules that decay it, against a constant rate.

The lecture's closing slides list "scheduling the learning rate" among the
things to try.  We first run an LR range test (``kerasreg.callbacks.find_learning_rate``:
the rate grows exponentially, one mini-batch per rate, until the loss
diverges) and check that its suggestion is a good constant rate (better than
30x smaller or 30x larger).  Then, at that peak rate, we compare the constant
rate with schedules that decay it — ``StepDecay``, ``OneCycle`` (Smith 2018),
``Cyclical`` triangular2 (Smith 2017) from kerasreg, and Keras' own
``CosineDecay`` (reused, not rewritten) — by the final training loss.

The budget is short on purpose: 8 epochs in both modes.  That is where the
choice of rate matters.  Given many more epochs this network fits every
training example, the loss heads to 0 at any rate that does not diverge, and
the constant rate — the largest steps all along — ends lowest (seed 0, 30
epochs: about 2e-4 against 6e-4 to 1.2e-3 for the schedules).  A long run
would say nothing about schedules.  Full mode is more thorough in another way: it
sweeps seven constant rates around the suggestion (30x smaller to 30x
larger) instead of three.
"""

import matplotlib

matplotlib.use("Agg")
import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

import kerasreg  # noqa: E402
from kerasreg import experiment  # noqa: E402
from kerasreg.optimizers import schedules  # noqa: E402

CLAIM = ("The LR finder's suggestion trains better than rates 30x smaller or larger, and at that peak rate every "
         "decaying schedule (step, one-cycle, cosine, triangular2) ends with a lower training loss than the "
         "constant rate.")


def build(info, seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input(info.input_shape), keras.layers.Dense(100, activation="relu"),
                             keras.layers.Dense(100, activation="relu"), keras.layers.Dense(info.num_classes)])


LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


class OneOf(keras.optimizers.schedules.LearningRateSchedule):
    """The schedule ``schedules[index]``, where ``index`` is a variable.

    A schedule is part of the traced train step, so a model compiled with one
    schedule cannot switch to another.  This one holds all of them and picks
    one by a variable: set ``index`` between fits, and ONE compiled model (one
    trace, about a second) trains with every schedule.  The rate it gives is
    exactly the picked schedule's.
    """

    def __init__(self, schedules):
        self.schedules = list(schedules)
        self.index = keras.Variable(0, dtype="int32", trainable=False, name="schedule_index")

    def __call__(self, step):
        rates = ops.stack([ops.cast(schedule(step), "float32") for schedule in self.schedules])
        return ops.take(rates, self.index)


def compile_model(model, learning_rate, steps_per_epoch):
    # One call from Python per epoch (steps_per_execution): the steps of this small MLP are cheaper
    # than Keras' per-call overhead.  Schedules still advance every step (optimizer.iterations).
    model.compile(optimizer=kerasreg.optimizers.Momentum(learning_rate, momentum=0.9), loss=LOSS,
                  steps_per_execution=steps_per_epoch)


def train(model, data, x, y, epochs, log_dir=None, hparams=None):
    """Fit, then the final training loss on the whole training set (x, y)."""
    callbacks = [kerasreg.callbacks.LearningRateLogger()]
    if log_dir:
        callbacks = kerasreg.callbacks.tensorboard_callbacks(log_dir, hparams=hparams) + callbacks
    hist = model.fit(data, epochs=epochs, verbose=0, callbacks=callbacks)
    loss = float(LOSS(y, model(x)))  # one forward pass; cheaper than evaluate(), which traces a test step
    return (loss if np.isfinite(loss) else np.inf), hist.history


def main(argv=None):
    args = experiment.parse_args("lr_schedules", CLAIM, argv)
    run = experiment.Run("lr_schedules", args, CLAIM)
    epochs = args.epochs or 8  # the short budget the claims are about (see the docstring)
    splits = dict(flatten=True, seed=args.seed, validation_split=0.2, test_split=0.2)
    # Training batches as tf.data (reshuffled every epoch); the same training split as arrays
    # for the LR finder and for the final loss.
    data, _, _, info = kerasreg.data.load(args.dataset or "digits", batch_size=32, **splits)
    (x, y), _, _, _ = kerasreg.data.load_arrays(args.dataset or "digits", **splits)
    steps_per_epoch = int(np.ceil(len(x) / 32))

    # The LR range test and the constant rates share one compiled model: tracing a train step costs
    # about a second, an epoch here milliseconds.  find_learning_rate puts every weight and optimizer
    # variable back when it is done, and `restore` does so before each constant rate.
    model = build(info, args.seed)
    compile_model(model, 1e-3, steps_per_epoch)
    start = experiment.snapshot(model)
    result = kerasreg.callbacks.find_learning_rate(model, x, y, min_lr=1e-5, max_lr=10.0, steps=120)
    lr = float(result.suggestion)
    run.metric("lr_finder/suggestion", lr)
    result.plot(f"{run.dir}/lr_finder.png")
    run.plots.append(("lr_finder.png", "LR range test: smoothed loss against the learning rate, and the suggestion."))

    constant, final, curves = {}, {}, {}
    factors = (1 / 30, 1.0, 30.0) if args.quick else (1 / 30, 1 / 10, 1 / 3, 1.0, 3.0, 10.0, 30.0)
    for factor in factors:
        experiment.restore(model, start, learning_rate=lr * factor)
        # The suggested rate itself is the "constant" schedule compared below: log that run to TensorBoard.
        log = {}
        if factor == 1.0:
            log = dict(log_dir=run.tensorboard_dir("constant"), hparams={"schedule": "constant", "peak_lr": lr})
        constant[factor], history = train(model, data, x, y, epochs, **log)
        run.metric(f"constant/x{factor:.3g}", constant[factor])
        if factor == 1.0:
            final["constant"], curves["constant"] = constant[factor], history
    run.check("the suggestion beats a 30x smaller rate", value=constant[1.0], threshold=constant[1 / 30], op="<")
    run.check("the suggestion beats a 30x larger rate", value=constant[1.0], threshold=constant[30.0], op="<")

    steps = epochs * steps_per_epoch
    schedules_at_peak = {
        "step_decay": schedules.StepDecay(lr, drop=0.3, step_size=max(1, steps // 3)),
        "one_cycle": schedules.OneCycle(lr, total_steps=steps),
        "cosine": keras.optimizers.schedules.CosineDecay(lr, decay_steps=steps),
        "triangular2": schedules.Cyclical(lr / 10, lr, step_size=max(1, steps // 4), mode="triangular2"),
    }
    run.metric("final_train_loss/constant", final["constant"])
    schedule = OneOf(schedules_at_peak.values())
    model = build(info, args.seed)
    compile_model(model, schedule, steps_per_epoch)
    start = experiment.snapshot(model)
    for i, name in enumerate(schedules_at_peak):
        experiment.restore(model, start)
        schedule.index.assign(i)
        final[name], curves[name] = train(model, data, x, y, epochs,
                                          log_dir=run.tensorboard_dir(name), hparams={"schedule": name, "peak_lr": lr})
        run.metric(f"final_train_loss/{name}", final[name])
    for name in schedules_at_peak:
        run.check(f"{name} ends below the constant rate", value=final[name], threshold=final["constant"], op="<")
    run.table(f"Final training loss after {epochs} epochs at peak rate {lr:.3g}", ["schedule", "loss"],
              [[k, v] for k, v in final.items()])
    run.table(f"Final training loss after {epochs} epochs at constant rates around the suggestion {lr:.3g}",
              ["rate / suggestion", "rate", "loss"], [[f"{f:.3g}", lr * f, v] for f, v in constant.items()])

    fig, axes = plt.subplots(1, 3, figsize=(17, 4))
    rates = [lr * f for f in constant]
    axes[2].loglog(rates, [min(v, 10.0) for v in constant.values()], "o-")
    axes[2].axvline(lr, color="r", ls="--", label=f"LR finder's suggestion {lr:.3g}")
    axes[2].set_xlabel("constant learning rate")
    axes[2].set_ylabel(f"training loss after {epochs} epochs (capped at 10)")
    axes[2].legend()
    for name, hist in curves.items():
        axes[0].semilogy(hist["loss"], label=name)
        axes[1].plot(hist["learning_rate"], label=name)
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("training loss")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("learning rate at epoch end (LearningRateLogger)")
    axes[0].legend()
    run.figure("schedules.png", fig, "Loss and learning rate per schedule; final loss against a constant rate.")
    run.finish()
    return run


if __name__ == "__main__":
    main()
