"""Datasets shipped with kerasreg's dependencies: no network needed, ever.

* ``digits``: scikit-learn's 1,797 real 8x8 handwritten digits (10 classes),
  as images ``(8, 8, 1)`` scaled to [0, 1] (``flatten=True`` gives 64-vectors).
* ``noisy_sine``: the lecture's overfitting picture: a few points
  ``x ~ U[-1, 1]``, ``y = sin(pi x) + noise * N(0, 1)`` (default 40 points,
  noise 0.3), a 1-D regression that a 5x100 MLP overfits.
* ``moons``, ``circles``, ``blobs``: 2-D classification sets from
  ``sklearn.datasets`` (``make_moons(noise=0.2)``,
  ``make_circles(noise=0.1, factor=0.5)``, ``make_blobs(centers=3)``),
  1,000 points each by default.
"""

import numpy as np

from kerasreg._validation import check_float, check_int

__all__ = ["EMBEDDED", "make_embedded"]

EMBEDDED = ("digits", "noisy_sine", "moons", "circles", "blobs")

_DEFAULTS = {  # name: (n_samples, noise)
    "noisy_sine": (40, 0.3),
    "moons": (1000, 0.2),
    "circles": (1000, 0.1),
    "blobs": (1000, 1.0),
}


def make_embedded(name, seed=0, n_samples=None, noise=None):
    """``(x, y, class_names, task, value_range)`` for an embedded dataset.

    ``n_samples`` and ``noise`` (the noise's standard deviation; for
    ``blobs`` the clusters' standard deviation) apply to the synthetic sets
    only; ``seed`` draws them.
    """
    if name == "digits":
        if n_samples is not None or noise is not None:
            raise ValueError(
                "`n_samples` and `noise` apply to the synthetic datasets "
                f"({', '.join(_DEFAULTS)}), not to 'digits'."
            )
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = (digits.images / 16.0).astype("float32")[..., None]
        names = tuple(str(c) for c in digits.target_names)
        return x, digits.target.astype("int32"), names, "classification", (0.0, 1.0)
    default_n, default_noise = _DEFAULTS[name]
    n = check_int("n_samples", default_n if n_samples is None else n_samples, low=4)
    sd = check_float("noise", default_noise if noise is None else noise, low=0.0)
    rng = np.random.default_rng(seed)
    if name == "noisy_sine":
        x = rng.uniform(-1.0, 1.0, size=(n, 1))
        y = np.sin(np.pi * x) + sd * rng.standard_normal((n, 1))
        return x.astype("float32"), y.astype("float32"), (), "regression", None
    from sklearn import datasets

    state = int(rng.integers(2**31 - 1))
    if name == "moons":
        x, y = datasets.make_moons(n, noise=sd, random_state=state)
    elif name == "circles":
        x, y = datasets.make_circles(n, noise=sd, factor=0.5, random_state=state)
    else:
        x, y = datasets.make_blobs(n, centers=3, cluster_std=sd, random_state=state)
    k = int(y.max()) + 1
    return (x.astype("float32"), y.astype("int32"), tuple(str(c) for c in range(k)),
            "classification", None)
