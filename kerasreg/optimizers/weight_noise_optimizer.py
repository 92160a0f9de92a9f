"""Weight noise (Graves, 2011) as an optimizer wrapper: the gradient at W + eps, the update on W."""

import keras
import numpy as np
from keras import ops

from kerasreg import _keras_compat
from kerasreg._validation import check_float, check_seed
from kerasreg.api_export import kerasreg_export
from kerasreg.optimizers.optimizer_wrapper import OptimizerWrapper


@kerasreg_export
class WeightNoiseOptimizer(OptimizerWrapper):
    """Train on Gaussian-perturbed weights, drawn afresh at every step; update the clean ones.

    The lecture's weight noise: at every training step, for the mini-batch
    gradient,

    ```
    eps ~ N(0, sigma^2 I)                         (a fresh draw per step)
    g   = 1/m sum_i grad_W L(f(x_i; W + eps), y_i)
    W  <- optimizer update of W with g            (W, not W + eps)
    ```

    ``sigma`` is ``stddev`` (the variable ``noise_stddev``, which
    ``kerasreg.callbacks.WeightNoiseCallback`` sets from a schedule).

    How, without touching the train step: between steps the model's
    trainable variables hold ``W + eps``, so Keras' own forward and backward
    pass give ``g`` at ``W + eps``.  ``apply(g)`` then, for every trainable
    variable, in the compiled step on every backend:

    ```
    W + eps  ->  W              (subtract the eps that is in the weights)
    W        ->  W'             (the inner optimizer's update with g)
    z ~ N(0, I);  W' -> W' + sigma z
    ```

    When the inner update does not read ``W`` (``W' = W - Delta`` with
    ``Delta`` from the gradient and the optimizer's slots only: SGD, momentum,
    Adam, RMSProp, AdaGrad without weight decay, EMA or constraints) it is
    made to ``W + eps`` and the noise is swapped after it, ``W + eps - Delta
    - eps + sigma z``, one add per variable instead of two: the same
    arithmetic up to float rounding.

    ``z`` for all variables is one draw ``keras.random.normal((P,), seed=g)``
    (``P`` the number of trainable weights), cut into the variables in
    ``model.trainable_variables`` order, ``g`` a ``SeedGenerator(seed)``
    owned by the wrapper (under XLA TensorFlow's stateless generator yields
    other draws of the same distribution).

    The explicit contract: the weights are noisy between steps, so

    * ``add_noise()`` turns the noise on: it puts ``sigma z`` into the
      weights (the first step's ``z`` is drawn then);
    * ``remove_noise()`` turns it off: it takes ``sigma z`` out, for
      evaluation, prediction, checkpoints and at the end of training.  The
      same ``z`` comes back with the next ``add_noise()``, so an evaluation
      between epochs does not change the sequence of draws.

    While the noise is off (before the first ``add_noise()``, after
    ``remove_noise()``, or with ``sigma = 0``) ``apply`` is the inner
    optimizer's update of the clean weights; it still draws the next ``z``
    (so the next ``add_noise()`` puts in a ``z`` no step has used).

    ``WeightNoiseCallback`` calls them (add on epoch begin; remove before
    validation, on epoch end and on train end).  Both are eager calls made
    between steps.

    State (optimizer variables, saved with the model): ``noise_stddev``
    (``sigma``), ``applied_stddev`` (the ``sigma`` with which ``z`` is in the
    weights now; 0 when they are clean), ``noise_drawn`` and ``noise``
    (the unit draw ``z`` of every trainable variable, flattened and
    concatenated, float32).

    Departures: ``W`` is recovered by subtracting ``sigma z``, exact up to
    float rounding (one ulp of ``|W| + |eps|``).  Not under ``tf.distribute``
    (the perturbation assigns mirrored variables in the replica context).
    Training metrics are those of the noisy weights.

    Args:
        optimizer: the inner optimizer (Keras' or kerasreg's).
        stddev: float >= 0, ``sigma``. Defaults to ``0.01``.
        seed: int >= 0 or ``None`` (a random seed). Defaults to ``None``.
        name: optional name.

    Example:

    >>> x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    >>> y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32")
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> opt = WeightNoiseOptimizer(keras.optimizers.SGD(0.1), stddev=0.02, seed=1)
    >>> model.compile(optimizer=opt, loss="mse")
    >>> history = model.fit(x, y, callbacks=[kerasreg.callbacks.WeightNoiseCallback(0.02)], verbose=0)

    Reference:
        Graves, "Practical Variational Inference for Neural Networks", NeurIPS
        2011; Goodfellow, Bengio and Courville, "Deep Learning", 2016, Section 7.5.
    """

    def __init__(self, optimizer, stddev=0.01, seed=None, name=None, **kwargs):
        super().__init__(optimizer, name=name, **kwargs)
        self.stddev = check_float("stddev", stddev, low=0.0)
        self.seed = check_seed(seed)
        with keras.name_scope(self.name, caller=self):
            self.seed_generator = keras.random.SeedGenerator(self.seed, name="noise_seed")
        _keras_compat.track_optimizer_variable(self, self.seed_generator.state)

    def build(self, var_list):
        super().build(var_list)
        self.noise_stddev = self._add_state(
            "noise_stddev", initializer=keras.initializers.Constant(self.stddev))
        self.applied_stddev = self._add_state("applied_stddev")
        self.noise_drawn = self._add_state("noise_drawn", dtype="int32")
        self._shapes = [tuple(int(d) for d in v.shape) for v in var_list]
        sizes = [int(np.prod(shape)) for shape in self._shapes]
        self._splits = np.cumsum(sizes)[:-1].tolist()
        self.noise = self._add_state("noise", shape=(int(sum(sizes)),))

    def _draw(self):
        self.noise.assign(keras.random.normal(self.noise.shape, seed=self.seed_generator))
        self.noise_drawn.assign(1)

    def _shift(self, variables, delta):
        """``v += delta_v`` for every variable; ``delta`` is flat, in ``noise``'s layout."""
        pieces = ops.split(delta, self._splits) if self._splits else [delta]
        for v in variables:
            j = _keras_compat.optimizer_variable_index(self, v)
            v.assign_add(ops.cast(ops.reshape(pieces[j], self._shapes[j]), v.dtype))

    def add_noise(self):
        """Put ``sigma z`` into the weights (``z`` drawn now if none is pending).

        Idempotent; with a ``sigma`` changed since the last call, the weights
        get the new ``sigma z``.  Call eagerly, between steps.
        """
        if not self.built:
            raise ValueError("WeightNoiseOptimizer.add_noise: build the optimizer first "
                             "(`optimizer.build(model.trainable_variables)`).")
        if int(np.asarray(ops.convert_to_numpy(self.noise_drawn))) == 0:
            self._draw()
        sigma = float(np.asarray(ops.convert_to_numpy(self.noise_stddev)))
        delta = ops.cast(sigma - self.applied_stddev, "float32") * self.noise.value
        self._shift(_keras_compat.optimizer_trainable_variables(self), delta)
        # A Python float: on JAX, assigning the other variable would share its
        # buffer, which the compiled step may not donate twice.
        self.applied_stddev.assign(sigma)

    def remove_noise(self):
        """Take the noise out of the weights (they hold ``W`` again); idempotent."""
        if not self.built:
            return
        self._shift(_keras_compat.optimizer_trainable_variables(self),
                    -self.applied_stddev.value * self.noise.value)
        self.applied_stddev.assign(0.0)

    def _incremental(self, variables):
        """Whether the inner update reads only the gradient and the optimizer's slots, never ``W``
        (``W <- W - Delta``): then it can be made to the noisy weights, and the noise swapped after
        it in one add per variable.  Keras' and kerasreg's SGD, momentum, Adam, RMSProp and AdaGrad,
        without weight decay, EMA or constraints (all of which read ``W``)."""
        import kerasreg.optimizers as own

        inner = self.optimizer
        # Keras' own (on torch, Keras swaps in its backend subclass, e.g. torch_sgd.SGD, same
        # update); not a user's subclass, whose update may read W.
        known = type(inner) in (own.SGD, own.Momentum, own.Adam, own.RMSProp, own.AdaGrad) or (
            isinstance(inner, (keras.optimizers.SGD, keras.optimizers.Adam, keras.optimizers.RMSprop,
                               keras.optimizers.Adagrad)) and type(inner).__module__.startswith("keras."))
        return (known and not inner.weight_decay and not inner.use_ema
                and all(getattr(v, "constraint", None) is None for v in variables))

    def _apply_wrapped(self, grads, variables):
        # Every step is one draw of all z and, per variable, one or two in-place
        # adds: the flat noise is scaled once and split (not one random op,
        # read, multiply and assign per variable; on TensorFlow without XLA
        # each op costs executor time).
        applied = self.applied_stddev.value
        on = ops.greater(applied, 0.0)
        z = self.noise.value
        # eps, computed here: on TensorFlow ``.value`` is the variable itself, read where it is
        # used, and ``noise`` is assigned below.
        eps = applied * z
        incremental = self._incremental(variables)
        if not incremental:
            self._shift(variables, -eps)  # back to W
        self.optimizer.apply(grads, variables)  # W - Delta (or W + eps - Delta)
        # A fresh z at every step.  While the noise is off it is drawn too and only stored (a
        # select keeping the old z would cost another pass over all P weights): the z that the
        # next add_noise() puts in is then one no step has used, drawn like any other.
        z_new = keras.random.normal(self.noise.shape, seed=self.seed_generator)
        self.noise.assign(z_new)
        sigma = ops.where(on, self.noise_stddev.value, 0.0)
        # W - Delta + sigma z' (incremental: W + eps - Delta - eps + sigma z', in one add).
        self._shift(variables, sigma * z_new - eps if incremental else sigma * z_new)
        self.applied_stddev.assign(sigma)

    def load_own_variables(self, store):
        """Restore the saved state, also from files saved before ``noise`` was one flat variable.

        Those hold one ``noise_<j>`` per trainable variable (shape of the
        variable) where ``noise`` now stands; flattened and concatenated in
        ``model.trainable_variables`` order they are ``noise``, so such a file
        loads unchanged (its inner optimizer's slots included) instead of
        being skipped with a warning.
        """
        if self.built:
            store = self._flat_noise_store(store)
        super().load_own_variables(store)

    def _flat_noise_store(self, store):
        """``store`` with the per-variable ``noise_<j>`` entries merged into one, if it has them."""
        variables = self.variables
        k = [id(v) for v in variables].index(id(self.noise))
        pieces = len(self._shapes)
        if len(store.keys()) != len(variables) - 1 + pieces:
            return store
        old = [np.asarray(store[str(k + j)]) for j in range(pieces)]
        if [tuple(z.shape) for z in old] != self._shapes or (pieces == 1 and old[0].ndim == 1):
            return store
        merged = {str(i): store[str(i)] for i in range(k)}
        merged[str(k)] = np.concatenate([z.reshape(-1).astype("float32") for z in old])
        for i in range(k + 1, len(variables)):
            merged[str(i)] = store[str(i - 1 + pieces)]
        return merged

    def get_config(self):
        config = super().get_config()
        config.update({"stddev": self.stddev, "seed": self.seed})
        return config
