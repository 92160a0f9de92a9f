"""The flagship: a 5x100 MLP overfits 160 digits; each regularizer of the lecture, at a strength chosen on validation, lowers its test cross-entropy.

The lecture: "Fitting a deep neural network with 5 layers and 100 neurons per
layer can lead to a very good prediction on the training set but poor
prediction on validation set."  We train exactly that MLP, and then each
regularizer of the lecture -- L2 and L1 penalties, a norm constraint, dropout,
early stopping, data augmentation, weight noise and label noise -- and ask one
question of each: at the strength validation picks, is the test cross-entropy
lower than the unregularized network's?

Why this set-up shows the effect.  The training set is small (160 digits, 16
a class) and the network large (about 47,000 weights), so it memorizes the
training set within a few passes (training accuracy 1.0).  Trained on past
that point, cross-entropy keeps pushing the logits apart: Adam, at a high
rate (1e-2, cosine-decayed to 0 so the final weights are settled rather than
caught mid-oscillation), grows the weights steadily, and the few test digits
it gets wrong it gets wrong with near certainty.  Test cross-entropy then ends well
above its lowest point during training, although test accuracy barely
moves.  That overconfidence is what the lecture's regularizers act on:
penalties and the norm constraint bound the weights, dropout and noise make
certainty expensive, label noise makes it wrong, augmentation makes the
training set harder to memorize, early stopping ends training before it.
So the effects are large compared with the seed-to-seed spread; test accuracy
is reported beside, but the claim is on cross-entropy, where the lecture's
overfitting shows.

The design, per base seed ``--seed``:

* Splits: 600 test and 400 validation digits, and 160 training digits from
  the rest, stratified by class, drawn once from the base seed and shared by
  all seeds (all copies train in one program on one training set).
* Seeds (10 quick, 20 full, derived from the base seed) vary the initial
  weights, the data order, the dropout / noise / shift draws and the label
  flips.  For a given seed every variant starts from the same weights and
  sees the same order: the comparisons are paired.
* The baseline is trained ``BASELINE_RUNS`` (4) times per seed: run 1 on the
  seed itself (paired with every variant as above), runs 2-4 on seeds
  derived from it; its numbers for the seed are the mean of the 4.  Why:
  the baseline's final test cross-entropy is what varies most between runs
  (a few confidently wrong digits dominate it; the regularized networks
  vary far less), and pairing does not tame it (training this long is
  chaotic: two runs from the same weights end far apart).  The mean of 4
  runs halves its spread and narrows every paired interval (development at
  5 passes per epoch, base seeds 557, 2718, 9001, 479, 10 seeds: the
  t-ratio of the norm
  constraint rose from 0.8-1.7 to 1.4-4.6, of weight noise from 0.7-1.9 to
  2.1-3.7).  The comparison stays a per-seed difference, regularized run
  minus the mean of the seed's baseline runs, with a t interval over seeds.
* Training: ``EPOCHS`` passes (100 quick, 150 full) over the training set in
  batches of 32; each of ``kerasreg.stacked``'s epochs is ``PASSES`` (10)
  passes (the training set is repeated, shuffled as a whole), so validation
  is read every ``PASSES`` passes.
* Selection on validation cross-entropy, per seed, from ``GRIDS`` below (the
  lecture's own dropout, keep 0.8 of inputs and 0.5 of hidden units, is in
  its grid; quick mode, ``make demo``, uses ``QUICK_GRIDS``, without the
  points validation picked on at most one seed of ten in development); early stopping picks the pass with the lowest validation
  cross-entropy (the lecture: "training time can be treated as a
  hyperparameter"; each baseline run stops at its own).  Test is read only
  for the selected choice; the report also shows every grid point's test
  numbers.
* Label noise: each of the ``PASSES`` repeats of a training example gets its
  own flip (to a uniformly chosen other class, with probability epsilon),
  drawn once per seed, so the network sees each digit with a mixture of
  labels, as with noise drawn afresh.
* Augmentation: random shifts of the 8x8 image by up to ``s`` pixels in each
  direction (bilinear, zero fill; "crop-and-pan"), drawn afresh per example
  and step.

Where the effect is weak.  The per-unit norm constraint (each unit's incoming
weights in an L2 ball, as Keras' ``MaxNorm``) bounds each unit but not the
network's logits: five stacked layers can still scale them up.  Early
stopping gains less because the cosine schedule's early, high-rate passes
are noisy, and weight noise helps only at the edge of where the network
still trains (sigma 0.15: it no longer does).  With one baseline run per
seed these three missed significance at some base seeds (10 seeds: norm
constraint -0.03 ± 0.09 at 557, weight noise -0.13 ± 0.13 at 9001); with
the mean of 4 baseline runs they held at every base seed tried, including
five not looked at before (1009, 4242, 27182, 31337, 65537), the smallest
being early stopping -0.059 ± 0.028 and the norm constraint -0.114 ± 0.065
(at 31337 and 2718).  A whole-tensor ball (``L2Ball(K)``, the lecture's
``Omega(W) <= K``) did worse in development (K = 4, 6, 8: no gain or a
loss).
"""

