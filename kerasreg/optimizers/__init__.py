"""Optimizers that follow the lecture's update rules exactly."""

from kerasreg.optimizers.sgd import SGD

__all__ = ["SGD"]

from kerasreg.optimizers import schedules  # noqa: E402,F401  (learning-rate schedules)
from kerasreg.optimizers.adagrad import AdaGrad  # noqa: E402
from kerasreg.optimizers.adam import Adam  # noqa: E402
from kerasreg.optimizers.momentum import Momentum  # noqa: E402
from kerasreg.optimizers.nesterov import Nesterov  # noqa: E402
from kerasreg.optimizers.rmsprop import RMSProp  # noqa: E402

__all__ += ["AdaGrad", "Adam", "Momentum", "Nesterov", "RMSProp"]

from kerasreg.optimizers.gradient_clipping import GradientClipping  # noqa: E402
from kerasreg.optimizers.gradient_monitoring import GradientMonitoring  # noqa: E402
from kerasreg.optimizers.gradient_noise import GradientNoise  # noqa: E402
from kerasreg.optimizers.lookahead import Lookahead  # noqa: E402
from kerasreg.optimizers.weight_noise_optimizer import WeightNoiseOptimizer  # noqa: E402

__all__ += ["GradientClipping", "GradientMonitoring", "GradientNoise", "Lookahead",
            "WeightNoiseOptimizer"]
