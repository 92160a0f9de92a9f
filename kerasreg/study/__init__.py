"""Studies: a recipe declares variants, measurements and claims; one runner does the rest.

The runner (``run``) owns the protocol of every recipe: ``n`` seeds derived
from the base seed (5 quick, 10 full by default), splits into train /
validation / test, selection on validation only, 95% t intervals over seeds
(paired differences for comparisons), ``metrics.json``, ``report.md``,
figures, TensorBoard folders and the exit code (0 iff every check held).

How to write a recipe
---------------------
``kerasreg/recipes/NAME.py``::

    \"\"\"One line for `kerasreg list`.

    The lecture's claim; the design: what varies by seed, the splits, what
    is selected on validation and on which grid, why the set-up shows the effect.\"\"\"
    import numpy as np
    from kerasreg import study

    SUPPORTS = ("epochs",)          # optional CLI options honoured (see kerasreg.cli)
    CLAIM = "L2 lowers the test cross-entropy of an overfitting MLP."
    GRID = (1e-4, 1e-3, 1e-2)

    def measure(ctx):
        epochs = ctx.epochs(60, 150)               # --epochs, else quick / full default

        def one_seed(seed):
            data = ctx.split("digits", seed=seed, n_train=180, flatten=True)  # same split for every variant
            base = train(data.train, seed, epochs)                            # same seed: same init, same order
            fits = [train(data.train, seed, epochs, l2=s) for s in GRID]
            k = ctx.select("l2", GRID, [loss(m, data.validation) for m in fits], seed=seed)  # validation only
            return {"test_loss/baseline": loss(base, data.test),               # test: final evaluation only
                    "test_loss/l2": loss(fits[k], data.test)}

        return ctx.per_seed(one_seed)              # {quantity: array (n_seeds,)}

    STUDY = study.Study(name="NAME", claim=CLAIM, measure=measure, checks=[
        study.Less("test_loss/l2", "test_loss/baseline", describe="L2 lowers the test cross-entropy"),
    ])

    def main(args):
        return study.run(STUDY, args)

    if __name__ == "__main__":
        import sys; from kerasreg import cli; sys.exit(cli.main(["run", "NAME", *sys.argv[1:]]))

Rules the runner relies on:

* ``measure`` returns one value per seed for every quantity, in
  ``ctx.seeds`` order.  Variants of one seed are paired: the same split
  (``ctx.split(seed=seed)``), the same initial weights and data order
  (seed the model and the shuffling with ``seed``).  Many seeds and variants
  at once: ``kerasreg.stacked`` trains them in one program; return the
  arrays directly instead of using ``ctx.per_seed``.
* Every choice (strength, learning rate, epoch) goes through
  ``ctx.select(variant, grid, validation_scores)``, which records it for the
  report and ``metrics.json``.  The test split is read only to evaluate what
  was selected.  The tests check this by running a study with every test split
  replaced by noise (``poison_test``): the selected choices must not change.
* Checks (``Less``, ``AtMost``, ``Greater``, ``AtLeast``, ``Below``,
  ``Above``) hold only when the whole 95% interval lies on the claimed side.
  A check that does not hold stays: the report says so in words, and the
  recipe exits 1.  Keep ``describe`` a plain sentence of the claim.
* Figures: ``ctx.figure(filename, fig, caption)`` (matplotlib is set to Agg
  by the runner; show error bars or bands from ``study.t_interval``).
  Tables: ``ctx.table(title, header, rows)``; a cell holding per-seed
  values is written ``mean ± CI (n)``.  Words: ``ctx.note(text)``.
  TensorBoard: ``ctx.tensorboard(variant, seed)`` is a log folder for
  Keras' callbacks; ``ctx.log_history(variant, seed, {tag: per-epoch values})``
  writes curves that did not come from ``fit``.
* Helpers, one place each: ``snapshot`` / ``restore`` a compiled model
  and ``reinitialize`` its weights by seed (one trace serves every seed and
  variant); ``batches(x, y, batch_size, seed)`` with ``steps_per_epoch``
  (the seed's data order, the same for every variant); ``trajectory`` (an
  optimizer's path on a numpy-gradient problem); ``plot_interval`` /
  ``plot_band`` (mean and 95% interval over seeds on a matplotlib axis).
  ``ctx.per_seed`` prints each seed's quantities under ``--verbose``.
* ``ctx.setting(name, value)`` records a design choice (training size,
  optimizer, epochs) in ``metrics.json`` and the report.
* The recipe sets no matplotlib backend, parses no arguments and sets no
  backend-specific compile options.
"""

from kerasreg.study.checks import Above, AtLeast, AtMost, Below, Check, Greater, Less
from kerasreg.study.context import Context, Split, derive_seeds
from kerasreg.study.runner import POISON_TEST_ENV, Study, options, run
from kerasreg.study.batches import batches, steps_per_epoch
from kerasreg.study.models import reinitialize, restore, snapshot
from kerasreg.study.plots import plot_band, plot_interval
from kerasreg.study.stats import Interval, fmt, t_interval
from kerasreg.study.trajectory import trajectory

__all__ = [
    "Study", "run", "options", "Context", "Split", "derive_seeds",
    "Check", "Less", "AtMost", "Greater", "AtLeast", "Below", "Above",
    "Interval", "t_interval", "fmt", "POISON_TEST_ENV",
    "snapshot", "restore", "reinitialize", "batches", "steps_per_epoch", "trajectory",
    "plot_interval", "plot_band",
]
