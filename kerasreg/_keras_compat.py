"""The one place where kerasreg reads private Keras (and TensorFlow) API.

Everything else in ``kerasreg/`` uses public ``keras.*`` only.  Each function
here wraps one private attribute, says why no public API does the job, and is
tested in ``tests/test_keras_compat.py`` (which fails first when a Keras
release moves the attribute).  The Keras versions this module is tested with
are the range in ``pyproject.toml``.

Not routed here, on purpose: ``Optimizer._get_variable_index`` inside an
optimizer's ``update_step``.  It is part of Keras' subclassing contract for
optimizers (every Keras optimizer, e.g. ``keras/src/optimizers/sgd.py``, uses
it the same way, next to ``add_variable`` and ``update_step``).
"""

import contextlib

__all__ = [
    "all_layers",
    "check_variables_are_known",
    "get_initial_epoch",
    "image_layer_seed_generator",
    "loss_tracker",
    "optimizer_trainable_variables",
    "optimizer_variable_index",
    "set_initial_epoch",
    "strategy_supports_no_merge_call",
    "symbolic_inputs",
    "track_optimizer_variable",
]


# -- fit: where the epoch loop starts ---------------------------------------
# Keras' trainers (TensorFlow, JAX, torch) start their epoch loop at
# ``max(model._initial_epoch, initial_epoch)``; it is how Keras' own
# ``BackupAndRestore`` resumes (keras/src/callbacks/backup_and_restore.py).
# There is no public way for a callback to move the start of a running fit.
def set_initial_epoch(model, epoch):
    """Make the ``fit`` being started resume at ``epoch`` (``None`` resets)."""
    model._initial_epoch = epoch


def get_initial_epoch(model):
    """The epoch a callback asked ``fit`` to resume at, or ``None``."""
    return getattr(model, "_initial_epoch", None)


# -- the compiled loss tracker ------------------------------------------------
# ``model.compile`` creates the ``Mean`` named "loss" that ``fit`` logs and
# ``model.metrics`` / ``reset_metrics`` / ``get_metrics_result`` include, but
# only Keras' own ``train_step`` updates it (``model._loss_tracker``).  A
# custom loop (``kerasreg.distribute.Trainer``) updates the same tracker so
# that its loss is a model metric like under ``fit`` (and is checkpointed).
def loss_tracker(model):
    """The compiled model's loss ``Mean`` (``None`` before ``compile``)."""
    return getattr(model, "_loss_tracker", None)


# -- optimizer internals a wrapper needs --------------------------------------
# ``Optimizer.build(var_list)`` records the variables and their order; the
# public API has no read of that list.  A wrapper's ``apply(grads)`` without
# variables, GradientClipping's report of which variable went non-finite and
# Nesterov's move between theta and the interim point need it.
def optimizer_trainable_variables(optimizer):
    """The variables ``optimizer`` was built for, in build order."""
    return optimizer._trainable_variables


def optimizer_variable_index(optimizer, variable):
    """Index of ``variable`` in the build order of ``optimizer``, or ``None``."""
    return optimizer._trainable_variables_indices.get(optimizer._var_key(variable))


# ``Optimizer.apply`` checks that it is given the variables it was built for;
# a wrapper that overrides ``apply`` keeps the same check (and message).
def check_variables_are_known(optimizer, variables):
    """Raise Keras' ``ValueError`` if ``variables`` are not the built ones."""
    optimizer._check_variables_are_known(variables)


# An optimizer's ``variables`` (saved in ``.keras`` files and carried through
# JAX's stateless apply) are those made by ``add_variable``; a
# ``SeedGenerator``'s state is made by the generator, so the optimizer must be
# told to track it.
def track_optimizer_variable(optimizer, variable):
    """Add ``variable`` to ``optimizer.variables``."""
    optimizer._track_variable(variable)


