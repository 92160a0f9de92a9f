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

from kerasreg._lazy import lazy_names
from kerasreg.data.embedded import EMBEDDED
from kerasreg.data.info import DatasetInfo

# The tf.data pipelines: TensorFlow, loaded on first use (the embedded arrays above are numpy).
_LAZY = {"from_arrays": "loading", "load": "loading", "load_arrays": "loading"}


__getattr__ = lazy_names("kerasreg.data", _LAZY, globals())


__all__ = ["EMBEDDED", "DatasetInfo", "from_arrays", "load", "load_arrays"]