import keras
import numpy as np

import kerasreg
from kerasreg import stacked, study

SUPPORTS = ("epochs",)

CLAIM = ("A 5x100 MLP trained long on 160 digits overfits (training accuracy 1, test cross-entropy far above "
         "training); each regularizer of the lecture, at the strength chosen on validation, lowers test cross-entropy.")

HIDDEN, WIDTH = 5, 100
N_TRAIN, N_VALIDATION, N_TEST = 160, 400, 600
EPOCHS = (100, 150)  # passes over the training set, quick / full
PASSES = 10  # passes per stacked epoch: validation is read every PASSES passes
LEARNING_RATE = 1e-2  # Adam, cosine-decayed to 0 over the run
BATCH = 32
BASELINE_RUNS = 4  # the baseline is trained this many times per seed; its numbers are their mean

# Strength grids, selected per seed on validation cross-entropy.  The lecture's values: dropout
# keeps 0.8 of the inputs and 0.5 of the hidden units, i.e. rates (0.2, 0.5).
GRIDS = {
    "l2": (3e-4, 1e-3, 3e-3),                 # alpha of alpha/2 ||W||^2
    "l1": (1e-4, 3e-4, 1e-3),                 # alpha of alpha ||W||_1
    "norm_constraint": (0.7, 1.0, 1.4),       # max ||w||_2 of each unit's incoming weights
    "dropout": ((0.1, 0.1), (0.2, 0.2), (0.2, 0.5)),  # (input rate, hidden rate); (0.2, 0.5) is the lecture's
    "augmentation": (0.5, 1.0),               # largest shift, pixels
    "weight_noise": (0.03, 0.05, 0.1),        # sigma (0.15 and more: the network no longer trains)
    "label_noise": (0.05, 0.1, 0.2),          # epsilon
}
LECTURE = {"dropout": (0.2, 0.5)}
# Quick mode (make demo) leaves out the grid points that validation picked on at most 1 of 10 seeds in
# development (base seed 0, 100 passes): fewer copies to train, the strengths validation picks kept.
QUICK_GRIDS = {
    "l2": (1e-3, 3e-3),
    "l1": (3e-4, 1e-3),
    "norm_constraint": (1.0, 1.4),
    "dropout": GRIDS["dropout"],
    "augmentation": GRIDS["augmentation"],
    "weight_noise": (0.05, 0.1),
    "label_noise": (0.05, 0.1),
}
VARIANTS = ("baseline", "l2", "l1", "norm_constraint", "dropout", "early_stopping", "augmentation", "weight_noise",
            "label_noise")


def build_mlp(copy):
    """The lecture's 5-layer, 100-unit ReLU MLP with ``copy``'s regularizer (a model for ``stacked.fit``)."""
    variant, strength, seed = copy["variant"], copy.get("strength"), copy["seed"]
    constraint = kerasreg.constraints.L2Ball(max_norm=strength, axis=0) if variant == "norm_constraint" else None
    layers = [keras.Input((64,))]
    if variant == "augmentation":
        layers.append(kerasreg.augment.RandomShift(strength, (8, 8), seed=seed))
    if variant == "dropout":
        layers.append(kerasreg.layers.Dropout(strength[0], seed=seed))
    for i in range(HIDDEN):  # named layers: the same TensorBoard tags in every variant and run
        name = f"hidden_{i + 1}"
        if variant == "weight_noise":  # the wrapper carries the layer's name (its tags match the other variants')
            dense = kerasreg.layers.WeightNoise(keras.layers.Dense(WIDTH, activation="relu", name=f"{name}_dense"),
                                                stddev=strength, seed=seed + 1 + i, name=name)
        else:
            dense = keras.layers.Dense(WIDTH, activation="relu", kernel_constraint=constraint, name=name)
        layers.append(dense)
        if variant == "dropout":
            layers.append(kerasreg.layers.Dropout(strength[1], seed=seed + 1 + i))
    layers.append(keras.layers.Dense(10, kernel_constraint=constraint, name="output"))
    model = keras.Sequential(layers, name="mlp")
    if variant == "l2":
        model = kerasreg.regularizers.add_penalties(model, kernel=kerasreg.regularizers.L2(strength))
    elif variant == "l1":
        model = kerasreg.regularizers.add_penalties(model, kernel=kerasreg.regularizers.L1(strength))
    return model


