"""The switch that Monte Carlo dropout flips on kerasreg's dropout-like layers.

``Dropout``, ``DropConnect`` and ``StochasticDepth`` call ``is_sampling()``
when they decide whether to draw a mask: inside ``sampling(...)`` they draw
as in training even though they are called with ``training=False``, so that
every other layer (batch normalization above all) stays in inference mode.
The switch is read when the layer's ``call`` runs (eagerly, or when a function
is traced), which is why ``monte_carlo_predict`` calls the model eagerly.
"""

import contextlib
import threading

_STATE = threading.local()


def is_sampling():
    """Whether a ``sampling()`` block is active in this thread."""
    return getattr(_STATE, "active", False)


def sampling_seed(default):
    """The seed generator a dropout-like layer should draw from now."""
    generator = getattr(_STATE, "seed_generator", None)
    return generator if (is_sampling() and generator is not None) else default


def active(training):
    """Draw masks: in training, or inside a ``sampling()`` block."""
    return bool(training) or is_sampling()


@contextlib.contextmanager
def sampling(seed_generator=None):
    """Within this block kerasreg's dropout-like layers draw masks at inference.

    Args:
        seed_generator: optional ``keras.random.SeedGenerator`` every layer
            draws from instead of its own (reproducible Monte Carlo runs).
    """
    previous = (is_sampling(), getattr(_STATE, "seed_generator", None))
    _STATE.active, _STATE.seed_generator = True, seed_generator
    try:
        yield
    finally:
        _STATE.active, _STATE.seed_generator = previous
