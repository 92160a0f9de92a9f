"""Cross-replica helpers for optimizers that must see the *global* gradient.

Under ``tf.distribute`` Keras' TensorFlow trainer runs ``train_step`` once per
replica with the loss scaled by ``1/R`` (``R`` replicas), and the optimizer
sums the per-replica gradients (an all-reduce) just before the update.  A
wrapper that transforms the gradient (clipping, noise) must act on that sum,
so it all-reduces first (``cross_replica_sum``), transforms, and hands
``G'/R`` to the inner optimizer, whose own all-reduce then yields exactly
``G'`` (exactly for ``R`` a power of two; to one rounding otherwise).

Every helper is the identity (or a plain ``keras.ops.cond``) without a
strategy and on the JAX and torch backends, where a jitted step already sees
the global gradient.
"""

import keras
from keras import ops

from kerasreg import _keras_compat

__all__ = ["cross_replica_sum", "num_replicas_in_sync", "replica_cond"]


def _tf_strategy_active():
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return tf.distribute.has_strategy() and tf.distribute.in_cross_replica_context() is False


def num_replicas_in_sync():
    """Number of replicas summed by the optimizer's all-reduce (1 off tf.distribute)."""
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def cross_replica_sum(tensors):
    """Sum each tensor over the replicas in sync (``None`` entries kept).

    Called in a replica context (inside ``train_step``).  Returns the list
    unchanged when there is one replica, no strategy, or a non-TF backend.
    """
    tensors = list(tensors)
    if not _tf_strategy_active() or num_replicas_in_sync() == 1:
        return tensors
    import tensorflow as tf

    present = [i for i, t in enumerate(tensors) if t is not None]
    reduced = tf.distribute.get_replica_context().all_reduce(
        tf.distribute.ReduceOp.SUM, [tensors[i] for i in present]
    )
    out = list(tensors)
    for i, r in zip(present, reduced):
        out[i] = r
    return out


def replica_cond(pred, true_fn, false_fn, args=()):
    """``ops.cond(pred, true_fn(*args), false_fn(*args))`` for stateful branches
    that may call ``merge_call`` (an optimizer's ``apply`` does).

    ``tf.distribute`` forbids a ``merge_call`` inside a ``cond`` built in a
    replica context, so under a strategy the predicate (identical on every
    replica: it must be computed from all-reduced values) is taken in the
    cross-replica context and each branch runs again per replica, as Keras'
    ``LossScaleOptimizer`` does.  The branches return nothing.
    """
    def t():
        true_fn(*args)

    def f():
        false_fn(*args)

    if not _tf_strategy_active():
        ops.cond(pred, t, f)
        return
    import tensorflow as tf

    if _keras_compat.strategy_supports_no_merge_call():
        ops.cond(pred, t, f)
        return

    def merge_fn(distribution, pred, *args):
        first = distribution.experimental_local_results(pred)[0]

        def t_all():
            distribution.extended.call_for_each_replica(true_fn, args=args)

        def f_all():
            distribution.extended.call_for_each_replica(false_fn, args=args)

        tf.cond(first, t_all, f_all)

    tf.distribute.get_replica_context().merge_call(merge_fn, args=(pred, *args))
