"""kerasreg.callbacks."""
from kerasreg.callbacks.swap_nesterov_weights import SwapNesterovWeights  # noqa: E402,F401
