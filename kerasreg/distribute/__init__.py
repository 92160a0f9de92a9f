"""tf.distribute helpers: the one place (with data/ and the TensorBoard
writers) where kerasreg speaks TensorFlow directly.

``replicas`` (used by backend-neutral components: optimizer wrappers, batch
normalization) imports TensorFlow only inside its functions, when a
tf.distribute strategy is active; the other modules import TensorFlow and are
loaded on first use of their names, so ``import kerasreg`` works on JAX or
torch without TensorFlow installed.
"""

import importlib

from kerasreg.distribute.replicas import cross_replica_sum, num_replicas_in_sync, replica_cond

_LAZY = {
    "cpu_mirrored_strategy": "devices",
    "get_strategy": "devices",
    "split_cpu": "devices",
    "Trainer": "trainer",
    "fit": "trainer",
    "enable_determinism": "determinism",
}


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f"kerasreg.distribute.{_LAZY[name]}")
        # Bind every name of that module here: importing it also set the package attribute of
        # the module's own name (``pipeline``, ``preview``), which the function must replace.
        for other, home in _LAZY.items():
            if home == _LAZY[name]:
                globals()[other] = getattr(module, other)
        return globals()[name]
    raise AttributeError(f"module 'kerasreg.distribute' has no attribute {name!r}")


__all__ = ["cross_replica_sum", "num_replicas_in_sync", "replica_cond", *_LAZY]
