"""Dropout, in the lecture's classic form or Keras' inverted form."""

import keras
from keras import ops

from kerasreg._validation import check_choice, check_float, check_int, check_seed
from kerasreg.api_export import kerasreg_export
from kerasreg.layers import _sampling

SCALINGS = ("train", "test")


def check_noise_shape(noise_shape):
    """``None`` or a tuple of positive ints / ``None`` entries.

    Raises ``ValueError`` for anything else, as Keras' ``Dropout`` does.
    """
    if noise_shape is None:
        return None
    if isinstance(noise_shape, str) or not hasattr(noise_shape, "__iter__"):
        raise ValueError(f"`noise_shape` must be a tuple of ints or None, got {noise_shape!r}.")
    try:
        return tuple(
            None if d is None else check_int(f"noise_shape[{i}]", d, low=1)
            for i, d in enumerate(noise_shape)
        )
    except TypeError as e:  # an entry that is not a number
        raise ValueError(str(e)) from None


def resolve_noise_shape(noise_shape, inputs):
    """``noise_shape`` with its ``None`` entries taken from ``inputs``."""
    shape = ops.shape(inputs)
    if noise_shape is None:
        return shape
    return tuple(shape[i] if d is None else d for i, d in enumerate(noise_shape))


@kerasreg_export
class Dropout(keras.layers.Layer):
    """Dropout: multiply each unit by a random binary mask.

    The lecture's rule: for each new example (mini-batch) sample a binary mask
    ``mu`` independently, ``mu_i ~ Bernoulli(p)`` with ``p`` the probability
    that unit ``i`` is *included*, and multiply the output of unit ``i`` by
    ``mu_i``.  At test time, aggregate the sub-networks by scaling the
    connection weights by ``p`` (the weight-scaling rule):

    ```
    training:  h_out = mu * h                 mu_i ~ Bernoulli(p)
    test:      h_out = p * h                  (scaling="test", the lecture)

    training:  h_out = mu * h / p             (scaling="train", inverted
    test:      h_out = h                       dropout, Keras' behaviour)
    ```

    ``p = 1 - rate`` (``rate`` is the probability of *dropping* a unit, as in
    Keras).  Both forms have the same expected output: ``E_mu[training
    output] = test output``.  Multiplying the unit's output by ``p`` equals
    multiplying its outgoing weights by ``p``, which is how the lecture puts
    it.  The lecture's typical values: keep ``p = 0.8`` for input units
    (``rate=0.2``) and ``p = 0.5`` for hidden units (``rate=0.5``).

    ``noise_shape`` shares one mask entry across the axes where it is ``1``
    (e.g. ``(batch, 1, features)`` drops whole features for all time steps).

    Monte Carlo dropout (``kerasreg.layers.monte_carlo_predict``) makes this
    layer draw masks at inference exactly as in training (no ``p`` factor
    with ``scaling="test"``, the ``1/p`` factor with ``scaling="train"``),
    so the Monte Carlo mean estimates the same expectation as the
    deterministic test-time rule for either scaling.

    Args:
        rate: float in [0, 1), the drop probability ``1 - p``.
        scaling: ``"train"`` (inverted dropout, default) or ``"test"`` (the
            lecture's weight scaling at test time).
        noise_shape: optional tuple, the shape of the mask (``None`` entries
            take the input's size).
        seed: optional int, the seed of the layer's ``SeedGenerator``.
        **kwargs: base layer arguments.

    Example:

    >>> h = keras.Input((32,))
    >>> h = kerasreg.layers.Dropout(0.5, scaling="test")(h)

    Reference:
        Srivastava, Hinton, Krizhevsky, Sutskever and Salakhutdinov,
        "Dropout: A Simple Way to Prevent Neural Networks from Overfitting",
        JMLR 2014, https://jmlr.org/papers/v15/srivastava14a.html.
    """

    _monte_carlo = True

    @property
    def per_example_masks(self):
        """Whether each example draws its own mask (Monte Carlo batching)."""
        return self.noise_shape is None or self.noise_shape[0] is None

    def __init__(self, rate, scaling="train", noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_float("rate", rate, 0.0, 1.0, high_open=True)
        self.scaling = check_choice("scaling", scaling, SCALINGS)
        self.noise_shape = check_noise_shape(noise_shape)
        self.seed = check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.supports_masking = True
        # Keras' layer contract: a layer with no weights is built at
        # construction, unless a subclass overrides ``build``.
        if type(self).build is keras.layers.Layer.build:
            self.built = True

    def call(self, inputs, training=False):
        # ``rate`` is a Python float, or, while kerasreg.stacked traces a group
        # of copies, each copy's own rate as a scalar tensor: so it is read
        # only through keras.ops, and the Python shortcuts apply to floats.
        rate = self.rate
        static = isinstance(rate, (int, float))
        if not _sampling.active(training):
            if self.scaling == "test" and not (static and rate == 0):
                return inputs * ops.cast(1.0 - rate, inputs.dtype)
            return inputs
        if static and rate == 0:
            return inputs
        seed = _sampling.sampling_seed(self.seed_generator)
        shape = resolve_noise_shape(self.noise_shape, inputs)
        # mu_i = [u_i >= rate], u_i ~ U[0, 1): Bernoulli(p = 1 - rate).
        mask = keras.random.uniform(shape, seed=seed) >= ops.cast(rate, "float32")
        if self.scaling == "train":
            inputs = inputs / ops.cast(1.0 - rate, inputs.dtype)
        return ops.where(mask, inputs, ops.zeros_like(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {
            "rate": self.rate,
            "scaling": self.scaling,
            "noise_shape": None if self.noise_shape is None else list(self.noise_shape),
            "seed": self.seed,
        }
        return {**super().get_config(), **config}