# -- image preprocessing layers -----------------------------------------------
# Keras' image augmentation layers run inside tf.data on any backend through
# ``self.backend`` (a dynamic backend) and draw their randomness from the
# generator ``_get_seed_generator(backend_name)`` gives (keras/src/layers/
# preprocessing/image_preprocessing/*.py all do this); a new augmentation
# layer must do the same to behave like them in and outside tf.data.
def image_layer_seed_generator(layer):
    """The seed generator of an image preprocessing ``layer`` for its current backend."""
    return layer._get_seed_generator(layer.backend._backend)


# -- tf.distribute ------------------------------------------------------------
# Whether the strategy lets a replica context skip ``merge_call``; TensorFlow
# exposes it only under ``tf.__internal__`` (Keras' LossScaleOptimizer reads
# the same function).
def strategy_supports_no_merge_call():
    import tensorflow as tf

    return tf.__internal__.distribute.strategy_supports_no_merge_call()


# Keras builds the compiled loss and metrics of a model by calling them once on
# symbolic tensors (``Trainer._symbolic_build``, private).  A custom loop under
# a strategy does the same on graph placeholders of the dataset's element
# spec, in a graph of its own: ``tf.__internal__.FuncGraph`` and
# ``tf.compat.v1.placeholder`` are the only ways to make them outside a
# ``tf.function`` (whose trace could not create the variables).
@contextlib.contextmanager
def symbolic_inputs(spec):
    """A graph of its own, yielding placeholders with the structure of ``spec``."""
    import tensorflow as tf

    with tf.__internal__.FuncGraph("kerasreg_build").as_default():
        yield tf.nest.map_structure(lambda s: tf.compat.v1.placeholder(s.dtype, s.shape), spec)


# -- kerasreg.stacked -----------------------------------------------------------
# Used by kerasreg/stacked/grouping.py; tests/test_stacked*.py check it, wrappers included.
def stateless_optimizer(optimizer):
    """A fresh, unbuilt copy of ``optimizer`` (same config) whose
    ``stateless_apply`` works on every backend.

    Keras' TensorFlow optimizer refuses ``stateless_apply`` (for
    tf.distribute) and updates through ``tf.Variable`` methods; outside
    tf.distribute the backend-neutral base class' versions are correct, so the
    copy's class takes them from ``keras.src.optimizers.base_optimizer``.
    """
    import keras

    cls = type(optimizer)
    if keras.backend.backend() == "tensorflow":
        from keras.src.optimizers import base_optimizer

        base = base_optimizer.BaseOptimizer
        overrides = {name: getattr(base, name) for name in (
            "stateless_apply", "assign", "assign_add", "assign_sub", "_var_key",
            "_backend_update_step", "_backend_reset_gradient_accumulators",
            "_backend_increment_gradient_accumulators", "_apply_weight_decay",
        ) if hasattr(base, name)}
        cls = type(cls.__name__, (cls,), overrides)
    copy = cls.from_config(optimizer.get_config())
    # A kerasreg optimizer wrapper (OptimizerWrapper) calls its inner optimizer's
    # `apply` inside its own stateless scope: the inner one must be converted too.
    inner = getattr(copy, "optimizer", None)
    if keras.backend.backend() == "tensorflow" and isinstance(inner, keras.optimizers.Optimizer):
        copy.optimizer = stateless_optimizer(inner)
    return copy


# -- every layer of a model, nested ones included ------------------------------
# ``Model.layers`` lists only the top level; a wrapper's inner layer (e.g.
# ``WeightNoise(Dense)``) or a layer held by a custom layer is reached only by
# Keras' tracker, ``Layer._flatten_layers`` (what ``Layer.weights`` itself walks).
# kerasreg.stacked needs every layer whose hyperparameter may vary per copy.
def all_layers(model):
    """Every layer of ``model`` (itself excluded), nested ones included, in Keras' tracking order."""
    return list(model._flatten_layers(include_self=False, recursive=True))
