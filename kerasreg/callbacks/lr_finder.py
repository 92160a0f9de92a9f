"""The learning-rate range test ("LR finder", Smith 2017), with a fastai-style suggestion."""

import dataclasses
import math
import warnings

import keras
import numpy as np

from kerasreg._validation import check_float, check_int

__all__ = ["LRFinderResult", "find_learning_rate", "smooth_losses", "suggest_learning_rate"]


@dataclasses.dataclass
class LRFinderResult:
    """What ``find_learning_rate`` measured.

    Attributes:
        learning_rates: the rate of each step taken, increasing.
        losses: the smoothed loss at each rate (``smooth_losses``).
        raw_losses: the mini-batch loss of each step.
        suggestion: the suggested learning rate (``suggest_learning_rate``).
        diverged: whether the sweep stopped because the loss diverged.
        minimum: the rate at the minimum of the smoothed loss.
    """

    learning_rates: np.ndarray
    losses: np.ndarray
    raw_losses: np.ndarray
    suggestion: float
    diverged: bool
    minimum: float = float("nan")

    def plot(self, path):
        """Save the loss-against-rate curve to ``path`` (PNG, via Agg); returns ``path``.

        The y-axis shows the informative range: from the lowest smoothed loss
        to the highest smoothed loss before the minimum, padded by 10 %; the
        diverging tail runs off the top instead of flattening the curve.
        """
        from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

        fig = Figure(figsize=(6, 4))
        ax = fig.add_subplot()
        ax.plot(self.learning_rates, self.raw_losses, color="0.75", lw=0.8, label="mini-batch loss")
        ax.plot(self.learning_rates, self.losses, color="tab:blue", label="smoothed loss")
        if math.isfinite(self.suggestion):
            ax.axvline(self.suggestion, color="tab:red", linestyle="--", label=f"suggestion {self.suggestion:.3g}")
        low, high = _informative_range(self.losses)
        if high > low:
            pad = 0.1 * (high - low)
            ax.set_ylim(low - pad, high + pad)
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.legend()
        fig.tight_layout()
        fig.savefig(path)
        return path


def _informative_range(losses):
    if len(losses) == 0:
        return 0.0, 0.0
    m = int(np.argmin(losses))
    return float(losses[m]), float(np.max(losses[: m + 1]))


def _batches(x, y, batch_size):
    """Cycle over mini-batches of arrays, or over an iterable of batches (as numpy arrays)."""
    if y is not None or isinstance(x, np.ndarray):
        n = len(x)
        while True:
            for i in range(0, n, batch_size):
                yield x[i:i + batch_size], (None if y is None else y[i:i + batch_size])
    else:
        while True:
            empty = True
            for batch in x:
                empty = False
                # numpy batches: train_on_batch then takes them on every backend
                # (JAX cannot read tf.data's tensors directly).
                batch = keras.tree.map_structure(np.asarray, batch)
                yield (batch[0], batch[1]) if isinstance(batch, (tuple, list)) else (batch, None)
            if empty:
                raise ValueError("`x` yielded no batches.")


def smooth_losses(learning_rates, losses, smoothing=0.2):
    """Gaussian kernel smoothing of the losses along ``log10`` of the rate.

    ```
    s_k = sum_j w_kj L_j / sum_j w_kj,   w_kj = exp(-(log10 lambda_j - log10 lambda_k)^2 / (2 sigma^2))
    ```

    ``sigma`` is ``smoothing``, in decades of learning rate.  Centred, so the
    smoothed curve does not lag behind the rate (an exponential moving
    average over the steps moves every feature to larger rates); measured in
    decades, so a sweep of 30 steps and one of 100 give the same curve.

    >>> smooth_losses([0.01, 0.1, 1.0], [1.0, 1.0, 4.0], smoothing=0.01).round(3)
    array([1., 1., 4.])
    """
    x = np.log10(np.asarray(learning_rates, dtype="float64"))
    losses = np.asarray(losses, dtype="float64")
    w = np.exp(-0.5 * ((x[:, None] - x[None, :]) / smoothing) ** 2)
    return (w @ losses) / w.sum(axis=1)


