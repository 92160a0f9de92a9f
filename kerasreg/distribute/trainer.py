"""A training loop that runs a compiled Keras model under any tf.distribute strategy.

Keras 3's ``model.fit`` does not run under
``tf.distribute.MultiWorkerMirroredStrategy`` (keras-team/keras#20585).
``Trainer`` (and the ``fit`` shortcut) drives the same compiled model -- its
loss, metrics, optimizer and callbacks -- through ``strategy.run`` over
``strategy.experimental_distribute_dataset``, inside a ``tf.function``, with
tf.distribute's own collectives.  It works with the default strategy,
``MirroredStrategy`` and ``MultiWorkerMirroredStrategy``.
"""

import warnings

import keras
import numpy as np
import tensorflow as tf

from kerasreg import _keras_compat
from kerasreg._validation import check_bool, check_int

__all__ = ["Trainer", "fit"]


def _to_python(value):
    value = np.asarray(value)
    return float(value) if value.ndim == 0 else value


class Trainer:
    """Runs ``fit``/``evaluate`` of a compiled Keras model under a strategy.

    Every replica computes its loss with the model's compiled loss and scales
    it so that the per-replica loss is ``sum_i w_i l_i / B`` with ``B`` the
    *global* batch size (``tf.nn.compute_average_loss``'s rule).  The
    gradients summed over replicas are then exactly the gradient of the mean
    loss over the global batch, as on one device, also for a last batch
    that splits unevenly.  The optimizer receives each replica's gradient in
    replica context, exactly as under ``model.fit``: Keras optimizers sum them
    with the strategy's all-reduce, and kerasreg's ``GradientClipping``
    computes its norms from the summed gradient.  Metrics are accumulated per
    replica and read once per step in cross-replica context, so logged values
    are over the global batch.

    The model and its optimizer must be created (and compiled) under
    ``strategy.scope()``, as tf.distribute requires.  The dataset yields
    *global* batches; the strategy splits each among the replicas (under
    ``MultiWorkerMirroredStrategy``, every worker runs the same script over
    the same dataset; each keeps its share of every global batch).

    Args:
        model: a compiled ``keras.Model`` (TensorFlow backend).
        strategy: a ``tf.distribute.Strategy``; ``None`` uses the strategy the
            model was created under (``model.distribute_strategy``).
        jit_compile: bool, compile the step with XLA.  Default ``False``.

    Example:

    >>> import tensorflow as tf
    >>> strategy = tf.distribute.MirroredStrategy(["/cpu:0"])  # or MultiWorkerMirroredStrategy()
    >>> with strategy.scope():
    ...     model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    ...     model.compile(optimizer=kerasreg.optimizers.SGD(0.1), loss="mse")
    >>> x = np.random.default_rng(0).normal(size=(128, 4)).astype("float32")
    >>> dataset = tf.data.Dataset.from_tensor_slices((x, x.sum(axis=1, keepdims=True)))
    >>> history = kerasreg.distribute.Trainer(model, strategy).fit(dataset.batch(64), epochs=3)
    >>> len(history.history["loss"])
    3
    """

    def __init__(self, model, strategy=None, jit_compile=False):
        if keras.backend.backend() != "tensorflow":
            raise RuntimeError(
                "kerasreg.distribute.Trainer needs the TensorFlow backend (tf.distribute); "
                f"the backend is {keras.backend.backend()!r}."
            )
        if not getattr(model, "compiled", False) or model.optimizer is None:
            raise ValueError("`model` must be compiled (with an optimizer and a loss) first.")
        self.model = model
        self.strategy = strategy if strategy is not None else model.distribute_strategy
        self.jit_compile = check_bool("jit_compile", jit_compile)
        self._check_scope()
        # The compiled model's own loss tracker, so that the loss is a model
        # metric as under ``fit`` (reset, logged and checkpointed with them).
        self._loss_tracker = _keras_compat.loss_tracker(model)
        self._train_function = None
        self._test_function = None
        self._built = False

    def _check_scope(self):
        extended = self.strategy.extended
        for v in self.model.variables:
            if not extended.variable_created_in_scope(getattr(v, "value", v)):
                raise ValueError(
                    f"Variable {v.path} of the model was not created under "
                    f"`strategy.scope()` of {type(self.strategy).__name__}: create and "
                    "compile the model inside `with strategy.scope():`."
                )

    # ------------------------------------------------------------------ data
    def _distribute(self, data, batch_size):
        if not isinstance(data, tf.data.Dataset):
            if batch_size is None:
                raise ValueError(
                    "`batch_size` (the global batch size) is required when the data are "
                    "arrays; pass a batched tf.data.Dataset otherwise."
                )
            batch_size = check_int("batch_size", batch_size, low=1)
            data = tf.data.Dataset.from_tensor_slices(tuple(data) if isinstance(data, list) else data)
            data = data.batch(batch_size)
            options = tf.data.Options()
            # Every worker reads all arrays and keeps its share of each global batch.
            options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
            data = data.with_options(options)
        elif batch_size is not None:
            raise ValueError("`batch_size` must be None when the data are a tf.data.Dataset "
                             "(batch the dataset with the global batch size).")
        return self.strategy.experimental_distribute_dataset(data), data.element_spec

    # ----------------------------------------------------------------- steps
    def _replica_train_step(self, data):
        model = self.model
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        ctx = tf.distribute.get_replica_context()
        local = tf.cast(tf.shape(tf.nest.flatten(x)[0])[0], "float32")
        global_batch = ctx.all_reduce(tf.distribute.ReduceOp.SUM, local)
        replicas = float(ctx.num_replicas_in_sync)
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            # Keras' compiled loss is (local mean + extra losses) / replicas;
            # rescale it to sum over the local batch / global batch size.
            loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
            factor = tf.math.divide_no_nan(local * replicas, global_batch)
            loss = loss * tf.cast(factor, loss.dtype)
            scaled = model.optimizer.scale_loss(loss)
        variables = model.trainable_variables
        gradients = tape.gradient(scaled, variables)
        model.optimizer.apply_gradients(zip(gradients, variables))
        self._track(loss, local, global_batch)
        model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def _replica_test_step(self, data):
        model = self.model
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        ctx = tf.distribute.get_replica_context()
        local = tf.cast(tf.shape(tf.nest.flatten(x)[0])[0], "float32")
        global_batch = ctx.all_reduce(tf.distribute.ReduceOp.SUM, local)
        y_pred = model(x, training=False)
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False)
        factor = tf.math.divide_no_nan(local * float(ctx.num_replicas_in_sync), global_batch)
        self._track(loss * tf.cast(factor, loss.dtype), local, global_batch)
        model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def _track(self, loss, local, global_batch):
        # This replica's share of the global mean, as a mean over its examples.
        per_example = tf.math.divide_no_nan(tf.cast(loss, "float32") * global_batch, local)
        self._loss_tracker.update_state(per_example, sample_weight=local)

    def _results(self):
        return self.model.get_metrics_result()

    def _make_function(self, replica_step):
        strategy = self.strategy

        def step(data):
            strategy.run(replica_step, args=(data,))

        return tf.function(step, jit_compile=self.jit_compile, reduce_retracing=True)

    def _run(self, function, data):
        """One step, then the metrics read (summed over replicas) in their own
        function: a step that mixed the replicas' collectives with the
        cross-replica reads could launch them in different orders."""
        function(data)
        return {k: _to_python(v) for k, v in self._results_function().items()}

    def _reset_metrics(self):
        self.model.reset_metrics()  # the loss tracker included

    def _build(self, spec):
        """Create optimizer, metric and loss-tracker variables under the scope.

        As ``model.fit`` does, the compiled loss and metrics are traced once on
        symbolic inputs (nothing runs) so that their variables exist before
        the step function is traced in replica context.
        """
        if self._built:
            return
        model = self.model
        with self.strategy.scope():
            if not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
            with keras.StatelessScope(), keras.SymbolicScope(), _keras_compat.symbolic_inputs(spec) as data:
                x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
                y_pred = model(x, training=False)
                model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False)
                model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
        self._reset_metrics()
        self._train_function = self._make_function(self._replica_train_step)
        self._test_function = self._make_function(self._replica_test_step)
        self._results_function = tf.function(self._results)
        self._built = True

    # ------------------------------------------------------------- public API
    def fit(self, x, epochs=1, callbacks=None, validation_data=None, steps_per_epoch=None,
            validation_steps=None, initial_epoch=0, verbose=0, batch_size=None):
        """Train like ``model.fit``; returns the ``keras.callbacks.History``.

        Args:
            x: a ``tf.data.Dataset`` of global batches ``(x, y)`` or
                ``(x, y, sample_weight)``; or a tuple of arrays with
                ``batch_size``.
            epochs: int >= 1, index of the last epoch (as in ``model.fit``).
            callbacks: list of ``keras.callbacks.Callback``.
            validation_data: a dataset (or arrays tuple, with ``batch_size``)
                evaluated at the end of each epoch; logs get a ``val_`` prefix.
            steps_per_epoch: int >= 1 or None (one pass over the data).  With
                a number, one iterator is kept across epochs, as in Keras.
            validation_steps: int >= 1 or None.
            initial_epoch: int >= 0, epoch to start from.
            verbose: 0 (silent), 1 (progress bar) or 2 (one line per epoch).
            batch_size: the global batch size, for array inputs only.
        """
        model = self.model
        epochs = check_int("epochs", epochs, low=1)
        initial_epoch = check_int("initial_epoch", initial_epoch, low=0)
        steps_per_epoch = check_int("steps_per_epoch", steps_per_epoch, low=1, allow_none=True)
        validation_steps = check_int("validation_steps", validation_steps, low=1, allow_none=True)
        verbose = check_int("verbose", verbose, low=0, high=2)
        train, spec = self._distribute(x, batch_size)
        val = None if validation_data is None else self._distribute(validation_data, batch_size)[0]
        self._build(spec)

        if not isinstance(callbacks, keras.callbacks.CallbackList):
            callbacks = keras.callbacks.CallbackList(
                callbacks, add_history=True, add_progbar=verbose != 0, verbose=verbose,
                epochs=epochs, steps=steps_per_epoch, model=model,
            )
        model.stop_training = False
        callbacks.on_train_begin()
        # Where a BackupAndRestore (Keras' or kerasreg's) asks fit to resume.
        initial_epoch = _keras_compat.get_initial_epoch(model) or initial_epoch
        iterator = iter(train) if steps_per_epoch is not None else None
        logs = {}
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            callbacks.on_epoch_begin(epoch)
            if steps_per_epoch is None:
                iterator = iter(train)
            step = 0
            while steps_per_epoch is None or step < steps_per_epoch:
                batch = iterator.get_next_as_optional()
                if not batch.has_value():
                    if steps_per_epoch is not None:
                        warnings.warn(
                            f"The data ran out after {step} steps of epoch {epoch}; "
                            "stopping (use dataset.repeat() with steps_per_epoch).",
                            stacklevel=2,
                        )
                        model.stop_training = True
                    break
                callbacks.on_train_batch_begin(step)
                logs = self._run(self._train_function, batch.get_value())
                callbacks.on_train_batch_end(step, logs)
                step += 1
                if model.stop_training:
                    break
            epoch_logs = dict(logs)
            if val is not None and not (model.stop_training and step == 0):
                val_logs = self._evaluate(val, validation_steps, callbacks)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            callbacks.on_epoch_end(epoch, epoch_logs)
            logs = epoch_logs
            if model.stop_training:
                break
        callbacks.on_train_end(logs)
        return model.history

    def _evaluate(self, distributed, steps, callbacks):
        self._reset_metrics()
        callbacks.on_test_begin()
        logs = {}
        step = 0
        iterator = iter(distributed)
        while steps is None or step < steps:
            batch = iterator.get_next_as_optional()
            if not batch.has_value():
                break
            callbacks.on_test_batch_begin(step)
            logs = self._run(self._test_function, batch.get_value())
            callbacks.on_test_batch_end(step, logs)
            step += 1
        callbacks.on_test_end(logs)
        return logs

    def evaluate(self, x, steps=None, callbacks=None, batch_size=None):
        """Evaluate like ``model.evaluate(..., return_dict=True)``; returns the logs."""
        steps = check_int("steps", steps, low=1, allow_none=True)
        distributed, spec = self._distribute(x, batch_size)
        self._build(spec)
        if not isinstance(callbacks, keras.callbacks.CallbackList):
            callbacks = keras.callbacks.CallbackList(callbacks, model=self.model)
        return self._evaluate(distributed, steps, callbacks)


def fit(model, x, epochs=1, strategy=None, callbacks=None, validation_data=None,
        steps_per_epoch=None, validation_steps=None, initial_epoch=0, verbose=0,
        batch_size=None, jit_compile=False):
    """``Trainer(model, strategy, jit_compile).fit(...)``: ``model.fit`` for any strategy.

    See ``Trainer`` for the loss scaling and the arguments.  Returns the
    ``keras.callbacks.History``.
    """
    trainer = Trainer(model, strategy=strategy, jit_compile=jit_compile)
    return trainer.fit(
        x, epochs=epochs, callbacks=callbacks, validation_data=validation_data,
        steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
        initial_epoch=initial_epoch, verbose=verbose, batch_size=batch_size,
    )

