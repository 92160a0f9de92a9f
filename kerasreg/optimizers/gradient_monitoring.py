"""Per-variable gradient norms recorded in optimizer variables, in the compiled step."""

import keras
from keras import ops

from kerasreg import _keras_compat
from kerasreg._validation import check_bool, check_int
from kerasreg.api_export import kerasreg_export
from kerasreg.optimizers.optimizer_wrapper import OptimizerWrapper


def safe_norm(g, axis=None):
    """``||g||_2`` over ``axis`` in float32 without overflow: ``m ||g / m||`` with ``m = max |g|``.

    The squares of a gradient above ~1.8e19 overflow float32 even where its
    norm does not (the lecture's exploding network reaches ``100 * 2^99`` at
    ``n = 100``), and those of entries below ~1e-23 are 0.  ``axis``: ``None``
    (the whole tensor) or the axes reduced, as in ``ops.sum``.
    """
    g = ops.cast(g, "float32")
    m = ops.max(ops.abs(g), axis=axis, keepdims=True)
    m = ops.where(ops.logical_and(m > 0, ops.isfinite(m)), m, ops.ones_like(m))
    # the max over `axis` of the kept size-1 axes drops them
    return ops.max(m, axis=axis) * ops.sqrt(ops.sum(ops.square(g / m), axis=axis))


def _is_indexed_slices(g):
    # By name: TensorFlow is not imported on the other backends, and torch
    # tensors also have `.indices` and `.values` (methods of sparse tensors).
    return type(g).__name__ == "IndexedSlices"


