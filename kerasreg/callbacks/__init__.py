"""kerasreg.callbacks."""
from kerasreg.callbacks.swap_nesterov_weights import SwapNesterovWeights  # noqa: E402,F401
from kerasreg.callbacks.backup_and_restore import BackupAndRestore  # noqa: E402,F401
from kerasreg.callbacks.early_stopping import EarlyStopping  # noqa: E402,F401
from kerasreg.callbacks.gradient_monitor import GradientMonitor  # noqa: E402,F401
from kerasreg.callbacks.curvature_monitor import CurvatureMonitor  # noqa: E402,F401
from kerasreg.callbacks.activation_monitor import ActivationMonitor  # noqa: E402,F401
from kerasreg.callbacks.clipping_monitor import ClippingMonitor  # noqa: E402,F401
from kerasreg.callbacks.tensorboard import HParamsLogger, tensorboard_callbacks  # noqa: E402,F401
from kerasreg.callbacks.stop_on_nonfinite import StopOnNonFinite  # noqa: E402,F401
from kerasreg.callbacks.weight_noise_callback import WeightNoiseCallback  # noqa: E402,F401
from kerasreg.callbacks.lr_finder import LRFinderResult, find_learning_rate  # noqa: E402,F401
from kerasreg.callbacks.learning_rate_logger import LearningRateLogger  # noqa: E402,F401
from kerasreg.callbacks.swa import StochasticWeightAveraging  # noqa: E402,F401
from kerasreg.callbacks.training_time import continue_until_validation_below, retrain_for_best_steps  # noqa: E402,F401,E501
