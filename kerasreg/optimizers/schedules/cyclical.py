"""Cyclical learning rates (Smith, 2017): triangular, triangular2, exp_range."""

import keras
from keras import ops

from kerasreg._validation import check_choice, check_float, check_int
from kerasreg.api_export import kerasreg_export


@kerasreg_export
class Cyclical(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate bounces linearly between a base and a maximum.

    Smith's formulas, for step ``t``:

    ```
    cycle    = floor(1 + t / (2 * step_size))
    x        = |t / step_size - 2 * cycle + 1|
    lambda_t = base + (max - base) * max(0, 1 - x) * scale
    scale    = 1                     mode="triangular"
             = 1 / 2 ** (cycle - 1)  mode="triangular2"
             = gamma ** t            mode="exp_range"
    ```

    ``base`` is ``base_learning_rate``, ``max`` is ``max_learning_rate``,
    ``step_size`` is the half-cycle length in steps.  No departures.

    Args:
        base_learning_rate: float > 0.
        max_learning_rate: float > base_learning_rate.
        step_size: int >= 1, steps per half cycle (Smith: 2-10 epochs).
        mode: "triangular", "triangular2" or "exp_range".
        gamma: float in (0, 1], used by "exp_range". Default 1.0.
        name: optional name.

    Example:

    >>> lr = Cyclical(1e-3, 6e-3, step_size=2000, mode="triangular2")

    Reference:
        Smith, "Cyclical Learning Rates for Training Neural Networks",
        2017. https://arxiv.org/abs/1506.01186
    """

    MODES = ("triangular", "triangular2", "exp_range")

    def __init__(self, base_learning_rate, max_learning_rate, step_size, mode="triangular",
                 gamma=1.0, name="Cyclical"):
        super().__init__()
        self.base_learning_rate = check_float("base_learning_rate", base_learning_rate, low=0.0, low_open=True)
        self.max_learning_rate = check_float("max_learning_rate", max_learning_rate, low=0.0, low_open=True)
        if self.max_learning_rate <= self.base_learning_rate:
            raise ValueError(
                f"`max_learning_rate` must be above `base_learning_rate`; got "
                f"max_learning_rate={max_learning_rate!r} <= base_learning_rate={base_learning_rate!r}."
            )
        self.step_size = check_int("step_size", step_size, low=1)
        self.mode = check_choice("mode", mode, self.MODES)
        self.gamma = check_float("gamma", gamma, low=0.0, high=1.0, low_open=True)
        self.name = name

    def __call__(self, step):
        t = ops.cast(step, "float32")
        s = float(self.step_size)
        cycle = ops.floor(1.0 + t / (2.0 * s))
        x = ops.abs(t / s - 2.0 * cycle + 1.0)
        if self.mode == "triangular":
            scale = 1.0
        elif self.mode == "triangular2":
            scale = ops.power(2.0, -(cycle - 1.0))
        else:
            scale = ops.power(ops.cast(self.gamma, "float32"), t)
        amp = self.max_learning_rate - self.base_learning_rate
        return self.base_learning_rate + amp * ops.maximum(0.0, 1.0 - x) * scale

    def get_config(self):
        return {
            "base_learning_rate": self.base_learning_rate,
            "max_learning_rate": self.max_learning_rate,
            "step_size": self.step_size,
            "mode": self.mode,
            "gamma": self.gamma,
            "name": self.name,
        }
