"""tf.distribute helpers: the one place (with data/ and the TensorBoard
writers) where kerasreg speaks TensorFlow directly."""

from kerasreg.distribute.devices import cpu_mirrored_strategy, split_cpu

__all__ = ["cpu_mirrored_strategy", "split_cpu"]
