"""Conformance cases for kerasreg.initializers."""

from kerasreg import initializers
from kerasreg.testing.registry import Case, register

_SEED_BAD = [({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"), ({"seed": "x"}, "seed")]

register(Case(name="Xavier", kind="initializer", cls=initializers.Xavier,
              kwargs={"seed": 3}, bad=_SEED_BAD))
register(Case(name="He", kind="initializer", cls=initializers.He,
              kwargs={"seed": 3}, bad=_SEED_BAD))
register(Case(name="NormalizedUniform", kind="initializer", cls=initializers.NormalizedUniform,
              kwargs={"seed": 3}, bad=_SEED_BAD))
register(
    Case(
        name="SparseInit",
        kind="initializer",
        cls=initializers.SparseInit,
        # k <= fan-in of the suite's Dense(6) kernel on 4 features.
        kwargs={"k": 3, "stddev": 0.7, "seed": 3},
        bad=[({"k": 0}, "k"), ({"k": -2}, "k"), ({"k": 2.5}, "k"), ({"stddev": -0.3}, "stddev"),
             ({"stddev": 0}, "stddev")] + _SEED_BAD,
    )
)