def suggest_learning_rate(learning_rates, smoothed):
    """The rate of steepest descent of the smoothed loss before its minimum.

    ```
    k* = argmin_{k < m} d s_k / d log10(lambda_k),   m = argmin_k s_k
    ```

    (``np.gradient`` for the derivative.)  As fastai's ``steep`` suggestion,
    but taken only before the minimum, so never at or past it (nor at the
    divergence that follows it), and always one of the swept rates, so inside
    ``[min_lr, max_lr]``.  When the minimum is the first rate (the loss only
    rises), the first rate.

    Returns:
        ``(suggestion, rate at the minimum)``; ``nan`` for an empty sweep.

    >>> lrs = [1e-3, 1e-2, 1e-1, 1.0, 10.0]
    >>> suggest_learning_rate(lrs, [2.3, 2.2, 1.5, 1.2, 9.0])
    (0.1, 1.0)
    """
    lrs = np.asarray(learning_rates, dtype="float64")
    s = np.asarray(smoothed, dtype="float64")
    if len(lrs) == 0:
        return float("nan"), float("nan")
    m = int(np.argmin(s))
    if m == 0:
        return float(lrs[0]), float(lrs[0])
    if len(lrs) == 1:
        return float(lrs[0]), float(lrs[m])
    slope = np.gradient(s, np.log10(lrs))
    return float(lrs[int(np.argmin(slope[:m]))]), float(lrs[m])