def noisy_labels(y, epsilon, seed):
    """``PASSES`` repeats of ``y``, each label flipped with probability ``epsilon`` to another class."""
    rng = np.random.default_rng([seed, 1])
    y = np.tile(y, PASSES)
    flip = rng.random(len(y)) < epsilon
    return np.where(flip, (y + rng.integers(1, 10, len(y))) % 10, y).astype(y.dtype)


def optimizer(copy, steps):
    schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, decay_steps=steps)
    return kerasreg.optimizers.Adam(schedule)


def measure(ctx):
    passes = ctx.epochs(*EPOCHS)
    epochs = max(1, round(passes / PASSES))
    passes = epochs * PASSES
    data = ctx.split("digits", n_train=N_TRAIN, validation=N_VALIDATION, test=N_TEST, flatten=True)
    (x, y), validation, test = data.train, data.validation, data.test
    for name, value in (("training / validation / test digits", f"{N_TRAIN} / {N_VALIDATION} / {N_TEST}"),
                        ("network", f"{HIDDEN}x{WIDTH} ReLU MLP"), ("passes", passes),
                        ("baseline runs per seed (its numbers: their mean)", BASELINE_RUNS),
                        ("optimizer", f"Adam, learning rate {LEARNING_RATE:g} cosine-decayed to 0, batch {BATCH}")):
        ctx.setting(name, value)

    # Run 0 of the baseline is the seed's own (paired with every variant); the other runs' seeds derive from it.
    run_seeds = [[s, *study.derive_seeds(s, BASELINE_RUNS)[1:]] for s in ctx.seeds]
    copies = [{"seed": seeds[r], "variant": "baseline", "run": r} for r in range(BASELINE_RUNS) for seeds in run_seeds]
    grids = QUICK_GRIDS if ctx.quick else GRIDS
    copies += [{"seed": s, "variant": v, "strength": g} for v, grid in grids.items() for g in grid for s in ctx.seeds]
    labels = [noisy_labels(y, c["strength"], c["seed"]) if c["variant"] == "label_noise" else np.tile(y, PASSES)
              for c in copies]
    steps = epochs * int(np.ceil(len(x) * PASSES / BATCH))
    result = stacked.fit(
        build_mlp, lambda copy: optimizer(copy, steps), copies, np.tile(x, (PASSES, 1)), labels,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
        epochs=epochs, batch_size=BATCH, validation_data=validation, eval_sets={"test": test, "train": (x, y)},
        gradient_norms=True)
    h = result.history
    index = {}
    for i, c in enumerate(copies):  # (variant, strength), or ("baseline", run): copy indices in ctx.seeds order
        index.setdefault((c["variant"], c["strength"] if "strength" in c else c["run"]), []).append(i)
    runs = np.array([index[("baseline", r)] for r in range(BASELINE_RUNS)]).T  # (seeds, runs)

    def final(name, variant, strength=None):
        if variant == "baseline":  # the mean of the seed's baseline runs
            return h[name][runs, -1].mean(axis=1)
        return h[name][index[(variant, strength)], -1]

    out = {}
    base = index[("baseline", 0)]
    out["train_accuracy/baseline"] = final("train_accuracy", "baseline")
    out["train_loss/baseline"] = final("train_loss", "baseline")
    rows = [[f"baseline (mean of {BASELINE_RUNS} runs)", "-", "-", final("val_loss", "baseline"),
             final("test_loss", "baseline"), final("test_accuracy", "baseline")]]
    for variant in VARIANTS[1:]:
        if variant == "early_stopping":  # each baseline run stopped at its own lowest validation point
            grid = list(range(PASSES, passes + 1, PASSES))
            stops = [ctx.select(variant if r == 0 else f"{variant} (baseline run {r + 1})", grid,
                                h["val_loss"][runs[:, r]]) for r in range(BASELINE_RUNS)]
            take = lambda name: np.mean([h[name][runs[:, r], k] for r, k in enumerate(stops)], axis=0)  # noqa: E731
        else:
            grid = list(grids[variant])
            val = np.stack([final("val_loss", variant, g) for g in grid], axis=1)  # (seeds, grid)
            k = ctx.select(variant, grid, val)
            cols = np.array([index[(variant, g)] for g in grid]).T  # (seeds, grid) copy indices
            chosen = cols[np.arange(len(k)), k]
            take = lambda name, chosen=chosen: h[name][chosen, -1]  # noqa: E731
            for j, g in enumerate(grid):
                label = f"{g}" + (" (lecture)" if LECTURE.get(variant) == g else "")
                rows.append([variant, label, int(np.sum(k == j)), final("val_loss", variant, g),
                             final("test_loss", variant, g), final("test_accuracy", variant, g)])
            if variant in LECTURE:
                out[f"test_loss/{variant}_lecture"] = final("test_loss", variant, LECTURE[variant])
        out[f"test_loss/{variant}"] = take("test_loss")
        out[f"test_accuracy/{variant}"] = take("test_accuracy")
        out[f"gap/{variant}"] = take("test_loss") - take("train_loss")
    out["test_loss/baseline"] = final("test_loss", "baseline")
    out["test_accuracy/baseline"] = final("test_accuracy", "baseline")
    out["gap/baseline"] = out["test_loss/baseline"] - out["train_loss/baseline"]

    ctx.table("Selected regularizers: test cross-entropy and accuracy (mean ± 95% CI over seeds)",
              ["variant", "test cross-entropy", "minus baseline (paired)", "test accuracy", "gap (test - train CE)"],
              [[v if v != "baseline" else f"baseline (mean of {BASELINE_RUNS} runs)", out[f"test_loss/{v}"], out[f"test_loss/{v}"] - out["test_loss/baseline"] if v != "baseline" else "-",
                out[f"test_accuracy/{v}"], out[f"gap/{v}"]] for v in VARIANTS])
    ctx.table("Every grid point (selected: on how many seeds validation chose it)",
              ["variant", "strength", "selected", "validation CE", "test CE", "test accuracy"], rows)
    _in_words(ctx, out)
    picks = {"baseline": base}  # variant -> the selected copy of each seed
    for variant, record in ctx.selections.items():
        if not variant.startswith("early_stopping"):
            picks[variant] = [index[(variant, g)][i] for i, g in enumerate(record["chosen"])]
    _curves(ctx, h, picks)
    _inspect(ctx, result, picks, x, passes)
    return out


