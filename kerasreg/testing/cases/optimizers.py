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

_LR_BAD = [({"learning_rate": 0.0}, "learning_rate"), ({"learning_rate": -0.3}, "learning_rate")]
_EPS_BAD = [({"epsilon": 0.0}, "epsilon"), ({"epsilon": -1e-7}, "epsilon")]

register(
    Case(
        name="Momentum",
        kind="optimizer",
        cls=optimizers.Momentum,
        kwargs={"learning_rate": 0.07, "momentum": 0.7},
        bad=_LR_BAD + [({"momentum": 1.0}, "momentum"), ({"momentum": -0.1}, "momentum"),
                       ({"dampening": 1.3}, "dampening"), ({"dampening": -0.2}, "dampening")],
    )
)
register(
    Case(
        name="Momentum_heavy_ball",
        kind="optimizer",
        cls=optimizers.Momentum,
        kwargs={"learning_rate": 0.03, "momentum": 0.7, "dampening": 0.0},
        bad=[({"momentum": 1.2}, "momentum")],
    )
)
register(
    Case(
        name="Nesterov",
        kind="optimizer",
        cls=optimizers.Nesterov,
        kwargs={"learning_rate": 0.07, "momentum": 0.7},
        bad=_LR_BAD + [({"momentum": 1.0}, "momentum"), ({"momentum": -0.3}, "momentum"),
                       ({"momentum": "high"}, "momentum")],
    )
)
register(
    Case(
        name="AdaGrad",
        kind="optimizer",
        cls=optimizers.AdaGrad,
        kwargs={"learning_rate": 0.07, "epsilon": 1e-6, "initial_accumulator_value": 0.3},
        bad=_LR_BAD + _EPS_BAD + [({"initial_accumulator_value": -0.1}, "initial_accumulator_value")],
    )
)
register(
    Case(
        name="RMSProp",
        kind="optimizer",
        cls=optimizers.RMSProp,
        kwargs={"learning_rate": 0.007, "rho": 0.7, "epsilon": 1e-6},
        bad=_LR_BAD + _EPS_BAD + [({"rho": 1.0}, "rho"), ({"rho": -0.1}, "rho")],
    )
)
register(
    Case(
        name="Adam",
        kind="optimizer",
        cls=optimizers.Adam,
        kwargs={"learning_rate": 0.007, "beta_1": 0.7, "beta_2": 0.99, "epsilon": 1e-7},
        bad=_LR_BAD + _EPS_BAD + [({"beta_1": 1.0}, "beta_1"), ({"beta_1": -0.1}, "beta_1"),
                                  ({"beta_2": 1.0}, "beta_2"), ({"beta_2": 1.5}, "beta_2")],
    )
)
