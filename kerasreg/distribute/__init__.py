"""tf.distribute helpers: the one place (with data/ and the TensorBoard
writers) where kerasreg speaks TensorFlow directly."""

from kerasreg.distribute.devices import cpu_mirrored_strategy, get_strategy, split_cpu
from kerasreg.distribute.replicas import cross_replica_sum, num_replicas_in_sync, replica_cond

__all__ = [
    "cpu_mirrored_strategy",
    "cross_replica_sum",
    "get_strategy",
    "num_replicas_in_sync",
    "replica_cond",
    "split_cpu",
]
from kerasreg.distribute.trainer import Trainer, fit  # noqa: E402

__all__ += ["Trainer", "fit"]
from kerasreg.distribute.determinism import enable_determinism  # noqa: E402

__all__ += ["enable_determinism"]
