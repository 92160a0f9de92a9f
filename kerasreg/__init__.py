"""kerasreg: the lecture's optimization and regularization techniques as Keras 3 parts.

Subpackages by kind of component: ``optimizers``, ``layers``, ``initializers``,
``regularizers``, ``constraints``, ``callbacks`` (backend-neutral, imported
here so that every serializable class is registered as ``kerasreg>Name``) and
``data``, ``augment``, ``distribute`` (TensorFlow-specific, imported on first
use).
"""

import importlib

from kerasreg import callbacks, constraints, initializers, layers, optimizers, regularizers
from kerasreg import stacked  # noqa: E402  (K copies of a model in one compiled program)

__version__ = "0.1.0"

_LAZY = ("data", "augment", "distribute", "testing", "study")


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f"kerasreg.{name}")
    raise AttributeError(f"module 'kerasreg' has no attribute {name!r}")


__all__ = [
    "callbacks",
    "constraints",
    "initializers",
    "layers",
    "optimizers",
    "regularizers",
    "stacked",
    *_LAZY,
]
