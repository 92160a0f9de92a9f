"""Step decay: the learning rate drops by a constant factor every few steps."""

import keras
from keras import ops

from kerasreg._validation import check_float, check_int
from kerasreg.api_export import kerasreg_export


@kerasreg_export
class StepDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Piecewise-constant decay by a factor ``drop`` every ``step_size`` steps.

    ```
    lambda_t = lambda_0 * drop ** floor(t / step_size)
    ```

    ``lambda_0`` is ``initial_learning_rate``, ``t`` the optimizer's step
    counter (``optimizer.iterations``, starting at 0).  Evaluated in-graph with
    ``keras.ops`` (works under ``tf.function``, XLA and JAX).  Keras'
    ``ExponentialDecay(staircase=True)`` computes the same curve from a
    ``decay_rate`` per ``decay_steps``; this class exists to use the lecture's
    parametrisation (the factor applied at each drop).

    Args:
        initial_learning_rate: float > 0.
        drop: float in (0, 1], the factor applied at each drop. Default 0.5.
        step_size: int >= 1, steps between drops. Default 1000.
        name: optional name.

    Example:

    >>> sgd = keras.optimizers.SGD(StepDecay(0.1, drop=0.5, step_size=100))
    """

    def __init__(self, initial_learning_rate, drop=0.5, step_size=1000, name="StepDecay"):
        super().__init__()
        self.initial_learning_rate = check_float(
            "initial_learning_rate", initial_learning_rate, low=0.0, low_open=True
        )
        self.drop = check_float("drop", drop, low=0.0, high=1.0, low_open=True)
        self.step_size = check_int("step_size", step_size, low=1)
        self.name = name

    def __call__(self, step):
        step = ops.cast(step, "float32")
        k = ops.floor(ops.divide(step, float(self.step_size)))
        return ops.multiply(
            ops.cast(self.initial_learning_rate, "float32"),
            ops.power(ops.cast(self.drop, "float32"), k),
        )

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "drop": self.drop,
            "step_size": self.step_size,
            "name": self.name,
        }
