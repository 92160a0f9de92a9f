"""Optimizers that follow the lecture's update rules exactly."""

from kerasreg.optimizers.sgd import SGD

__all__ = ["SGD"]