@kerasreg_export
class GradientMonitoring(OptimizerWrapper):
    """Record ``||g_j||`` of every variable's gradient, then let the inner optimizer update.

    For every trainable variable ``w_j`` with mini-batch gradient ``g_j`` at
    update ``t`` (``t`` counted by ``iterations`` from 0), when
    ``t mod N == 0`` the wrapper stores

    ```
    ||g_j||_2 = sqrt(sum g_j^2)                      for every j
    ```

    as one row of a ring buffer of ``capacity`` rows, inside the compiled
    train step (XLA included, every backend); the inner optimizer then
    updates with the gradient unchanged.  ``N`` is ``every_n_steps``.  This
    is the recording half of ``kerasreg.callbacks.GradientMonitor``, which
    reads the buffer once per epoch, computes layer and global norms and the
    exploding / vanishing verdict, and writes TensorBoard.  Build it with
    ``GradientMonitor.wrap(optimizer)`` so both agree on ``N``.

    State (non-trainable optimizer variables, saved with the model):

    * ``norms``: ``(capacity, P)`` float32, row ``k mod capacity`` holds the
      ``k``-th recorded step's norms, column ``j`` variable ``j`` of
      ``monitored_variables``;
    * ``norm_steps``: ``(capacity,)`` int32, the update index ``t`` of each row;
    * ``norm_count``: int32, the number of rows ever recorded;
    * ``gradients`` (only with ``keep_gradients=True``): a copy of each
      variable's gradient at the last recorded step, for histograms.

    Departures: under ``tf.distribute`` the norms are those of the gradient
    summed over replicas (the global batch's), divided by the inner
    optimizer's ``loss_scale_factor``; they are measured before the inner
    optimizer's own clipping and before any ``GradientClipping`` placed
    inside this wrapper.  The norm is computed as ``sqrt(sum g^2)``, and
    again as ``m ||g / m||`` with ``m = max |g|`` at a step where a sum of
    squares overflowed or fell below ``1e-20``, so that gradients whose
    squares overflow (or underflow) float32 still get the right norm.  Between
    recorded steps (``every_n_steps > 1``) no norm is computed.  With gradient accumulation on the inner optimizer,
    each micro-batch's gradient is a step.

    Args:
        optimizer: the inner optimizer (Keras' or kerasreg's).
        every_n_steps: int >= 1, ``N``. Defaults to ``1``.
        capacity: int >= 1, rows of the ring buffer: recorded steps kept
            between two reads. Defaults to ``1024``.
        keep_gradients: bool, keep a copy of the last recorded gradient.
            Defaults to ``False``.
        name: optional name.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> opt = GradientMonitoring(keras.optimizers.SGD(0.1), every_n_steps=10)
    >>> model.compile(optimizer=opt, loss="mse")

    Reference:
        Goodfellow, Bengio and Courville, "Deep Learning", 2016, section 8.2.5.
    """

    def __init__(self, optimizer, every_n_steps=1, capacity=1024, keep_gradients=False,
                 name=None, **kwargs):
        super().__init__(optimizer, name=name, **kwargs)
        self.every_n_steps = check_int("every_n_steps", every_n_steps, low=1)
        self.capacity = check_int("capacity", capacity, low=1)
        self.keep_gradients = check_bool("keep_gradients", keep_gradients)

    def build(self, var_list):
        super().build(var_list)
        self.norms = self._add_state("norms", shape=(self.capacity, len(var_list)))
        self.norm_steps = self._add_state("norm_steps", shape=(self.capacity,), dtype="int32")
        self.norm_count = self._add_state("norm_count", dtype="int32")
        self.gradients = []
        if self.keep_gradients:
            for j, v in enumerate(var_list):
                self.gradients.append(self._add_state(f"gradient_{j}", shape=v.shape, dtype=v.dtype))

    @property
    def monitored_variables(self):
        """The variables whose gradient norms are recorded, column by column."""
        return list(_keras_compat.optimizer_trainable_variables(self))

    def _norm_row(self, grads):
        """``||g_j||`` of every column as a ``(P,)`` float32 vector (0 where ``g_j`` is None).

        ``sqrt(sum g_j^2)``: two passes over each gradient.  Where a sum of
        squares overflowed (a huge but finite gradient) or is below ``1e-20``
        (squares of tiny entries underflow, to 0 below ~1e-23), the whole row is recomputed with
        ``safe_norm``; a tensor ``cond`` runs that branch only then.
        """
        dense = []
        for g in grads:
            if g is not None and _is_indexed_slices(g):
                g = g.values  # embeddings' sparse gradient: the rows it touches
            dense.append(g)

        def squares():
            return ops.stack([ops.zeros((), "float32") if g is None
                              else ops.sum(ops.square(ops.cast(g, "float32"))) for g in dense])

        def safe():
            return ops.stack([ops.zeros((), "float32") if g is None else safe_norm(g)
                              for g in dense])

        sums = squares()
        # A sum of 0 is not trusted either: entries below ~1e-23 square to 0 in float32 (the lecture's
        # vanishing network at depth 100), so only an absent gradient (None) is a plain 0.
        present = ops.convert_to_tensor([g is not None for g in dense])
        plain = ops.logical_or(ops.logical_not(present), ops.logical_and(ops.isfinite(sums), sums >= 1e-20))
        return ops.cond(ops.all(plain), lambda: ops.sqrt(sums), safe)

    def _apply_wrapped(self, grads, variables):
        summed = self._global_gradient(grads)
        by_index = {_keras_compat.optimizer_variable_index(self, v): g
                    for g, v in zip(summed, variables)}
        width = len(_keras_compat.optimizer_trainable_variables(self))
        in_order = [by_index.get(j) for j in range(width)]
        step = ops.cast(self.iterations, "int32")
        if self.every_n_steps == 1:
            logged = None
            row = self._norm_row(in_order)
        else:  # the norms only at the recorded steps
            logged = ops.equal(ops.mod(step, self.every_n_steps), 0)
            row = ops.cond(logged, lambda: self._norm_row(in_order),
                           lambda: ops.zeros((width,), "float32"))
        # The row goes to the next free slot at every step; only a recorded
        # step advances `norm_count`, so an unrecorded one is overwritten.
        count = self.norm_count.value
        slot = ops.mod(count, self.capacity)
        # A scatter, not `slice_update`: on TensorFlow without XLA that is an XLA op compiled on
        # demand (~0.1 ms a call on the benchmark's CPU, a third of the wrapper's cost), a scatter
        # is a plain kernel; on JAX both are the same dynamic update.
        cells = ops.stack([ops.full((width,), slot, dtype="int32"), ops.arange(width, dtype="int32")], axis=1)
        self.norms.assign(ops.scatter_update(self.norms.value, cells, row))
        self.norm_steps.assign(ops.scatter_update(self.norm_steps.value, ops.reshape(slot, (1, 1)),
                                                  ops.reshape(step, (1,))))
        self.norm_count.assign(count + (1 if logged is None else ops.cast(logged, "int32")))
        for j, keep in enumerate(self.gradients):
            g = in_order[j]
            if g is not None and not _is_indexed_slices(g):
                value = ops.cast(g, keep.dtype)
                keep.assign(value if logged is None else ops.where(logged, value, keep.value))
        self.optimizer.apply(grads, variables)

    def get_config(self):
        config = super().get_config()
        config.update({"every_n_steps": self.every_n_steps, "capacity": self.capacity,
                       "keep_gradients": self.keep_gradients})
        return config
