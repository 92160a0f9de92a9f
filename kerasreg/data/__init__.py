"""kerasreg.data: datasets as tf.data pipelines (or numpy arrays), offline first.

``load(name)`` returns ``(train, validation, test, info)``: embedded datasets
(``digits``, ``noisy_sine``, ``moons``, ``circles``, ``blobs``) need no
network; tensorflow-datasets names read a prepared copy and never download;
a folder path reads one sub-folder of images per class.  Optional
normalization (adapted on training data only), augmentation and label noise
(training only) from ``kerasreg.augment``.  ``load_arrays`` gives the embedded
datasets as numpy arrays; ``from_arrays`` runs your own arrays through the
same splits and pipeline.
"""

import importlib

from kerasreg.data.embedded import EMBEDDED
from kerasreg.data.info import DatasetInfo

# The tf.data pipelines: TensorFlow, loaded on first use (the embedded arrays above are numpy).
_LAZY = {"from_arrays": "load", "load": "load", "load_arrays": "load"}


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f"kerasreg.data.{_LAZY[name]}")
        # Bind every name of that module here: importing it also set the package attribute of
        # the module's own name (``load``), which the function must replace.
        for other, home in _LAZY.items():
            if home == _LAZY[name]:
                globals()[other] = getattr(module, other)
        return globals()[name]
    raise AttributeError(f"module 'kerasreg.data' has no attribute {name!r}")


__all__ = ["EMBEDDED", "DatasetInfo", "from_arrays", "load", "load_arrays"]
