"""Several logical devices on one CPU, to test multi-replica behaviour anywhere."""

import tensorflow as tf

from kerasreg._validation import check_int


def split_cpu(n=2):
    """Split the first physical CPU into ``n`` logical devices.

    Must run before TensorFlow initializes its devices (before the first op).
    Calling it again with the same ``n`` is a no-op.

    Returns:
        The list of logical CPU devices.
    """
    n = check_int("n", n, low=1)
    cpus = tf.config.list_physical_devices("CPU")
    current = tf.config.get_logical_device_configuration(cpus[0])
    if current is not None and len(current) == n:
        return tf.config.list_logical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
        )
    except RuntimeError as e:
        have = len(tf.config.list_logical_devices("CPU"))
        if have >= n:
            return tf.config.list_logical_devices("CPU")
        raise RuntimeError(
            f"split_cpu(n={n}) must run before TensorFlow initializes its devices; "
            f"it already has {have} logical CPU device(s). Call it first thing."
        ) from e
    return tf.config.list_logical_devices("CPU")


_STRATEGIES = {}


def cpu_mirrored_strategy(n=2):
    """A ``MirroredStrategy`` over ``n`` logical CPU devices (see ``split_cpu``).

    One strategy per ``n`` and process, made on the first call and returned
    again after: every new ``MirroredStrategy`` restarts its collective group
    and instance keys at the same values, and the runtime keeps the shapes of
    earlier collectives by key, so a second strategy whose all-reduces differ
    in shape from the first's (synchronized batch norm after a plain model)
    aborts with "Shape mismatch in the collective instance".
    """
    if n in _STRATEGIES:
        return _STRATEGIES[n]
    devices = split_cpu(n)
    if len(devices) < n:
        raise RuntimeError(f"need {n} logical CPU devices, have {len(devices)}")
    names = [d.name for d in devices[:n]]
    _STRATEGIES[n] = tf.distribute.MirroredStrategy(names)
    return _STRATEGIES[n]


STRATEGY_NAMES = ("mirrored", "multi_worker")


def get_strategy(name):
    """A ``tf.distribute`` strategy by the name recipes take (``--strategy``).

    ``None`` gives ``None`` (no strategy); ``"mirrored"`` a ``MirroredStrategy``
    over the local devices; ``"multi_worker"`` a
    ``MultiWorkerMirroredStrategy`` that reads ``TF_CONFIG`` (see
    docs/multi_worker.md).  Train the latter with ``kerasreg.distribute.fit``:
    Keras' ``model.fit`` does not run under it.
    """
    if name is None:
        return None
    if name not in STRATEGY_NAMES:
        raise ValueError(f"`strategy` must be one of {STRATEGY_NAMES} or None, got {name!r}.")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MultiWorkerMirroredStrategy()
