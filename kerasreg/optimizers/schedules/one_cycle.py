"""The 1cycle learning-rate policy (Smith, 2018)."""

import keras
from keras import ops

from kerasreg._validation import check_float, check_int
from kerasreg.api_export import kerasreg_export


@kerasreg_export
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """One cycle up and down, then annihilation far below the start.

    With ``lo = max_learning_rate / div_factor``,
    ``end = lo / final_div_factor``, ``p = pct_start * total_steps``:

    ```
    lambda_t = lo + (max - lo) * t / p                        0  <= t < p
    lambda_t = max - (max - lo) * (t - p) / p                 p  <= t < 2p
    lambda_t = lo - (lo - end) * (t - 2p) / (total - 2p)      2p <= t < total
    lambda_t = end                                            t >= total
    ```

    ``max`` is ``max_learning_rate`` and ``total`` is ``total_steps``.
    Smith's policy has two linear phases of equal length and a last phase
    that "annihilates" the rate to a few orders of magnitude below ``lo``.
    Departure: Smith also cycles momentum inversely to the rate; a learning
    rate schedule cannot set the momentum, so only the rate is scheduled.

    Args:
        max_learning_rate: float > 0, the peak.
        total_steps: int >= 3, the length of the whole policy.
        pct_start: float in (0, 0.5), the fraction of steps spent rising.
            Default 0.45 (Smith's two phases take ~90% of training).
        div_factor: float >= 1, ``max / lo``. Default 25.
        final_div_factor: float >= 1, ``lo / end``. Default 1e4.
        name: optional name.

    Example:

    >>> sgd = keras.optimizers.SGD(OneCycle(0.8, total_steps=1000))

    Reference:
        Smith, "A disciplined approach to neural network hyper-parameters:
        Part 1", 2018. https://arxiv.org/abs/1803.09820
    """

    def __init__(self, max_learning_rate, total_steps, pct_start=0.45, div_factor=25.0,
                 final_div_factor=1e4, name="OneCycle"):
        super().__init__()
        self.max_learning_rate = check_float("max_learning_rate", max_learning_rate, low=0.0, low_open=True)
        self.total_steps = check_int("total_steps", total_steps, low=3)
        self.pct_start = check_float("pct_start", pct_start, low=0.0, high=0.5, low_open=True, high_open=True)
        self.div_factor = check_float("div_factor", div_factor, low=1.0)
        self.final_div_factor = check_float("final_div_factor", final_div_factor, low=1.0)
        self.name = name

    def __call__(self, step):
        t = ops.cast(step, "float32")
        hi = self.max_learning_rate
        lo = hi / self.div_factor
        end = lo / self.final_div_factor
        p = self.pct_start * self.total_steps
        rest = float(self.total_steps) - 2.0 * p
        up = lo + (hi - lo) * t / p
        down = hi - (hi - lo) * (t - p) / p
        anneal = lo - (lo - end) * ops.minimum((t - 2.0 * p) / rest, 1.0)
        return ops.where(t < p, up, ops.where(t < 2.0 * p, down, anneal))

    def get_config(self):
        return {
            "max_learning_rate": self.max_learning_rate,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
            "name": self.name,
        }
