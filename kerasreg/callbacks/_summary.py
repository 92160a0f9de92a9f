"""TensorBoard writing and argument checks shared by the kerasreg monitors (private).

Summaries are the ones TensorBoard's plugins build in numpy (``scalar_pb``,
``histogram_pb``, ``hparams_pb``), written as TensorBoard ``Event`` protocol
buffers in TFRecord framing (``_EventFile``: what TensorBoard's own
``RecordWriter`` writes, byte for byte).  Nothing runs a TensorFlow op or
compiles a function, and it works on every backend, TensorFlow installed or
not.  The checksums are CRC-32C from ``google-crc32c`` (C); TensorBoard's
writer computes them in pure Python, about 10 ms per epoch of per-step
gradient norms, in a thread that holds the interpreter lock the training
loop needs.  Writing happens in a background thread of the writer.
"""

import atexit
import itertools
import os
import socket
import struct
import time

import numpy as np

__all__ = ["SummaryWriter", "check_log_dir", "check_subdir", "check_batch", "check_fits_model",
           "monitor_log_dir", "readable_path"]


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


def check_fits_model(name, x, model):
    """A ``ValueError`` naming ``name`` if the array ``x``'s examples do not have
    the shape of the model's (single) input.

    Only where both are known: ``x`` one array, the model built with one
    ``keras.Input`` (a subclassed model without ``inputs`` is not checked).
    """
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return
    if not inputs or len(inputs) != 1 or isinstance(x, (list, tuple, dict)):
        return
    shape = getattr(x, "shape", None)
    if shape is None:
        return
    want = tuple(inputs[0].shape)[1:]
    got = tuple(int(d) for d in shape)[1:]
    if len(got) != len(want) or any(w is not None and int(w) != g for w, g in zip(want, got)):
        raise ValueError(f"`{name}` has examples of shape {got} but the model's input takes "
                         f"{tuple(want)}.")


def readable_path(variable, model):
    """``variable.path`` without the model's own name in front.

    Keras names models automatically (``sequential``, ``sequential_1``, ...),
    so the same network gets other paths in each run of a sweep; without the
    prefix ``sequential_1/dense/kernel`` is ``dense/kernel`` in every run.
    """
    path = variable.path
    prefix = f"{model.name}/"
    return path[len(prefix):] if path.startswith(prefix) else path


_OPEN = set()  # writers with an open file; closed at exit if their owner did not


def _crc32c():
    """The CRC-32C function: google-crc32c's C one, else TensorBoard's pure-Python one."""
    try:
        from google_crc32c import value

        return value
    except ImportError:  # an environment without the wheel (kerasreg depends on it): slower, same bytes
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import crc32c

        return crc32c


def masked_crc32c(data, crc32c=None):
    """TFRecord's masked CRC-32C of ``data``: ``((c >> 15) | (c << 17)) + 0xa282ead8`` mod 2^32."""
    c = (crc32c or _crc32c())(data) & 0xFFFFFFFF
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


