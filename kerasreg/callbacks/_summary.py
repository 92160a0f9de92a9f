"""TensorBoard writing shared by the kerasreg monitors (private).

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

__all__ = ["SummaryWriter", "monitor_log_dir"]


def monitor_log_dir(log_dir, subdir):
    """``log_dir/subdir``: the sub-run a monitor writes into, or ``None``."""
    if log_dir is None:
        return None
    return os.path.join(os.fspath(log_dir), subdir) if subdir else os.fspath(log_dir)


class SummaryWriter:
    """A lazily opened ``tf.summary`` file writer for one run directory."""

    def __init__(self, path):
        self.path = path
        self._writer = None
        self._series_fns = {}

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
