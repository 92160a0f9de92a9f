"""Dropout: test-time weight scaling against averaging sampled sub-networks (Monte Carlo).

The lecture: dropout trains many sub-networks (a binary mask mu per example,
keep probability p); at test time we "aggregate over these sub-networks by
reducing connection weights in proportion to the keep probability".  That is
``kerasreg.layers.Dropout(rate, scaling="test")``: no rescaling in training,
outputs multiplied by p at inference.  The exact aggregate would be the
average prediction of all the sub-networks, which Monte Carlo dropout
(``kerasreg.layers.monte_carlo_predict``) estimates by sampling masks.  We
train with classic dropout and compare the weight-scaling rule with the
Monte Carlo average as the number of samples grows.
"""

import matplotlib

matplotlib.use("Agg")
import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import kerasreg  # noqa: E402
from kerasreg import experiment  # noqa: E402

CLAIM = ("Test-time weight scaling matches the average of sampled sub-networks: the Monte Carlo average "
         "approaches it as samples grow, agreeing on over 95% of predictions and within 2 points of accuracy.")


def main(argv=None):
    args = experiment.parse_args("dropout_scaling", CLAIM, argv)
    run = experiment.Run("dropout_scaling", args, CLAIM)
    epochs = args.epochs or (30 if args.quick else 80)
    split = dict(validation_split=0.2, test_split=0.3, seed=args.seed, flatten=True)
    # Training batches from tf.data, shuffled anew each pass; repeated, so that fit
    # keeps one iterator for all the epochs.  Validation in one batch (known length:
    # cheap per epoch); the test split as arrays (the same split) for the predictions.
    train, val, _, info = kerasreg.data.load(args.dataset or "digits", eval_batch_size=512, **split)
    steps_per_epoch, train = len(train), train.repeat()
    _, _, (x_te, y_te), _ = kerasreg.data.load_arrays(args.dataset or "digits", **split)
    keras.utils.set_random_seed(args.seed)
    model = keras.Sequential([
        keras.Input(info.input_shape),
        kerasreg.layers.Dropout(0.2, scaling="test", seed=args.seed),      # inputs: keep 0.8
        keras.layers.Dense(200, activation="relu"),
        kerasreg.layers.Dropout(0.5, scaling="test", seed=args.seed + 1),  # hidden: keep 0.5
        keras.layers.Dense(200, activation="relu"),
        kerasreg.layers.Dropout(0.5, scaling="test", seed=args.seed + 2),
        keras.layers.Dense(info.num_classes, activation="softmax"),
    ])
    # A whole epoch per compiled call (fewer Python round trips); XLA's compile
    # time exceeds what it saves for a network this small.
    model.compile(optimizer=kerasreg.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=False, steps_per_execution=steps_per_epoch)
    model.fit(train, steps_per_epoch=steps_per_epoch, validation_data=val, epochs=epochs, verbose=0,
              callbacks=kerasreg.callbacks.tensorboard_callbacks(run.tensorboard_dir("classic_dropout"),
                                                                 hparams={"scaling": "test"}))
    # Weight scaling: the deterministic network (dropout layers multiply by p),
    # called directly on the test set (one batch, no traced predict function).
    p_ws = np.asarray(model(x_te))
    acc_ws = float(np.mean(np.argmax(p_ws, -1) == y_te))
    samples = [1, 4, 16, 64] if args.quick else [1, 4, 16, 64, 256]
    rows, agree, accs, dist = [], [], [], []
    for t in samples:
        # All t copies of the test set stacked in a few big batches: few eager calls.
        mean, _ = kerasreg.layers.monte_carlo_predict(model, x_te, samples=t, seed=args.seed, batch_size=16384)
        mean = np.asarray(mean)
        agree.append(float(np.mean(np.argmax(mean, -1) == np.argmax(p_ws, -1))))
        accs.append(float(np.mean(np.argmax(mean, -1) == y_te)))
        dist.append(float(np.mean(np.abs(mean - p_ws).sum(-1))))
        rows.append([t, accs[-1], agree[-1], dist[-1]])
    run.metric("accuracy/weight_scaling", acc_ws)
    run.metric("accuracy/monte_carlo", accs)
    run.metric("agreement_with_weight_scaling", agree)
    run.metric("l1_distance_to_weight_scaling", dist)
    run.metric("samples", samples)
    run.check(f"Monte Carlo with {samples[-1]} samples agrees with weight scaling on > 95% of predictions",
              value=agree[-1], threshold=0.95, op=">")
    run.check("their accuracies differ by < 0.02", value=abs(accs[-1] - acc_ws), threshold=0.02, op="<")
    run.check("the Monte Carlo average approaches weight scaling as samples grow (distance shrinks)",
              value=dist[-1], threshold=dist[0], op="<")
    run.table(f"Test set ({len(x_te)} digits); weight scaling accuracy {acc_ws:.4f}",
              ["MC samples", "MC accuracy", "agreement with weight scaling", "mean L1 distance of probabilities"], rows)

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.semilogx(samples, accs, "o-", label="Monte Carlo average")
    ax.axhline(acc_ws, color="k", ls="--", label="weight scaling (p * W)")
    ax.set_xlabel("sampled sub-networks")
    ax.set_ylabel("test accuracy")
    ax.legend()
    run.figure("dropout_scaling.png", fig, "Averaging sampled sub-networks converges to the weight-scaling rule.")
    run.finish()
    return run


if __name__ == "__main__":
    main()
