"""tf.distribute helpers: the one place (with data/ and the TensorBoard
writers) where kerasreg speaks TensorFlow directly.

``replicas`` (used by backend-neutral components: optimizer wrappers, batch
normalization) imports TensorFlow only inside its functions, when a
tf.distribute strategy is active; the other modules import TensorFlow and are
loaded on first use of their names, so ``import kerasreg`` works on JAX or
torch without TensorFlow installed.
"""

from kerasreg._lazy import lazy_names
from kerasreg.distribute.replicas import cross_replica_sum, num_replicas_in_sync, replica_cond

_LAZY = {
    "cpu_mirrored_strategy": "devices",
    "get_strategy": "devices",
    "split_cpu": "devices",
    "Trainer": "trainer",
    "fit": "trainer",
    "enable_determinism": "determinism",
}


__getattr__ = lazy_names("kerasreg.distribute", _LAZY, globals())


__all__ = ["cross_replica_sum", "num_replicas_in_sync", "replica_cond", *_LAZY]
