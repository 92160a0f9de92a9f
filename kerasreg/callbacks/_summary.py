"""TensorBoard writing and argument checks shared by the kerasreg monitors (private).

This is TensorBoard-writing code, so it may use ``tf.summary`` (TensorFlow is a
dependency of kerasreg on every backend; the writer runs eagerly and never
touches the model's compiled step).  All writing goes through TensorBoard's own
``tf.summary`` file writers; nothing here formats event files by hand.

Many scalars at many steps (a gradient monitor logging every step) are written
by one compiled ``tf.function`` per set of tags, so an epoch's worth of
per-step values costs one call instead of one eager summary op per value.
"""

import os

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
    """A lazily opened ``tf.summary`` file writer for one run directory."""

    def __init__(self, path):
        self.path = path
        self._writer = None
        self._series_fns = {}
        self._histogram_fns = {}

    @property
    def writer(self):
        if self._writer is None:
            import tensorflow as tf

            self._writer = tf.summary.create_file_writer(self.path)
        return self._writer

    def scalars(self, values, step):
        """Write ``{tag: float}`` at ``step``."""
        import tensorflow as tf

        with self.writer.as_default():
            for tag, value in values.items():
                tf.summary.scalar(tag, float(value), step=int(step))

    def histogram(self, tag, values, step):
        import tensorflow as tf

        with self.writer.as_default():
            tf.summary.histogram(tag, np.asarray(values, dtype="float32"), step=int(step))

    def histograms(self, values, step):
        """Write ``{tag: array}`` as histograms at ``step``, in one compiled call."""
        import tensorflow as tf

        if not values:
            return
        arrays = [np.asarray(v, dtype="float32") for v in values.values()]
        key = tuple((tag, a.shape) for tag, a in zip(values, arrays))
        fn = self._histogram_fns.get(key)
        if fn is None:
            writer = self.writer
            tags = list(values)

            @tf.function
            def fn(step, *arrays):
                with writer.as_default():
                    for tag, a in zip(tags, arrays):
                        tf.summary.histogram(tag, a, step=step)
                return tf.constant(True)

            self._histogram_fns[key] = fn
        fn(tf.constant(int(step), tf.int64), *arrays)

    def series(self, tags, steps, values):
        """Write ``values[k, j]`` under ``tags[j]`` at ``steps[k]``, in one call."""
        import tensorflow as tf

        steps = np.asarray(steps, dtype="int64")
        values = np.asarray(values, dtype="float32").reshape(len(steps), len(tags))
        if len(steps) == 0:
            return
        key = tuple(tags)
        fn = self._series_fns.get(key)
        if fn is None:
            from tensorboard.plugins.scalar import metadata as scalar_metadata

            writer = self.writer
            # tf.summary.scalar would prefix the loop's name scope ("while/")
            # to the tag; write the scalar plugin's summary directly instead.
            meta = scalar_metadata.create_summary_metadata(display_name=None, description=None)

            @tf.function(
                input_signature=[
                    tf.TensorSpec([None], tf.int64),
                    tf.TensorSpec([None, len(key)], tf.float32),
                ]
            )
            def fn(steps, values):
                with writer.as_default():
                    for k in tf.range(tf.shape(steps)[0]):
                        for j, tag in enumerate(key):
                            tf.summary.write(tag, values[k, j], step=steps[k],
                                             metadata=meta)
                return tf.constant(True)

            self._series_fns[key] = fn
        fn(steps, values)

    def flush(self):
        if self._writer is not None:
            self._writer.flush()

    def close(self):
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None
            self._series_fns = {}
            self._histogram_fns = {}