def find_learning_rate(model, x, y=None, batch_size=32, min_lr=1e-7, max_lr=10.0, steps=100, smoothing=0.2,
                       divergence=4.0):
    """Sweep the learning rate exponentially, one mini-batch step per rate; suggest one.

    At step ``k = 0 .. steps-1`` the compiled ``model`` takes one optimizer
    step with

    ```
    lambda_k = min_lr * (max_lr / min_lr) ** (k / (steps - 1))
    ```

    and records the mini-batch loss ``L_k``.  The sweep stops early when the
    loss diverges: ``L_k`` is not finite, or its running average
    ``e_k = beta e_{k-1} + (1 - beta) L_k`` (bias-corrected,
    ``beta = exp(-Delta / sigma)`` for ``Delta`` decades per step, so the same
    window in rate whatever ``steps``) exceeds ``divergence * min_{j<=k} e_j``
    (fastai's rule).  Afterwards every model variable and every optimizer
    variable (slots, step counter, learning rate) is restored exactly.

    Suggestion rule (``suggest_learning_rate``): the losses are smoothed
    along ``log10(lambda)`` by a centred Gaussian of width ``sigma``
    (``smooth_losses``), and the suggestion is the rate of steepest descent
    of the smoothed loss before its minimum, as fastai's ``steep``.  It is one
    of the swept rates, so inside ``[min_lr, max_lr]``, and below the
    minimum, so never at or past divergence.

    Warnings (``UserWarning``): when the sweep ends before the loss minimum
    (the minimum is at the last rate: raise ``max_lr``), when the loss never
    diverges (the suggestion may be too cautious: raise ``max_lr``), and when
    the loss rises from the first rate (lower ``min_lr``).

    Departures from fastai: a centred kernel in place of fastai's moving
    average (which lags behind the rate by up to a few decades on short
    sweeps and so suggests rates too large), and its width fixed in decades
    rather than in steps, so a 30-step sweep suggests what a 100-step sweep
    does.  fastai's default suggestion is ``valley``; on sweeps whose loss is
    flat for decades before it falls (an MLP with SGD), ``valley`` picks the
    middle of that noisy plateau.

    Args:
        model: a compiled model whose optimizer has a float learning rate
            (not a schedule).
        x: inputs (array) or an iterable of ``(x, y)`` batches, e.g. a
            ``tf.data.Dataset`` from ``kerasreg.data.load`` (cycled if
            shorter than ``steps``).
        y: targets when ``x`` is an array.
        batch_size: int >= 1, for arrays.
        min_lr, max_lr: 0 < min_lr < max_lr.  Defaults 1e-7 and 10 (fastai's).
        steps: int >= 3.
        smoothing: ``sigma`` > 0, the width of the smoothing, in decades of
            learning rate.  Default 0.2.
        divergence: float > 1.

    Returns:
        An ``LRFinderResult`` with ``plot(path)``.

    Example:

    >>> import keras, numpy as np
    >>> x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32")
    >>> y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32")
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    >>> result = find_learning_rate(model, x, y, min_lr=1e-4, max_lr=10.0, steps=50)
    >>> bool(1e-4 <= result.suggestion < result.minimum), result.diverged
    (True, True)

    Reference:
        Smith, "Cyclical Learning Rates for Training Neural Networks", 2017,
        Section 3.3. https://arxiv.org/abs/1506.01186;
        fastai ``Learner.lr_find`` (``steep``, ``valley``),
        https://docs.fast.ai/callback.schedule.html#lrfinder
    """
    batch_size = check_int("batch_size", batch_size, low=1)
    min_lr = check_float("min_lr", min_lr, low=0.0, low_open=True)
    max_lr = check_float("max_lr", max_lr, low=min_lr, low_open=True)
    steps = check_int("steps", steps, low=3)
    smoothing = check_float("smoothing", smoothing, low=0.0, low_open=True)
    divergence = check_float("divergence", divergence, low=1.0, low_open=True)
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a compiled keras.Model, got {model!r}.")
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not getattr(model, "compiled", False):
        raise ValueError(
            "find_learning_rate needs a compiled model: call "
            "`model.compile(optimizer=..., loss=...)` first."
        )
    if not isinstance(optimizer.learning_rate, keras.Variable):
        raise TypeError("find_learning_rate needs an optimizer with a float learning rate, not a schedule.")
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    model_state = [np.array(keras.ops.convert_to_numpy(v)) for v in model.variables]
    optimizer_state = [np.array(keras.ops.convert_to_numpy(v)) for v in optimizer.variables]
    rates = min_lr * (max_lr / min_lr) ** (np.arange(steps) / (steps - 1))
    beta = math.exp(-math.log10(max_lr / min_lr) / (steps - 1) / smoothing)
    lrs, raw = [], []
    avg, best, diverged = 0.0, math.inf, False
    batches = _batches(x, y, batch_size)
    try:
        for k, lr in enumerate(rates):
            optimizer.learning_rate.assign(lr)
            xb, yb = next(batches)
            loss = float(model.train_on_batch(xb, yb, return_dict=True)["loss"])
            if not math.isfinite(loss):
                diverged = True
                break
            lrs.append(lr)
            raw.append(loss)
            avg = beta * avg + (1 - beta) * loss
            running = avg / (1 - beta ** (k + 1))
            best = min(best, running)
            if running > divergence * best:
                diverged = True
                break
    finally:
        for v, value in zip(model.variables, model_state):
            v.assign(value)
        for v, value in zip(optimizer.variables, optimizer_state):
            v.assign(value)
    lrs, raw = np.array(lrs), np.array(raw)
    smooth = smooth_losses(lrs, raw, smoothing) if len(lrs) else raw
    suggestion, minimum = suggest_learning_rate(lrs, smooth)
    _warn(lrs, smooth, diverged, max_lr)
    return LRFinderResult(lrs, smooth, raw, suggestion, diverged, minimum)


def _warn(lrs, smooth, diverged, max_lr):
    if len(lrs) == 0:
        warnings.warn("find_learning_rate: the loss was not finite at the first rate; lower `min_lr`.",
                      stacklevel=3)
        return
    m = int(np.argmin(smooth))
    if m == 0:
        warnings.warn(f"find_learning_rate: the loss rises from the first rate {lrs[0]:.3g}; "
                      "lower `min_lr` to see where it falls.", stacklevel=3)
    if m == len(lrs) - 1:
        warnings.warn(f"find_learning_rate: the sweep ended at {lrs[-1]:.3g} before the loss reached its "
                      "minimum; raise `max_lr`.", stacklevel=3)
    elif not diverged:
        warnings.warn(f"find_learning_rate: the loss never diverged up to max_lr={max_lr:.3g}; the suggestion "
                      "may be too cautious: raise `max_lr`.", stacklevel=3)
