"""TensorBoard writing and argument checks shared by the kerasreg monitors (private).

The writer is TensorBoard's own pure-Python one
(``tensorboard.summary.writer.event_file_writer.EventFileWriter``, the one
PyTorch's ``SummaryWriter`` uses) fed with the summaries TensorBoard's
plugins build in numpy (``scalar_pb``, ``histogram_pb``, ``hparams_pb``):
nothing here formats event files by hand, nothing runs a TensorFlow op or
compiles a function, and it works on every backend, TensorFlow installed or
not.  Writing an epoch's worth of per-step scalars costs microseconds per
value, in a background thread of the writer.
"""

import os
import time

import numpy as np

__all__ = ["SummaryWriter", "check_log_dir", "check_subdir", "check_batch", "monitor_log_dir",
           "readable_path"]


def monitor_log_dir(log_dir, subdir):
    """``log_dir/subdir``: the sub-run a monitor writes into, or ``None``."""
    if log_dir is None:
        return None
    return os.path.join(os.fspath(log_dir), subdir) if subdir else os.fspath(log_dir)


def check_log_dir(log_dir):
    """``log_dir`` as a string path, or ``None``; a ``TypeError`` naming it otherwise."""
    if log_dir is None:
        return None
    try:
        return os.fspath(log_dir)
    except TypeError:
        raise TypeError(f"`log_dir` must be a path (str or os.PathLike) or None, "
                        f"got {log_dir!r} of type {type(log_dir).__name__}.") from None


def check_subdir(subdir):
    """``subdir`` if it is a string; a ``TypeError`` naming it otherwise."""
    if not isinstance(subdir, str):
        raise TypeError(f"`subdir` must be a string, got {subdir!r} of type "
                        f"{type(subdir).__name__}.")
    return subdir


def _length(name, value):
    if value is None:
        raise TypeError(f"`{name}` must be an array (or a list/dict of arrays for a model "
                        "with several inputs), got None.")
    if isinstance(value, dict):
        parts = list(value.values())
    elif isinstance(value, (list, tuple)) and value and hasattr(value[0], "shape"):
        parts = list(value)
    else:
        parts = [value]
    lengths = set()
    for part in parts:
        shape = getattr(part, "shape", None)
        if shape is None:
            try:
                shape = np.asarray(part).shape
            except Exception:  # noqa: BLE001 - reported below with the argument's name
                shape = None
        if shape is None or len(shape) == 0 or isinstance(part, (str, bytes)):
            raise TypeError(f"`{name}` must be an array with a batch axis (or a list/dict of "
                            f"them), got {part!r} of type {type(part).__name__}.")
        lengths.add(int(shape[0]))
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"`{name}` must hold at least one example and the same number of "
                         f"examples in every input; got lengths {sorted(lengths)}.")
    return lengths.pop()


def check_batch(**arrays):
    """Check a fixed batch given as ``name=array`` pairs: each has a batch
    axis, all have the same length.

    Returns the number of examples.  Errors name the argument.
    """
    (first, value), *rest = arrays.items()
    n = _length(first, value)
    for name, other in rest:
        m = _length(name, other)
        if m != n:
            raise ValueError(f"`{name}` has {m} examples but `{first}` has {n}; they must "
                             "have the same length.")
    return n


def readable_path(variable, model):
    """``variable.path`` without the model's own name in front.

    Keras names models automatically (``sequential``, ``sequential_1``, ...),
    so the same network gets other paths in each run of a sweep; without the
    prefix ``sequential_1/dense/kernel`` is ``dense/kernel`` in every run.
    """
    path = variable.path
    prefix = f"{model.name}/"
    return path[len(prefix):] if path.startswith(prefix) else path


class SummaryWriter:
    """A lazily opened TensorBoard event file writer for one run directory.

    ``writer`` is a ``tf.summary`` file writer for callers that run
    TensorFlow summary ops themselves (``with w.writer.as_default(): ...``);
    it writes its own event file in the same run.
    """

    def __init__(self, path):
        self.path = path
        self._events = None
        self._tf_writer = None

    @property
    def events(self):
        """TensorBoard's pure-Python ``EventFileWriter`` for this run."""
        if self._events is None:
            from tensorboard.summary.writer.event_file_writer import EventFileWriter

            os.makedirs(self.path, exist_ok=True)
            self._events = EventFileWriter(self.path)
        return self._events

    @property
    def writer(self):
        if self._tf_writer is None:
            import tensorflow as tf

            self._tf_writer = tf.summary.create_file_writer(self.path)
        return self._tf_writer

    def summary(self, summary, step):
        """Write a ``Summary`` protocol buffer at ``step``."""
        from tensorboard.compat.proto import event_pb2

        self.events.add_event(event_pb2.Event(wall_time=time.time(), step=int(step),
                                              summary=summary))

    def scalars(self, values, step):
        """Write ``{tag: float}`` at ``step``."""
        from tensorboard.compat.proto import summary_pb2
        from tensorboard.plugins.scalar.summary_v2 import scalar_pb

        summary = summary_pb2.Summary()
        for tag, value in values.items():
            summary.value.extend(scalar_pb(tag, np.float32(value)).value)
        self.summary(summary, step)

    def histogram(self, tag, values, step):
        self.histograms({tag: values}, step)

    def histograms(self, values, step):
        """Write ``{tag: array}`` as histograms (30 buckets) at ``step``."""
        from tensorboard.compat.proto import summary_pb2
        from tensorboard.plugins.histogram.summary_v2 import histogram_pb

        summary = summary_pb2.Summary()
        for tag, array in values.items():
            summary.value.extend(histogram_pb(tag, np.asarray(array, "float64")).value)
        self.summary(summary, step)

    def series(self, tags, steps, values):
        """Write ``values[k, j]`` under ``tags[j]`` at ``steps[k]``."""
        steps = np.asarray(steps, dtype="int64")
        values = np.asarray(values, dtype="float32").reshape(len(steps), len(tags))
        for step, row in zip(steps, values):
            self.scalars(dict(zip(tags, row)), step)

    def flush(self):
        for w in (self._events, self._tf_writer):
            if w is not None:
                w.flush()

    def close(self):
        if self._events is not None:
            self._events.close()
            self._events = None
        if self._tf_writer is not None:
            self._tf_writer.flush()
            self._tf_writer.close()
            self._tf_writer = None
