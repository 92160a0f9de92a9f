"""``Study`` (a recipe's declaration) and ``run`` (the one runner of every study)."""

import argparse
import datetime
import os
import shutil
import time

import numpy as np

from kerasreg._validation import check_int
from kerasreg.study import report
from kerasreg.study.checks import Check
from kerasreg.study.context import Context, derive_seeds

__all__ = ["Study", "run", "options", "POISON_TEST_ENV"]

POISON_TEST_ENV = "KERASREG_STUDY_POISON_TEST"
MIN_SEEDS = (5, 10)  # the protocol's least numbers of seeds, quick and full


class Study:
    """A recipe's declaration: what it claims, how it measures, which checks judge it.

    Args:
        name: the recipe's name (its run folder ``<out>/<name>``).
        claim: the lecture's claim, one or two sentences, for the report.
        measure: ``measure(ctx) -> {quantity: array (n_seeds,)}``, one value
            per seed in ``ctx.seeds`` order, variants paired by seed.
        checks: list of ``kerasreg.study`` checks (``Less``, ``Below``, ...)
            on the measured quantities; at least one.
        seeds: ``(quick, full)`` default numbers of seeds, at least ``(5, 10)``;
            ``--seeds`` overrides both.
    """

    def __init__(self, name, claim, measure, checks, seeds=MIN_SEEDS):
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"`name` must be a recipe name (a Python identifier), got {name!r}.")
        if not isinstance(claim, str) or not claim.strip():
            raise ValueError(f"`claim` must be a non-empty str, got {claim!r}.")
        if not callable(measure):
            raise TypeError(f"`measure` must be callable as measure(ctx), got {measure!r}.")
        checks = list(checks)
        if not checks:
            raise ValueError("`checks` must hold at least one check: a study without a claim measures nothing.")
        for c in checks:
            if not isinstance(c, Check):
                raise TypeError(f"`checks` must hold kerasreg.study checks (Less, Below, ...), got {c!r}.")
        if len(seeds) != 2:
            raise ValueError(f"`seeds` must be (quick, full), got {seeds!r}.")
        quick = check_int("seeds[0] (quick)", seeds[0], low=MIN_SEEDS[0])
        full = check_int("seeds[1] (full)", seeds[1], low=MIN_SEEDS[1])
        self.name, self.claim, self.measure, self.checks, self.seeds = name, claim.strip(), measure, checks, (quick, full)

    def __repr__(self):
        return f"Study({self.name!r}, {len(self.checks)} checks)"


def options(**overrides):
    """An ``argparse.Namespace`` as ``kerasreg run`` builds it, for running a study from Python.

    Defaults: ``quick=False, seed=0, seeds=None, epochs=None, dataset=None,
    strategy=None, out="runs", verbose=False``.

    >>> args = kerasreg.study.options(quick=True, seed=3)
    >>> args.quick, args.seed, args.seeds, args.out
    (True, 3, None, 'runs')

    Then ``kerasreg.study.run(STUDY, args)`` runs a recipe's ``STUDY`` as
    ``kerasreg run NAME --quick --seed 3`` would.
    """
    values = dict(quick=False, seed=0, seeds=None, epochs=None, dataset=None, strategy=None, out="runs",
                  verbose=False)
    unknown = set(overrides) - set(values)
    if unknown:
        raise TypeError(f"options() got unknown options {sorted(unknown)}; known: {sorted(values)}.")
    values.update(overrides)
    return argparse.Namespace(**values)


def _measured(study, ctx, result):
    if not isinstance(result, dict) or not result:
        raise TypeError(f"{study.name}: measure(ctx) must return a non-empty dict {{quantity: array (n_seeds,)}}, "
                        f"got {type(result).__name__}.")
    per_seed = {}
    for q, values in result.items():
        a = np.asarray(values, dtype="float64")
        if a.shape != (ctx.n_seeds,):
            raise ValueError(f"{study.name}: quantity {q!r} must hold one value per seed, shape ({ctx.n_seeds},), "
                             f"got shape {a.shape}.")
        per_seed[str(q)] = a
    return per_seed


def run(study, args, *, poison_test=None, print_summary=True):
    """Run ``study`` as ``args`` (from ``kerasreg run``, or ``options(...)``) say; write its folder.

    Seeds ``ctx.seeds`` are derived from ``args.seed``; ``measure(ctx)`` runs;
    every check is judged on its 95% t interval; ``<out>/<name>/`` gets
    ``metrics.json``, ``report.md``, the figures and ``tb/``.

    Args:
        poison_test: replace every test split by noise (see
            ``kerasreg.study.context``); default: the environment variable
            ``KERASREG_STUDY_POISON_TEST`` is ``1``.

    Returns:
        0 when every check held, else 1 (the recipe's exit code).
    """
    import matplotlib

    matplotlib.use("Agg")  # the one place: figures are files, never windows
    if poison_test is None:
        poison_test = os.environ.get(POISON_TEST_ENV, "") == "1"
    n = getattr(args, "seeds", None)
    n = study.seeds[0 if getattr(args, "quick", False) else 1] if n is None else check_int("seeds", n, low=2)
    seeds = derive_seeds(getattr(args, "seed", 0), n)
    run_dir = os.path.abspath(os.path.join(getattr(args, "out", "runs"), study.name))
    os.makedirs(run_dir, exist_ok=True)
    shutil.rmtree(os.path.join(run_dir, "tb"), ignore_errors=True)  # no stale runs beside this one's
    ctx = Context(study, args, run_dir, seeds, poison_test=poison_test)
    start = time.time()
    per_seed = _measured(study, ctx, study.measure(ctx))
    checks = [c.evaluate(per_seed) for c in study.checks]
    data = report.payload(study, ctx, per_seed, checks, time.time() - start,
                          datetime.datetime.now().isoformat(timespec="seconds"))
    metrics_path, report_path = report.write(study, ctx, data, per_seed)
    if print_summary:
        print(f"\n{study.name}: {study.claim}")
        print(f"  n = {n} seeds from base seed {getattr(args, 'seed', 0)}; 95% t intervals")
        for c in checks:
            print(f"  [{'held' if c['held'] else 'DID NOT HOLD'}] {c['describe']}: {report.fmt_check(c)}, "
                  f"CI {report.ci_text(c)} {c['op']} {c['threshold']:g}")
        print(f"results:  {metrics_path}")
        print(f"report:   {report_path}")
        if os.path.isdir(os.path.join(run_dir, "tb")):
            print(f"view:     tensorboard --logdir {os.path.join(run_dir, 'tb')}")
        print(f"({data['seconds']:.1f} s)")
    return 0 if data["held"] else 1
