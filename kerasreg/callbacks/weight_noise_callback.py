"""Weight noise for any compiled model: the user-facing face of ``WeightNoiseOptimizer``."""

import keras

from kerasreg._validation import check_float, check_seed
from kerasreg.callbacks.gradient_monitor import find_wrapper
from kerasreg.optimizers.weight_noise_optimizer import WeightNoiseOptimizer

__all__ = ["WeightNoiseCallback"]


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

    ``sigma_e`` is ``stddev`` (or ``schedule(epoch)``).  The rule itself is
    carried out, inside the compiled step on every backend, by the optimizer
    wrapper ``kerasreg.optimizers.WeightNoiseOptimizer`` (see there); compile
    with it, most simply through ``wrap``::

        noise = WeightNoiseCallback(0.02, seed=1)
        model.compile(optimizer=noise.wrap(keras.optimizers.SGD(0.1)), ...)
        model.fit(x, y, callbacks=[noise])

    This callback sets ``sigma_e`` each epoch and keeps the weights clean
    outside training steps: it calls the wrapper's ``add_noise()`` on epoch
    begin and ``remove_noise()`` before validation, on epoch end and on train
    end, so validation, ``ModelCheckpoint``, ``evaluate``, ``predict`` and
    ``save`` after ``fit`` see ``W``.  Put it first in ``callbacks`` so that
    the callbacks after it see the clean weights at epoch end.  Training
    metrics (and the logged training loss) are those of the noisy weights.

    If the model contains ``kerasreg.layers.WeightNoise`` wrappers, the
    callback drives their ``stddev`` variable (``layer.stddev.assign(value)``
    each epoch) instead, and needs no optimizer wrapper.  Otherwise a model
    whose optimizer is not (and does not wrap) a ``WeightNoiseOptimizer``
    raises a ``ValueError`` on train begin.

    Departures: see ``WeightNoiseOptimizer``.

    Args:
        stddev: float >= 0, ``sigma_e`` when ``schedule`` is None. Default 0.01.
        schedule: optional callable ``epoch -> stddev`` (annealing, e.g.
            ``lambda e: 0.05 / (1 + e) ** 0.55``), evaluated at each epoch begin.
        seed: optional int, for reproducible noise (used by ``wrap``).

    Example:

    >>> noise = WeightNoiseCallback(0.02, seed=1)
    >>> x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    >>> y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32")
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=noise.wrap("sgd"), loss="mse")
    >>> history = model.fit(x, y, epochs=10, callbacks=[noise], verbose=0)

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
        self._noise = None
        self._layers = []
        self._sigma = self.stddev

    def get_config(self):
        return {"stddev": self.stddev, "schedule": self.schedule, "seed": self.seed}

    def wrap(self, optimizer):
        """``WeightNoiseOptimizer(optimizer, stddev, seed)``: call before ``model.compile``."""
        return WeightNoiseOptimizer(optimizer, stddev=self.stddev, seed=self.seed)

    def _noise_layers(self):
        from kerasreg import layers

        cls = getattr(layers, "WeightNoise", None)
        if cls is None:
            return []
        return [layer for layer in _walk(self.model) if isinstance(layer, cls)]

    def on_train_begin(self, logs=None):
        self._layers = self._noise_layers()
        self._noise = find_wrapper(self.model.optimizer, WeightNoiseOptimizer)
        if self._noise is None and not self._layers:
            raise ValueError(
                "WeightNoiseCallback needs the model's optimizer to be (or wrap) a "
                "kerasreg.optimizers.WeightNoiseOptimizer, or kerasreg.layers.WeightNoise "
                f"layers in the model; the optimizer is a {type(self.model.optimizer).__name__}. "
                "Compile with `optimizer=noise.wrap(your_optimizer)`."
            )
        if self._noise is not None and not self._noise.built:
            self._noise.build(self.model.trainable_variables)

    def on_epoch_begin(self, epoch, logs=None):
        value = self.stddev if self.schedule is None else check_float(
            "schedule(epoch)", self.schedule(epoch), low=0.0)
        self._sigma = value
        for layer in self._layers:
            layer.stddev.assign(value)
        if self._noise is not None:
            self._noise.noise_stddev.assign(value)
            self._noise.add_noise()

    def on_test_begin(self, logs=None):
        if self._noise is not None:  # validation inside fit: the clean weights
            self._noise.remove_noise()

    def on_epoch_end(self, epoch, logs=None):
        if self._noise is not None:
            self._noise.remove_noise()
        if logs is not None:
            logs["weight_noise_stddev"] = float(self._sigma)

    def on_train_end(self, logs=None):
        if self._noise is not None:
            self._noise.remove_noise()
