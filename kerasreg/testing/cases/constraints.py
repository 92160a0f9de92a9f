"""Conformance cases for kerasreg.constraints."""

from kerasreg import constraints
from kerasreg.testing.registry import Case, register

_AXIS_BAD = [({"axis": "rows"}, "axis"), ({"axis": 1.5}, "axis"), ({"axis": []}, "axis"),
             ({"axis": [0, 0]}, "axis"), ({"axis": True}, "axis")]

register(
    Case(
        name="L2Ball",
        kind="constraint",
        cls=constraints.L2Ball,
        # Small enough that the suite's training moves the kernel onto the ball.
        kwargs={"max_norm": 0.7, "axis": 0},
        bad=[({"max_norm": 0}, "max_norm"), ({"max_norm": -1.3}, "max_norm")] + _AXIS_BAD,
    )
)
register(
    Case(
        name="L2Ball_whole",
        kind="constraint",
        cls=constraints.L2Ball,
        kwargs={"max_norm": 1.3},
        bad=[({"max_norm": float("inf")}, "max_norm")],
    )
)
register(
    Case(
        name="L1Ball",
        kind="constraint",
        cls=constraints.L1Ball,
        kwargs={"radius": 0.9, "axis": 0},
        bad=[({"radius": 0}, "radius"), ({"radius": -0.3}, "radius")] + _AXIS_BAD,
    )
)
register(
    Case(
        name="L1Ball_whole",
        kind="constraint",
        cls=constraints.L1Ball,
        kwargs={"radius": 2.1},
        bad=[({"radius": "one"}, "radius")],
    )
)