class _EventFile:
    """One TensorBoard event file (``events.out.tfevents.<time>.<host>.<pid>.<n>``).

    Each record is the serialized ``Event`` in TFRecord framing: its length
    (uint64, little-endian), the masked CRC-32C of those 8 bytes, the bytes,
    their masked CRC-32C; the first event names the file version
    (``brain.Event:2``), as TensorBoard's ``EventFileWriter`` writes it.
    """

    _numbers = itertools.count()

    def __init__(self, path):
        from tensorboard.compat.proto import event_pb2

        name = "events.out.tfevents.%010d.%s.%s.%s" % (time.time(), socket.gethostname(), os.getpid(),
                                                     next(self._numbers))
        self._crc32c = _crc32c()
        self._file = open(os.path.join(path, name), "wb")
        self.add_event(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

    def add_event(self, event):
        data = event.SerializeToString()
        header = struct.pack("<Q", len(data))
        self._file.write(b"".join([header, struct.pack("<I", masked_crc32c(header, self._crc32c)), data,
                                   struct.pack("<I", masked_crc32c(data, self._crc32c))]))

    def flush(self):
        self._file.flush()

    def close(self):
        self._file.close()


@atexit.register
def _close_all():
    for writer in list(_OPEN):
        writer.close()


class SummaryWriter:
    """A lazily opened TensorBoard event file writer for one run directory.

    ``scalars``, ``histograms`` and ``series`` take numpy values and return at
    once: building the summaries and writing them happens, in call order, in
    one background thread (while the next epoch trains, its compiled steps
    hold no Python lock); ``close`` waits for it and raises what it raised.
    ``flush`` asks the file writer to flush once the pending work is done.

    ``writer`` is a ``tf.summary`` file writer for callers that run
    TensorFlow summary ops themselves (``with w.writer.as_default(): ...``);
    it writes its own event file in the same run.
    """

    def __init__(self, path):
        self.path = path
        self._events = None
        self._tf_writer = None
        self._scalar_metadata = None
        self._described = set()  # tags whose metadata this event file carries
        self._pool = None
        self._pending = []

    @property
    def events(self):
        """This run's event file (``_EventFile``), opened on first use."""
        if self._events is None:
            os.makedirs(self.path, exist_ok=True)
            self._events = _EventFile(self.path)
            _OPEN.add(self)
        return self._events

    @property
    def writer(self):
        if self._tf_writer is None:
            import tensorflow as tf

            self._tf_writer = tf.summary.create_file_writer(self.path)
            _OPEN.add(self)
        return self._tf_writer

    # -- the background thread -------------------------------------------------
    def _submit(self, fn, *args):
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kerasreg-summary")
            _OPEN.add(self)
        done = [f for f in self._pending if f.done()]
        for f in done:
            f.result()  # raise a failure here rather than never
        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(self._pool.submit(fn, *args))

    def wait(self):
        """Block until everything submitted so far is written to the writer."""
        pending, self._pending = self._pending, []
        for f in pending:
            f.result()

    # -- writing ---------------------------------------------------------------
    def summary(self, summary, step):
        """Write a ``Summary`` protocol buffer at ``step``."""
        self._submit(self._write, summary, int(step))

    def _write(self, summary, step):
        from tensorboard.compat.proto import event_pb2

        self.events.add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))

    def _scalar_summary(self, values):
        from tensorboard.compat.proto import summary_pb2, tensor_pb2, types_pb2

        if self._scalar_metadata is None:
            from tensorboard.plugins.scalar import metadata

            # What the scalar plugin's own `scalar_pb` writes; the plugin reads
            # a tag's metadata from its first event, so later ones leave it out.
            self._scalar_metadata = metadata.create_summary_metadata(
                display_name=None, description=None)
        summary = summary_pb2.Summary()
        for tag, value in values.items():
            entry = summary.value.add(tag=tag, tensor=tensor_pb2.TensorProto(
                dtype=types_pb2.DT_FLOAT, float_val=[float(value)]))
            if tag not in self._described:
                entry.metadata.CopyFrom(self._scalar_metadata)
                self._described.add(tag)
        return summary

    def scalars(self, values, step):
        """Write ``{tag: float}`` at ``step``."""
        values = {tag: float(v) for tag, v in values.items()}
        self._submit(lambda: self._write(self._scalar_summary(values), int(step)))

    def histogram(self, tag, values, step):
        self.histograms({tag: values}, step)

    def histograms(self, values, step):
        """Write ``{tag: array}`` as histograms (30 buckets) at ``step``."""
        arrays = {tag: np.array(a, dtype="float64") for tag, a in values.items()}  # copies

        def job():
            from tensorboard.compat.proto import summary_pb2
            from tensorboard.plugins.histogram.summary_v2 import histogram_pb

            summary = summary_pb2.Summary()
            for tag, array in arrays.items():
                summary.value.extend(histogram_pb(tag, array).value)
            self._write(summary, int(step))

        self._submit(job)

    def series(self, tags, steps, values):
        """Write ``values[k, j]`` under ``tags[j]`` at ``steps[k]``."""
        tags = list(tags)
        steps = np.array(steps, dtype="int64")
        values = np.array(values, dtype="float32").reshape(len(steps), len(tags))

        def job():
            from tensorboard.compat.proto import summary_pb2, types_pb2

            rows = values.tolist()
            if len(set(tags)) < len(tags) or not rows:
                for step, row in zip(steps.tolist(), rows):
                    self._write(self._scalar_summary(dict(zip(tags, row))), step)
                return
            # The first row carries the tags' metadata; the later ones refill
            # one template (a quarter of the time of building each value anew;
            # `Event(summary=...)` copies it).
            self._write(self._scalar_summary(dict(zip(tags, rows[0]))), int(steps[0]))
            template = summary_pb2.Summary()
            for tag in tags:
                entry = template.value.add(tag=tag)
                entry.tensor.dtype = types_pb2.DT_FLOAT
                entry.tensor.float_val.append(0.0)
            slots = [entry.tensor.float_val for entry in template.value]
            for step, row in zip(steps.tolist()[1:], rows[1:]):
                for slot, value in zip(slots, row):
                    slot[0] = value
                self._write(template, step)

        self._submit(job)

    def flush(self):
        if self._tf_writer is not None:
            self._tf_writer.flush()
        if self._pool is not None:
            self._submit(lambda: self._events is not None and self._events.flush())

    def close(self):
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
            if self._events is not None:
                self._events.close()
                self._events = None
                self._described = set()
            if self._tf_writer is not None:
                self._tf_writer.flush()
                self._tf_writer.close()
                self._tf_writer = None
            _OPEN.discard(self)
