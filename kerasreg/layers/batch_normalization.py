"""Batch normalization with running statistics, as the lecture writes it."""

import keras
from keras import ops

from kerasreg._validation import check_bool, check_float, check_int
from kerasreg.api_export import kerasreg_export
from kerasreg.distribute.replicas import cross_replica_sum


@kerasreg_export
class BatchNormalization(keras.layers.Layer):
    """Batch normalization (optionally synchronized, optionally ghost batches).

    The lecture's rule, for a mini-batch ``H`` of ``m`` activations of ``K``
    units (``H`` is ``m x K``; the statistics are per unit):

    ```
    mu      = 1/m sum_i H_i,:
    sigma   = sqrt(1/m sum_i (H - mu)_i^2 + delta)
    H'      = (H - mu) / sigma
    output  = gamma * H' + beta
    ```

    ``delta`` is ``epsilon``; ``gamma`` (``scale=True``) and ``beta``
    (``center=True``) are learned per unit.  "Unit" is the entry of ``axis``:
    after ``Dense`` the last axis, after ``Conv2D`` the channel axis, and the
    statistics are taken over every other axis (examples and positions).

    At test time ``mu`` and ``sigma`` are replaced by running averages
    collected during training.  Each training call updates, with ``alpha`` =
    ``momentum``,

    ```
    moving_mean     <- alpha * moving_mean     + (1 - alpha) * mu
    moving_variance <- alpha * moving_variance + (1 - alpha) * (sigma^2 - delta)
    ```

    and inference computes ``sigma = sqrt(moving_variance + delta)``.  Storing
    ``sigma^2 - delta`` (the biased batch variance) rather than ``sigma^2`` is
    the only bookkeeping choice; it makes the variables, the saved weights and
    every output identical to ``keras.layers.BatchNormalization``'s for the
    same configuration.

    ``synchronized=True`` takes ``mu`` and ``sigma`` over the global batch, all
    replicas together (TensorFlow ``tf.distribute``), so that training on ``n``
    replicas equals training on one.  On JAX the layer sees the global
    (sharded) array under ``keras.distribution``, so its statistics are already
    global; the torch backend has no synchronized path (``ValueError``).

    ``virtual_batch_size=v`` is ghost batch normalization (Hoffer et al.,
    2017): in training each mini-batch is split into consecutive groups of
    ``v`` examples and each group is normalized with its own ``mu`` and
    ``sigma``; the moving averages are updated with the average over the
    groups of their ``mu`` and of their ``sigma^2 - delta`` (as
    tf.keras 2 did).  The mini-batch size must be a multiple of ``v``.
    Inference is unchanged.  Under ``synchronized=True`` the groups stay per
    replica (so that ``n`` replicas equal one when each replica's batch is a
    multiple of ``v``) and the averages over groups are global.

    Masking follows Keras: with a ``mask`` (from ``keras.layers.Masking`` or
    an ``Embedding(mask_zero=True)``, one dimension less than the input),
    ``mu`` and ``sigma`` are taken over the unmasked positions only (``m`` is
    their count; an all-masked batch gives ``mu = 0`` and ``sigma^2 - delta
    = 0`` rather than 0/0, and the moving averages move towards those values,
    as in Keras); at inference the mask changes nothing.  Under
    ``synchronized=True`` the masked sums and counts are global.

    Departures: no batch renormalization.  Inputs in float16/bfloat16 are
    normalized in float32, as in Keras.

    Args:
        axis: int, the unit (feature) axis; negative counts from the end.
            Defaults to ``-1``.
        momentum: float in [0, 1], ``alpha`` of the running averages.
            Defaults to ``0.99``.
        epsilon: float > 0, ``delta``.  Defaults to ``1e-3``.
        center: bool, learn ``beta``.  Defaults to ``True``.
        scale: bool, learn ``gamma``.  Defaults to ``True``.
        synchronized: bool, statistics over all replicas.  Defaults to
            ``False``.
        virtual_batch_size: ``None`` or int >= 1, the ghost batch size.
        beta_initializer, gamma_initializer, moving_mean_initializer,
        moving_variance_initializer: initializers, as in Keras (``"zeros"``,
            ``"ones"``, ``"zeros"``, ``"ones"``).
        beta_regularizer, gamma_regularizer: optional regularizers.
        beta_constraint, gamma_constraint: optional constraints.
        **kwargs: base layer arguments (``name``, ``dtype``, ...).

    Example:

    >>> x = keras.Input((32,))
    >>> h = keras.layers.Dense(64)(x)
    >>> h = kerasreg.layers.BatchNormalization(virtual_batch_size=16)(h)

    Reference:
        Ioffe and Szegedy, "Batch Normalization: Accelerating Deep Network
        Training by Reducing Internal Covariate Shift", 2015,
        https://arxiv.org/abs/1502.03167.
        Hoffer, Hubara and Soudry, "Train longer, generalize better: closing
        the generalization gap in large batch training of neural networks",
        2017, https://arxiv.org/abs/1705.08741.
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        synchronized=False,
        virtual_batch_size=None,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.axis = check_int("axis", axis)
        self.momentum = check_float("momentum", momentum, 0.0, 1.0)
        self.epsilon = check_float("epsilon", epsilon, low=0.0, low_open=True)
        self.center = check_bool("center", center)
        self.scale = check_bool("scale", scale)
        self.synchronized = check_bool("synchronized", synchronized)
        if self.synchronized and keras.backend.backend() not in ("tensorflow", "jax"):
            raise ValueError(
                "`synchronized=True` needs the TensorFlow or JAX backend; "
                f"the backend is {keras.backend.backend()!r}."
            )
        self.virtual_batch_size = check_int(
            "virtual_batch_size", virtual_batch_size, low=1, allow_none=True
        )
        self.beta_initializer = keras.initializers.get(beta_initializer)
        self.gamma_initializer = keras.initializers.get(gamma_initializer)
        self.moving_mean_initializer = keras.initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = keras.initializers.get(moving_variance_initializer)
        self.beta_regularizer = keras.regularizers.get(beta_regularizer)
        self.gamma_regularizer = keras.regularizers.get(gamma_regularizer)
        self.beta_constraint = keras.constraints.get(beta_constraint)
        self.gamma_constraint = keras.constraints.get(gamma_constraint)
        self.gamma = None
        self.beta = None
        self.supports_masking = True

    def _unit_axis(self, rank):
        if not -rank <= self.axis < rank:
            raise ValueError(
                f"`axis` must be in [{-rank}, {rank - 1}] for inputs of rank {rank}, "
                f"got {self.axis}."
            )
        return self.axis % rank

    def build(self, input_shape):
        axis = self._unit_axis(len(input_shape))
        if axis == 0:
            raise ValueError("`axis` must not be the batch axis 0, got 0.")
        units = input_shape[axis]
        if units is None:
            raise ValueError(f"`axis` {self.axis} of the input shape {input_shape} must be known.")
        shape = (units,)
        if self.scale:
            self.gamma = self.add_weight(
                shape=shape, name="gamma", initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer, constraint=self.gamma_constraint,
                trainable=True, autocast=False,
            )
        if self.center:
            self.beta = self.add_weight(
                shape=shape, name="beta", initializer=self.beta_initializer,
                regularizer=self.beta_regularizer, constraint=self.beta_constraint,
                trainable=True, autocast=False,
            )
        self.moving_mean = self.add_weight(
            shape=shape, name="moving_mean", initializer=self.moving_mean_initializer,
            trainable=False, autocast=False,
        )
        self.moving_variance = self.add_weight(
            shape=shape, name="moving_variance",
            initializer=self.moving_variance_initializer, trainable=False, autocast=False,
        )
        self.input_spec = keras.InputSpec(ndim=len(input_shape), axes={self.axis: units})
        self._reduction_axes = [i for i in range(len(input_shape)) if i != axis]

    def compute_output_shape(self, input_shape):
        self._unit_axis(len(input_shape))
        return input_shape

    def _synchronized_moments(self, x, axes, keepdims=False):
        # ops.moments' `synchronized` all-reduces over tf.distribute replicas;
        # on JAX the array is already the global batch (see the docstring).
        sync = self.synchronized and keras.backend.backend() == "tensorflow"
        return ops.moments(x, axes=axes, keepdims=keepdims, synchronized=sync)

    def _moments(self, x, mask, axes, keepdims=False, synchronized=None):
        """Mean and biased variance over ``axes``, over unmasked positions only.

        ``mask`` has one dimension less than ``x`` (Keras' convention: it
        masks positions, the last axis holds the features).  ``synchronized``
        defaults to the layer's.
        """
        synchronized = self.synchronized if synchronized is None else synchronized
        if mask is None:
            if synchronized:
                return self._synchronized_moments(x, axes, keepdims)
            return ops.moments(x, axes=axes, keepdims=keepdims)

        def replica_sum(tensors):
            return cross_replica_sum(tensors) if synchronized else tensors

        keep = ops.broadcast_to(ops.expand_dims(ops.cast(mask, "bool"), -1), ops.shape(x))
        count = ops.sum(ops.cast(keep, x.dtype), axes, keepdims=True)
        total = ops.sum(ops.where(keep, x, 0.0), axes, keepdims=True)
        count, total = replica_sum([count, total])
        # Keras' guard for an all-masked batch: mean 0, variance 0.
        count = count + keras.backend.epsilon()
        mean = total / count
        squares = ops.sum(ops.where(keep, ops.square(x - mean), 0.0), axes, keepdims=True)
        variance = replica_sum([squares])[0] / count
        if not keepdims:
            mean, variance = ops.squeeze(mean, axes), ops.squeeze(variance, axes)
        return mean, variance

    def _update_moving(self, mean, variance):
        m = self.momentum
        self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
        self.moving_variance.assign(self.moving_variance * m + variance * (1.0 - m))

    def call(self, inputs, training=False, mask=None):
        if mask is not None and len(mask.shape) != len(inputs.shape) - 1:
            raise ValueError(
                "`mask` must have one dimension less than the inputs, got "
                f"mask.shape={mask.shape} for inputs.shape={inputs.shape}."
            )
        # float16/bfloat16 activations overflow in the statistics: float32.
        dtype = keras.backend.result_type(inputs.dtype, "float32")
        x = ops.cast(inputs, dtype)
        gamma = ops.cast(self.gamma, dtype) if self.scale else None
        beta = ops.cast(self.beta, dtype) if self.center else None
        if training and self.trainable:
            if self.virtual_batch_size is not None:
                return ops.cast(self._ghost_call(x, mask, gamma, beta), self.compute_dtype)
            mean, variance = self._moments(x, mask, self._reduction_axes)
            self._update_moving(mean, variance)
        else:
            mean = ops.cast(self.moving_mean, dtype)
            variance = ops.cast(self.moving_variance, dtype)
        # gamma * (x - mu) / sqrt(var + delta) + beta, in Keras' fused form.
        outputs = ops.batch_normalization(
            x, mean, variance, axis=self.axis, offset=beta, scale=gamma, epsilon=self.epsilon
        )
        return ops.cast(outputs, self.compute_dtype)

    def _ghost_call(self, x, mask, gamma, beta):
        """Training with ghost batches of ``virtual_batch_size`` examples."""
        v = self.virtual_batch_size
        shape = ops.shape(x)
        rank = len(shape)
        axis = self.axis % rank
        if isinstance(shape[0], int) and shape[0] % v:
            raise ValueError(
                f"`virtual_batch_size` ({v}) must divide the batch size, got a batch of {shape[0]}."
            )
        # (batch, ...) -> (groups, v, ...): axis i of x is axis i + 1 here.
        ghosts = ops.reshape(x, (-1, v) + tuple(shape[1:]))
        axes = [i + 1 for i in range(rank) if i != axis]
        if mask is not None:
            mask = ops.reshape(mask, (-1, v) + tuple(ops.shape(mask)[1:]))
        # The groups stay per replica: their moments are local.
        mean, variance = self._moments(ghosts, mask, axes, keepdims=True, synchronized=False)
        stat_shape = [1] * (rank + 1)
        stat_shape[axis + 1] = -1
        normed = (ghosts - mean) / ops.sqrt(variance + self.epsilon)
        if gamma is not None:
            normed = normed * ops.reshape(gamma, stat_shape)
        if beta is not None:
            normed = normed + ops.reshape(beta, stat_shape)
        units = ops.shape(self.moving_mean)[0]
        group_mean, _ = self._synchronized_moments(ops.reshape(mean, (-1, units)), [0])
        group_var, _ = self._synchronized_moments(ops.reshape(variance, (-1, units)), [0])
        self._update_moving(group_mean, group_var)
        if self.synchronized:
            # The all-reduces above feed only the moving averages; a zero
            # data dependency puts them on the forward path, so every replica
            # runs them before the gradient all-reduce (otherwise replicas may
            # pair different collectives and abort).
            anchor = ops.stop_gradient(ops.sum(group_mean) + ops.sum(group_var)) * 0.0
            normed = normed + ops.cast(anchor, normed.dtype)
        return ops.reshape(normed, (-1,) + tuple(shape[1:]))

    def get_config(self):
        ser = keras.saving.serialize_keras_object
        config = {
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "synchronized": self.synchronized,
            "virtual_batch_size": self.virtual_batch_size,
            "beta_initializer": ser(self.beta_initializer),
            "gamma_initializer": ser(self.gamma_initializer),
            "moving_mean_initializer": ser(self.moving_mean_initializer),
            "moving_variance_initializer": ser(self.moving_variance_initializer),
            "beta_regularizer": ser(self.beta_regularizer),
            "gamma_regularizer": ser(self.gamma_regularizer),
            "beta_constraint": ser(self.beta_constraint),
            "gamma_constraint": ser(self.gamma_constraint),
        }
        return {**super().get_config(), **config}
