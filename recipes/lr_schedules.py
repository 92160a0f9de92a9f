"""Learning-rate scheduling: the LR finder's rate, and schedules that decay it, against a constant rate.

The lecture's closing slides list "scheduling the learning rate" among the
things to try.  We first run an LR range test (``kerasreg.callbacks.find_learning_rate``:
the rate grows exponentially, one mini-batch per rate, until the loss
diverges) and check that its suggestion is a good constant rate (better than
30x smaller or 30x larger).  Then, at that peak rate, we compare the constant
rate with schedules that decay it — ``StepDecay``, ``OneCycle`` (Smith 2018),
``Cyclical`` triangular2 (Smith 2017) from kerasreg, and Keras' own
``CosineDecay`` (reused, not rewritten) — by the final training loss.
"""

import matplotlib

matplotlib.use("Agg")
import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

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


def train(info, seed, learning_rate, x, y, epochs, log_dir=None, hparams=None):
    model = build(info, seed)
    model.compile(optimizer=kerasreg.optimizers.Momentum(learning_rate, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
    callbacks = [kerasreg.callbacks.LearningRateLogger()]
    if log_dir:
        callbacks = kerasreg.callbacks.tensorboard_callbacks(log_dir, hparams=hparams) + callbacks
    hist = model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, callbacks=callbacks)
    loss = model.evaluate(x, y, batch_size=512, verbose=0)
    return (loss if np.isfinite(loss) else np.inf), hist.history


def main(argv=None):
    args = experiment.parse_args("lr_schedules", CLAIM, argv)
    run = experiment.Run("lr_schedules", args, CLAIM)
    epochs = args.epochs or (8 if args.quick else 30)
    (x, y), _, _, info = kerasreg.data.load_arrays(args.dataset or "digits", flatten=True, seed=args.seed,
                                                   validation_split=0.2, test_split=0.2)
    finder_model = build(info, args.seed)
    finder_model.compile(optimizer=kerasreg.optimizers.Momentum(1e-3, momentum=0.9),
                         loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    result = kerasreg.callbacks.find_learning_rate(finder_model, x, y, min_lr=1e-5, max_lr=10.0, steps=120)
    lr = float(result.suggestion)
    run.metric("lr_finder/suggestion", lr)
    result.plot(f"{run.dir}/lr_finder.png")
    run.plots.append(("lr_finder.png", "LR range test: smoothed loss against the learning rate, and the suggestion."))

    constant = {}
    for factor in (1 / 30, 1.0, 30.0):
        constant[factor], _ = train(info, args.seed, lr * factor, x, y, epochs)
        run.metric(f"constant/x{factor:.3g}", constant[factor])
    run.check("the suggestion beats a 30x smaller rate", value=constant[1.0], threshold=constant[1 / 30], op="<")
    run.check("the suggestion beats a 30x larger rate", value=constant[1.0], threshold=constant[30.0], op="<")

    steps = epochs * int(np.ceil(len(x) / 32))
    variants = {
        "constant": lr,
        "step_decay": schedules.StepDecay(lr, drop=0.3, step_size=max(1, steps // 3)),
        "one_cycle": schedules.OneCycle(lr, total_steps=steps),
        "cosine": keras.optimizers.schedules.CosineDecay(lr, decay_steps=steps),
        "triangular2": schedules.Cyclical(lr / 10, lr, step_size=max(1, steps // 4), mode="triangular2"),
    }
    final, curves = {}, {}
    for name, schedule in variants.items():
        final[name], curves[name] = train(info, args.seed, schedule, x, y, epochs,
                                          log_dir=run.tensorboard_dir(name), hparams={"schedule": name, "peak_lr": lr})
        run.metric(f"final_train_loss/{name}", final[name])
    for name in variants:
        if name != "constant":
            run.check(f"{name} ends below the constant rate", value=final[name], threshold=final["constant"], op="<")
    run.table(f"Final training loss after {epochs} epochs at peak rate {lr:.3g}", ["schedule", "loss"],
              [[k, v] for k, v in final.items()])

    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for name, hist in curves.items():
        axes[0].semilogy(hist["loss"], label=name)
        axes[1].plot(hist["learning_rate"], label=name)
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("training loss")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("learning rate at epoch end (LearningRateLogger)")
    axes[0].legend()
    run.figure("schedules.png", fig, "Loss and learning rate per schedule.")
    run.finish()
    return run


if __name__ == "__main__":
    main()
