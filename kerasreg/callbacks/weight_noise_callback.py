"""Weight noise for any compiled model, added and removed inside the train step."""

import keras
from keras import ops

from kerasreg._validation import check_float, check_seed


def _walk(layer):
    yield layer
    for child in getattr(layer, "layers", None) or []:
        yield from _walk(child)
    inner = getattr(layer, "layer", None)
    if isinstance(inner, keras.layers.Layer):
        yield from _walk(inner)


class WeightNoiseCallback(keras.callbacks.Callback):
    """Train on fresh Gaussian-perturbed weights at every step; keep the clean ones.

    The lecture's weight noise: at every training step, for the mini-batch
    gradient,

    ```
    eps ~ N(0, sigma_e^2 I)                       (a fresh draw per step)
    g   = 1/m sum_i grad_W L(f(x_i; W + eps), y_i)
    W  <- optimizer update of W with g            (W, not W + eps)
    ```

    ``sigma_e`` is ``stddev`` (or ``schedule(epoch)``).  The perturbation is
    added and removed *inside* the compiled train function: on train begin
    the callback wraps ``model.train_step`` (add ``eps`` to every trainable
    variable, run the normal step) and the optimizer's ``apply_gradients``
    (put back the saved clean ``W`` before the update), and resets
    ``model.train_function`` so that it is retraced; everything is restored
    on train end.  Between steps the weights are clean, so evaluation,
    prediction, checkpoints and ``save`` never see noise.  The noise is
    ``stddev * keras.random.normal(v.shape, seed=g)`` for each trainable
    variable ``v`` in ``model.trainable_variables`` order, with ``g`` a
    ``keras.random.SeedGenerator(seed)`` owned by the callback (under XLA
    TensorFlow's stateless generator yields other draws of the same
    distribution).  Training
    metrics (and the logged training loss) are those of the noisy weights.

    If the model contains ``kerasreg.layers.WeightNoise`` wrappers, the
    callback adds no noise of its own: it drives their ``stddev`` variable
    (``layer.stddev.assign(value)`` each epoch) instead.

    Departures: the restore is an assignment of the saved ``W``, not a
    subtraction of ``eps`` (bit-exact).  TensorFlow backend only (the JAX
    and torch train steps are stateless / eager); not under a distribution
    strategy (each replica would draw its own noise into a mirrored
    variable).

    Args:
        stddev: float >= 0, ``sigma_e`` when ``schedule`` is None. Default 0.01.
        schedule: optional callable ``epoch -> stddev`` (annealing, e.g.
            ``lambda e: 0.05 / (1 + e) ** 0.55``), evaluated at each epoch begin.
        seed: optional int, for reproducible noise.

    Example:

    >>> model.fit(x, y, epochs=10, callbacks=[WeightNoiseCallback(0.02, seed=1)])

    Reference:
        Graves, "Practical Variational Inference for Neural Networks", 2011;
        Goodfellow et al., "Deep Learning", 2016, Section 7.5.
    """

    def __init__(self, stddev=0.01, schedule=None, seed=None):
        super().__init__()
        self.stddev = check_float("stddev", stddev, low=0.0)
        if schedule is not None and not callable(schedule):
            raise TypeError(f"`schedule` must be a callable epoch -> stddev or None, got {schedule!r}.")
        self.schedule = schedule
        self.seed = check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._sigma = keras.Variable(self.stddev, trainable=False, dtype="float32", name="weight_noise_stddev")

    def get_config(self):
        return {"stddev": self.stddev, "schedule": self.schedule, "seed": self.seed}

    def _noise_layers(self):
        from kerasreg import layers

        cls = getattr(layers, "WeightNoise", None)
        if cls is None:
            return []
        return [layer for layer in _walk(self.model) if isinstance(layer, cls)]

    def on_train_begin(self, logs=None):
        if keras.backend.backend() != "tensorflow":
            raise NotImplementedError("WeightNoiseCallback needs the TensorFlow backend.")
        self._layers = self._noise_layers()
        if self._layers:
            return
        model, optimizer = self.model, self.model.optimizer
        original_step, original_apply = model.train_step, optimizer.apply_gradients
        pending = []

        def train_step(data):
            pending.clear()
            for v in model.trainable_variables:
                clean = ops.copy(v.value)  # a snapshot, read before the perturbation
                eps = ops.multiply(ops.cast(self._sigma, v.dtype),
                                   keras.random.normal(v.shape, dtype=v.dtype, seed=self.seed_generator))
                v.assign(ops.add(clean, eps))
                pending.append((v, clean))
            return original_step(data)

        def apply_gradients(grads_and_vars, *args, **kwargs):
            for v, clean in pending:
                v.assign(clean)  # the update is applied to W, not W + eps
            pending.clear()
            return original_apply(grads_and_vars, *args, **kwargs)

        model.train_step = train_step
        optimizer.apply_gradients = apply_gradients
        model.train_function = None
        model.make_train_function(force=True)

    def on_epoch_begin(self, epoch, logs=None):
        value = self.stddev if self.schedule is None else check_float(
            "schedule(epoch)", self.schedule(epoch), low=0.0)
        self._sigma.assign(value)
        for layer in self._layers:
            layer.stddev.assign(value)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["weight_noise_stddev"] = float(ops.convert_to_numpy(self._sigma))

    def on_train_end(self, logs=None):
        if self._layers:
            return
        model = self.model
        for obj, name in ((model, "train_step"), (model.optimizer, "apply_gradients")):
            if name in obj.__dict__:
                del obj.__dict__[name]
        model.train_function = None
