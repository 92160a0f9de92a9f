"""Annealed Gaussian gradient noise (Neelakantan et al., 2015)."""

import keras
from keras import ops

from kerasreg import _keras_compat
from kerasreg._validation import check_float, check_seed
from kerasreg.api_export import kerasreg_export
from kerasreg.optimizers.optimizer_wrapper import OptimizerWrapper


@kerasreg_export
class GradientNoise(OptimizerWrapper):
    """Add annealed Gaussian noise to the gradient, then update.

    ```
    g_t <- g_t + N(0, sigma_t^2),    sigma_t^2 = eta / (1 + t)^gamma
    ```

    ``eta`` is ``eta``, ``gamma`` is ``gamma`` and ``t`` is the step
    (``iterations`` before the update: 0 at the first step).  The noise is
    drawn from a ``keras.random.SeedGenerator`` seeded by ``seed`` whose
    state is an optimizer variable, so it is saved with the model and a
    resumed run draws the same noise as an uninterrupted one.

    Under ``tf.distribute`` the noise is added once to the gradient summed
    over replicas (every replica draws the same sample), so 2 replicas train
    as 1.  No departures from the paper, whose experiments use
    ``eta in {0.01, 0.3, 1.0}`` and ``gamma = 0.55``.

    Args:
        optimizer: the inner optimizer (Keras' or kerasreg's).
        eta: float > 0. Defaults to ``0.3``.
        gamma: float >= 0. Defaults to ``0.55``.
        seed: int >= 0 or ``None`` (a random seed). Defaults to ``None``.
        name: optional name.

    Example:

    >>> opt = GradientNoise(kerasreg.optimizers.SGD(0.1), eta=0.01, seed=1)

    Reference:
        Neelakantan, Vilnis, Le, Sutskever, Kaiser, Kurach, Martens, "Adding
        Gradient Noise Improves Learning for Very Deep Networks", 2015,
        https://arxiv.org/abs/1511.06807.
    """

    def __init__(self, optimizer, eta=0.3, gamma=0.55, seed=None, name=None, **kwargs):
        super().__init__(optimizer, name=name, **kwargs)
        self.eta = check_float("eta", eta, low=0.0, low_open=True)
        self.gamma = check_float("gamma", gamma, low=0.0)
        self.seed = check_seed(seed)
        with keras.name_scope(self.name, caller=self):
            self.seed_generator = keras.random.SeedGenerator(self.seed, name="noise_seed")
        _keras_compat.track_optimizer_variable(self, self.seed_generator.state)

    def stddev(self, step):
        """sigma_t = sqrt(eta / (1 + t)^gamma) at step ``t`` (tensor or number)."""
        t = ops.cast(step, "float32")
        return ops.sqrt(self.eta / ops.power(1.0 + t, self.gamma))

    def _apply_wrapped(self, grads, variables):
        grads = self._global_gradient(grads)
        sigma = self.stddev(self.iterations)
        noisy = [
            None if g is None
            else g + ops.cast(sigma * keras.random.normal(g.shape, seed=self.seed_generator), g.dtype)
            for g in grads
        ]
        self._apply_inner(noisy, variables)

    def get_config(self):
        config = super().get_config()
        config.update({"eta": self.eta, "gamma": self.gamma, "seed": self.seed})
        return config
