"""kerasreg.layers."""

from kerasreg.layers.batch_normalization import BatchNormalization
from kerasreg.layers.drop_connect import DropConnect
from kerasreg.layers.dropout import Dropout
from kerasreg.layers.monte_carlo import monte_carlo_predict
from kerasreg.layers.stochastic_depth import StochasticDepth
from kerasreg.layers.weight_noise import WeightNoise

__all__ = [
    "BatchNormalization",
    "DropConnect",
    "Dropout",
    "StochasticDepth",
    "WeightNoise",
    "monte_carlo_predict",
]
