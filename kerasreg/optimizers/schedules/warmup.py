"""Linear warm-up in front of any learning rate (a float or a schedule)."""

import keras
from keras import ops

from kerasreg._validation import check_float, check_int
from kerasreg.api_export import kerasreg_export


@kerasreg_export
class Warmup(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up for ``warmup_steps`` steps, then the wrapped schedule.

    ```
    lambda_t = lambda_start + (S(0) - lambda_start) * t / warmup_steps   t <  warmup_steps
    lambda_t = S(t - warmup_steps)                                       t >= warmup_steps
    ```

    ``S`` is ``schedule`` (a constant when a float is given) and
    ``lambda_start`` is ``start_learning_rate``.  The wrapped schedule starts
    its own clock when the warm-up ends, so a ``CosineDecay(decay_steps=N)``
    behind a warm-up of ``W`` steps decays over steps ``W .. W + N``.  Keras'
    ``CosineDecay(warmup_steps=...)`` offers warm-up only for cosine decay;
    this wrapper works around any schedule (Keras' ``ExponentialDecay``,
    ``CosineDecay``, or kerasreg's ``StepDecay``, ``OneCycle``, ``Cyclical``).

    Args:
        schedule: float > 0 or a ``LearningRateSchedule``: the learning rate
            after warm-up.
        warmup_steps: int >= 1.
        start_learning_rate: float >= 0, the rate at step 0. Default 0.
        name: optional name.

    Example:

    >>> lr = Warmup(keras.optimizers.schedules.CosineDecay(0.1, 1000), 100)

    Reference:
        Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in
        1 Hour", 2017. https://arxiv.org/abs/1706.02677
    """

    def __init__(self, schedule, warmup_steps, start_learning_rate=0.0, name="Warmup"):
        super().__init__()
        if isinstance(schedule, dict):
            schedule = keras.saving.deserialize_keras_object(schedule)
        if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            schedule = check_float("schedule", schedule, low=0.0, low_open=True)
        self.schedule = schedule
        self.warmup_steps = check_int("warmup_steps", warmup_steps, low=1)
        self.start_learning_rate = check_float("start_learning_rate", start_learning_rate, low=0.0)
        self.name = name

    def _after(self, step):
        if isinstance(self.schedule, float):
            return ops.cast(self.schedule, "float32")
        return ops.cast(self.schedule(step), "float32")

    def __call__(self, step):
        step = ops.cast(step, "float32")
        w = float(self.warmup_steps)
        peak = self._after(ops.cast(0, "float32"))
        start = ops.cast(self.start_learning_rate, "float32")
        warm = start + (peak - start) * ops.divide(ops.minimum(step, w), w)
        after = self._after(ops.maximum(step - w, 0.0))
        return ops.where(step < w, warm, after)

    def get_config(self):
        schedule = self.schedule
        if not isinstance(schedule, float):
            schedule = keras.saving.serialize_keras_object(schedule)
        return {
            "schedule": schedule,
            "warmup_steps": self.warmup_steps,
            "start_learning_rate": self.start_learning_rate,
            "name": self.name,
        }
