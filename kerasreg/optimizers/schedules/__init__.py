"""Learning-rate schedules, evaluated in-graph with ``keras.ops``.

Keras' own ``keras.optimizers.schedules.ExponentialDecay``, ``CosineDecay``
(with its ``warmup_steps``) and ``keras.callbacks.ReduceLROnPlateau`` are
reused as they are, not rewritten; kerasreg adds step decay, a warm-up
wrapper around any schedule, one-cycle and cyclical rates.
"""

from kerasreg.optimizers.schedules.cyclical import Cyclical
from kerasreg.optimizers.schedules.one_cycle import OneCycle
from kerasreg.optimizers.schedules.step_decay import StepDecay
from kerasreg.optimizers.schedules.warmup import Warmup

__all__ = ["Cyclical", "OneCycle", "StepDecay", "Warmup"]
