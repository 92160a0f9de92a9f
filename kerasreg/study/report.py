"""The run folder's two files: ``metrics.json`` (for machines) and ``report.md`` (for people).

``metrics.json``::

    recipe, claim, held (every check held), seconds, finished,
    settings   the command line, n_seeds, seeds, the design's own settings
    interval   how the intervals were computed
    metrics    {quantity: mean over seeds}
    intervals  {quantity: {"mean", "ci95": [low, high], "n"}}
    per_seed   {quantity: [one value per seed, in settings.seeds order]}
    checks     [{name, describe, kind, quantities, paired, n, mean, ci95, op, threshold, held, words}]
    selected   {variant: {"grid", "chosen": [per seed], "scores": [per seed: validation score per grid entry]}}

In ``report.md`` every number is ``mean ± half-width (n=...)``, and a check
that did not hold is said in words ("Not shown here: ...").
"""

import collections
import json
import math
import os

import numpy as np

from kerasreg.study.stats import fmt, t_interval

__all__ = ["INTERVAL", "payload", "write"]

INTERVAL = ("two-sided 95% Student t interval over seeds: mean ± t(0.975, n-1)·s/√n; comparisons of two "
            "variants use the paired per-seed differences (same seed: same split, initial weights, data order; "
            "where a variant is the mean of several runs per seed, the design says so)")


def _jsonable(value):
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def payload(study, ctx, per_seed, checks, seconds, finished):
    """The ``metrics.json`` content of a finished run."""
    intervals = {q: t_interval(v) for q, v in per_seed.items()}
    settings = {k: v for k, v in vars(ctx.args).items()}
    settings.update(n_seeds=ctx.n_seeds, seeds=ctx.seeds, poison_test=ctx.poison_test, **ctx.settings)
    return _jsonable({
        "recipe": study.name,
        "claim": study.claim,
        "held": bool(checks) and all(c["held"] for c in checks),
        "seconds": round(seconds, 2),
        "finished": finished,
        "settings": settings,
        "interval": INTERVAL,
        "metrics": {q: iv.mean for q, iv in intervals.items()},
        "intervals": {q: {"mean": iv.mean, "ci95": [iv.low, iv.high], "n": iv.n} for q, iv in intervals.items()},
        "per_seed": per_seed,
        "checks": checks,
        "selected": ctx.selections,
    })


def _cell(v):
    if isinstance(v, (list, tuple, np.ndarray)) and len(v) and all(
            isinstance(x, (int, float, np.number)) and not isinstance(x, bool) for x in np.ravel(v)):
        return fmt(v)
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    return str(v)


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]


def _selection_summary(chosen):
    counts = collections.Counter(json.dumps(_jsonable(c)) for c in chosen if c is not None)
    return ", ".join(f"{json.loads(k)} ({m}×)" for k, m in counts.most_common())


def markdown(study, ctx, data, per_seed):
    """The ``report.md`` text (``per_seed``: the measured arrays)."""
    mode = "quick" if ctx.quick else "full"
    lines = [f"# {study.name}", "", f"**Claim.** {study.claim}", ""]
    lines += [f"Mode {mode}; base seed {getattr(ctx.args, 'seed', 0)}; n = {ctx.n_seeds} seeds derived from it "
              f"({', '.join(map(str, ctx.seeds))}); {data['seconds']:.1f} s.", ""]
    lines += [f"Every number is mean ± half-width of its {INTERVAL}.", ""]
    if ctx.poison_test:
        lines += ["**The test split was replaced by noise (poison_test): test numbers are meaningless.**", ""]
    if ctx.settings:
        lines += ["Design: " + "; ".join(f"{k} = {v}" for k, v in ctx.settings.items()) + ".", ""]
    checks = data["checks"]
    held = sum(c["held"] for c in checks)
    lines += [f"## Checks ({held} of {len(checks)} held)", ""]
    lines += _table(["check", "measured", "95% CI", "claimed", "held"],
                    [[c["describe"], fmt_check(c), ci_text(c), f"{c['op']} {c['threshold']:g}",
                      "yes" if c["held"] else "**no**"] for c in checks])
    lines.append("")
    failed = [c for c in checks if not c["held"]]
    for c in failed:
        lines += [f"Not shown here: {c['describe']}. {c['words'][:1].upper()}{c['words'][1:]}", ""]
    if not failed and checks:
        lines += ["Every check held: each interval lies entirely on its claimed side.", ""]
    for title, header, rows in ctx.tables:
        lines += [f"## {title}", ""] + _table(header, rows) + [""]
    if ctx.selections:
        lines += ["## Selected on validation", ""]
        lines += _table(["variant", "grid", "chosen (seeds)"],
                        [[v, ", ".join(str(g) for g in r["grid"]), _selection_summary(r["chosen"])]
                         for v, r in ctx.selections.items()])
        lines.append("")
    for text in ctx.notes:
        lines += [text, ""]
    for filename, caption in ctx.figures:
        lines += [f"![{caption or filename}]({filename})", "", caption, ""]
    lines += ["## All quantities", ""]
    lines += _table(["quantity", "mean ± CI (n)"], [[q, fmt(v)] for q, v in per_seed.items()])
    lines.append("")
    if os.path.isdir(os.path.join(ctx.dir, "tb")):
        lines += ["TensorBoard:", "", f"    tensorboard --logdir {os.path.join(ctx.dir, 'tb')}", ""]
    return "\n".join(lines)


def ci_text(c):
    low, high = c["ci95"]
    if isinstance(low, str) or isinstance(high, str):
        return "none"
    return f"[{low:.4g}, {high:.4g}]"


def fmt_check(c):
    """A check's measured value as ``mean ± half-width (n=...)``."""
    from kerasreg.study.stats import Interval

    low, high = (float(x) for x in c["ci95"])
    return fmt(Interval(float(c["mean"]), low, high, c["n"]))


def write(study, ctx, data, per_seed):
    """Write ``metrics.json`` and ``report.md`` into ``ctx.dir``; return their paths."""
    metrics = os.path.join(ctx.dir, "metrics.json")
    with open(metrics, "w") as f:
        json.dump(data, f, indent=2)
    report = os.path.join(ctx.dir, "report.md")
    with open(report, "w") as f:
        f.write(markdown(study, ctx, data, per_seed))
    return metrics, report
