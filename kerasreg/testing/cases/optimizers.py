"""Conformance cases for kerasreg.optimizers."""

from kerasreg import optimizers
from kerasreg.testing.registry import Case, register

register(
    Case(
        name="SGD",
        kind="optimizer",
        cls=optimizers.SGD,
        kwargs={"learning_rate": 0.07},
        bad=[({"learning_rate": -0.1}, "learning_rate"), ({"learning_rate": 0}, "learning_rate"),
             ({"learning_rate": "fast"}, "learning_rate")],
    )
)