def _in_words(ctx, out):
    """The report's paragraph on which regularizers help here and which do not (from the paired intervals)."""
    names = {v: v.replace("_", " ").replace("l2", "L2").replace("l1", "L1") for v in VARIANTS[1:]}

    def paired(quantity, variant):
        return study.t_interval(out[f"{quantity}/{variant}"] - out[f"{quantity}/baseline"])

    loss = {v: paired("test_loss", v) for v in VARIANTS[1:]}
    ranked = sorted(loss, key=lambda v: loss[v].mean)
    lower = [v for v in ranked if loss[v].high < 0]
    other = [v for v in ranked if loss[v].high >= 0]
    said = lambda v, iv: f"{names[v]} {iv.mean:+.2f} ± {iv.high - iv.mean:.2f}"  # noqa: E731
    text = [f"In words, at this base seed ({ctx.n_seeds} seeds; the baseline's numbers are the mean of its "
            f"{BASELINE_RUNS} runs per seed, and each difference is a regularized run minus that mean): "]
    if lower:
        text.append(f"{len(lower)} of {len(loss)} regularizers lowered test cross-entropy, the whole 95% interval "
                    "below zero, most to least: " + "; ".join(said(v, loss[v]) for v in lower) + ". ")
    if other:
        text.append("Not shown here (the interval reaches zero or lies above it): "
                    + "; ".join(said(v, loss[v]) for v in other) + ". ")
    accuracy = {v: paired("test_accuracy", v) for v in VARIANTS[1:]}
    up = [v for v in VARIANTS[1:] if accuracy[v].low > 0]
    down = [v for v in VARIANTS[1:] if accuracy[v].high < 0]
    same = [v for v in VARIANTS[1:] if v not in up and v not in down]
    parts = []
    if up:
        parts.append("raised by " + ", ".join(f"{names[v]} ({accuracy[v].mean:+.3f})" for v in up))
    if down:
        parts.append("lowered by " + ", ".join(f"{names[v]} ({accuracy[v].mean:+.3f})" for v in down))
    if same:
        parts.append("within noise for " + ", ".join(names[v] for v in same))
    base = study.t_interval(out["test_accuracy/baseline"]).mean
    text.append(f"Test accuracy (baseline {base:.3f}) was " + "; ".join(parts) + ": the overfitting shows in "
                "the confidence of the predictions more than in their ranking.")
    ctx.note("".join(text))


