"""The learning-rate range test ("LR finder", Smith 2017)."""

import dataclasses
import math

import keras
import numpy as np

from kerasreg._validation import check_float, check_int


@dataclasses.dataclass
class LRFinderResult:
    """What ``find_learning_rate`` measured.

    Attributes:
        learning_rates: the rate of each step taken, increasing.
        losses: the smoothed, bias-corrected loss after each step.
        raw_losses: the mini-batch loss of each step.
        suggestion: the suggested learning rate (see ``find_learning_rate``).
        diverged: whether the sweep stopped because the loss diverged.
    """

    learning_rates: np.ndarray
    losses: np.ndarray
    raw_losses: np.ndarray
    suggestion: float
    diverged: bool

    def plot(self, path):
        """Save the (log learning rate, smoothed loss) curve to ``path`` (PNG, via Agg)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.learning_rates, self.losses, label="smoothed loss")
        ax.axvline(self.suggestion, color="r", linestyle="--", label=f"suggestion {self.suggestion:.3g}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.legend()
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        return path


def _batches(x, y, batch_size):
    """Cycle over mini-batches of arrays, or over an iterable of batches."""
    if y is not None or isinstance(x, np.ndarray):
        n = len(x)
        while True:
            for i in range(0, n, batch_size):
                yield x[i:i + batch_size], (None if y is None else y[i:i + batch_size])
    else:
        while True:
            for batch in x:
                yield (batch[0], batch[1]) if isinstance(batch, (tuple, list)) else (batch, None)


def find_learning_rate(model, x, y=None, batch_size=32, min_lr=1e-6, max_lr=1.0, steps=100, smoothing=0.98,
                       divergence=4.0):
    """Sweep the learning rate exponentially, one mini-batch step per rate.

    At step ``k = 0 .. steps-1`` the compiled ``model`` takes one optimizer
    step with

    ```
    lambda_k = min_lr * (max_lr / min_lr) ** (k / (steps - 1))
    a_k      = beta * a_{k-1} + (1 - beta) * L_k,   a_{-1} = 0
    s_k      = a_k / (1 - beta ** (k + 1))          (bias-corrected smoothed loss)
    ```

    ``beta`` is ``smoothing`` and ``L_k`` the mini-batch loss.  The sweep
    stops early when ``s_k > divergence * min_{j<=k} s_j`` or the loss is not
    finite.  Afterwards every model variable and every optimizer variable
    (slots, step counter, learning rate) is restored exactly.

    Suggestion rule: the rate at the steepest descent of the smoothed loss,
    ``argmin_k d s_k / d log(lambda_k)`` (``np.gradient``) over the steps from
    the first tenth of the steps taken (skipping the smoothing's start-up
    transient) up to the minimum of ``s``; when fewer than 3 steps lie there,
    the rate at the minimum of ``s`` divided by 10.

    Args:
        model: a compiled model whose optimizer has a float learning rate
            (not a schedule).
        x: inputs (array) or an iterable of ``(x, y)`` batches, e.g. a
            ``tf.data.Dataset`` (cycled if shorter than ``steps``).
        y: targets when ``x`` is an array.
        batch_size: int >= 1, for arrays.
        min_lr, max_lr: 0 < min_lr < max_lr.
        steps: int >= 3.
        smoothing: float in [0, 1).
        divergence: float > 1.

    Returns:
        An ``LRFinderResult`` with ``plot(path)``.

    Reference:
        Smith, "Cyclical Learning Rates for Training Neural Networks", 2017,
        Section 3.3. https://arxiv.org/abs/1506.01186
    """
    batch_size = check_int("batch_size", batch_size, low=1)
    min_lr = check_float("min_lr", min_lr, low=0.0, low_open=True)
    max_lr = check_float("max_lr", max_lr, low=min_lr, low_open=True)
    steps = check_int("steps", steps, low=3)
    smoothing = check_float("smoothing", smoothing, low=0.0, high=1.0, high_open=True)
    divergence = check_float("divergence", divergence, low=1.0, low_open=True)
    optimizer = model.optimizer
    if optimizer is None:
        raise ValueError("`model` must be compiled before find_learning_rate.")
    if not isinstance(optimizer.learning_rate, keras.Variable):
        raise TypeError("find_learning_rate needs an optimizer with a float learning rate, not a schedule.")
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    model_state = [np.array(v) for v in model.variables]
    optimizer_state = [np.array(v) for v in optimizer.variables]
    rates = min_lr * (max_lr / min_lr) ** (np.arange(steps) / (steps - 1))
    lrs, smooth, raw = [], [], []
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
            avg = smoothing * avg + (1 - smoothing) * loss
            s = avg / (1 - smoothing ** (k + 1))
            lrs.append(lr)
            smooth.append(s)
            raw.append(loss)
            best = min(best, s)
            if s > divergence * best:
                diverged = True
                break
    finally:
        for v, value in zip(model.variables, model_state):
            v.assign(value)
        for v, value in zip(optimizer.variables, optimizer_state):
            v.assign(value)
    lrs, smooth, raw = np.array(lrs), np.array(smooth), np.array(raw)
    return LRFinderResult(lrs, smooth, raw, _suggest(lrs, smooth), diverged)


def _suggest(lrs, smooth):
    if len(lrs) == 0:
        return float("nan")
    end = int(np.argmin(smooth))
    start = max(1, len(lrs) // 10)
    if end - start < 2:
        return float(lrs[end] / 10)
    slope = np.gradient(smooth[start:end + 1], np.log(lrs[start:end + 1]))
    return float(lrs[start + int(np.argmin(slope))])
