"""The small record that comes with every dataset kerasreg loads."""

import dataclasses
from typing import Optional

__all__ = ["DatasetInfo"]


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a loaded dataset.

    Attributes:
        name: the dataset's name (embedded name, tfds name or folder path).
        task: ``"classification"`` or ``"regression"``.
        input_shape: shape of one input example, e.g. ``(8, 8, 1)`` or ``(64,)``.
        num_classes: number of classes (``None`` for regression).
        class_names: the classes' names, index = label (empty for regression).
        split_sizes: ``{"train": n, "validation": n, "test": n}`` examples.
        value_range: ``(low, high)`` of the inputs before normalization
            (``(0, 1)`` for images).
        normalizer: the ``keras.layers.Normalization`` adapted on the
            training split (``None`` without ``normalize=True``).
        one_hot: whether labels are one-hot vectors (else integer ids).
    """

    name: str
    task: str
    input_shape: tuple
    num_classes: Optional[int]
    class_names: tuple
    split_sizes: dict
    value_range: Optional[tuple] = None
    normalizer: object = None
    one_hot: bool = False

    @property
    def is_image(self):
        """Whether the inputs are images ``(height, width, channels)``."""
        return len(self.input_shape) == 3