def _inspect(ctx, result, picks, x, passes):
    """TensorBoard: each variant's final weights (first seed, selected strength) and the augmentation's shifted digits."""
    for variant, rows in picks.items():
        model = result.get_model(rows[0])
        dense = {layer.name: getattr(layer, "layer", layer) for layer in model.layers}  # WeightNoise wraps a Dense
        kernels = {f"weights/{name}/kernel": keras.ops.convert_to_numpy(d.kernel) for name, d in dense.items()
                   if isinstance(d, keras.layers.Dense)}
        ctx.log_histograms(variant, None, kernels, step=passes)
        if variant == "augmentation":
            shift = model.layers[0]
            digits = x[:6]
            shifted = keras.ops.convert_to_numpy(shift(digits, training=True))
            ctx.log_images(variant, None, "digits_original_then_shifted",
                           np.concatenate([digits, shifted]).reshape(-1, 8, 8),
                           description=f"6 training digits, then the same digits shifted by up to {shift.max_shift:g} "
                                       "pixels (the strength validation chose for the first seed)")


def _curves(ctx, h, picks):
    """Mean validation curves with 95% bands, and TensorBoard runs per variant (mean over seeds)."""
    import matplotlib.pyplot as plt

    x = np.arange(1, h["val_loss"].shape[1] + 1) * PASSES
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for variant, rows in picks.items():
        curves = h["val_loss"][rows]
        intervals = [study.t_interval(c) for c in curves.T]
        mean = np.array([iv.mean for iv in intervals])
        line, = ax.plot(x, mean, label=variant, lw=2 if variant == "baseline" else 1)
        ax.fill_between(x, [iv.low for iv in intervals], [iv.high for iv in intervals], color=line.get_color(),
                        alpha=0.15)
        norms = {key: h[key][rows].mean(0) for key in h  # GradientMonitor's tags; NaN: a layer this variant lacks
                 if key.startswith("grad_norm/") and np.isfinite(h[key][rows]).all()}
        ctx.log_history(variant, None, {"epoch_loss/train": h["loss"][rows].mean(0),
                                        "epoch_loss/validation": mean,
                                        "epoch_accuracy/validation": h["val_accuracy"][rows].mean(0), **norms},
                        step_scale=PASSES)
    ax.set_xlabel("pass over the training set")
    ax.set_ylabel("validation cross-entropy")
    ax.set_ylim(0, max(1.5, float(h["val_loss"][picks["baseline"]].mean(0).max()) * 1.1))
    ax.legend(fontsize=7, ncol=2)
    ctx.figure("overfitting.png", fig, "Validation cross-entropy per pass, mean over seeds with 95% bands, "
               "each regularizer at its selected strength (per seed). Early stopping is the baseline stopped at "
               "its lowest point.")


_CHECKS = [
    study.Above("train_accuracy/baseline", 0.99, describe="the 5x100 MLP fits its 160 training digits (accuracy > 0.99)"),
    study.Greater("test_loss/baseline", "train_loss/baseline", margin=0.3,
                  describe="the baseline overfits: test cross-entropy exceeds training cross-entropy by more than 0.3"),
]
_CHECKS += [study.Less(f"test_loss/{v}", "test_loss/baseline",
                       describe=f"{v.replace('_', ' ')} lowers test cross-entropy below the baseline's")
            for v in VARIANTS[1:]]

# 10 seeds in quick mode, not the runner's minimum 5: see "Where the effect is weak" above.
STUDY = study.Study(name="overfitting", claim=CLAIM, measure=measure, checks=_CHECKS, seeds=(10, 20))


def main(args):
    return study.run(STUDY, args)


if __name__ == "__main__":
    import sys

    from kerasreg import cli

    sys.exit(cli.main(["run", "overfitting", *sys.argv[1:]]))
