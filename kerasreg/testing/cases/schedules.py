"""Conformance cases for kerasreg.optimizers.schedules."""

import keras

from kerasreg.optimizers import schedules
from kerasreg.testing.registry import Case, register

register(
    Case(
        name="StepDecay",
        kind="schedule",
        cls=schedules.StepDecay,
        kwargs={"initial_learning_rate": 0.3, "drop": 0.7, "step_size": 3},
        bad=[({"initial_learning_rate": 0}, "initial_learning_rate"), ({"drop": 1.3}, "drop"),
             ({"drop": 0}, "drop"), ({"step_size": 0}, "step_size"), ({"step_size": 2.5}, "step_size")],
    )
)

register(
    Case(
        name="Warmup",
        kind="schedule",
        cls=schedules.Warmup,
        kwargs=lambda: {"schedule": keras.optimizers.schedules.ExponentialDecay(0.3, 5, 0.7),
                        "warmup_steps": 3, "start_learning_rate": 0.01},
        bad=[({"schedule": -0.1}, "schedule"), ({"schedule": "fast"}, "schedule"),
             ({"warmup_steps": 0}, "warmup_steps"), ({"start_learning_rate": -1.0}, "start_learning_rate")],
    )
)

register(
    Case(
        name="Warmup_float",
        kind="schedule",
        cls=schedules.Warmup,
        kwargs={"schedule": 0.3, "warmup_steps": 5},
        bad=[({"warmup_steps": -2}, "warmup_steps")],
    )
)

register(
    Case(
        name="OneCycle",
        kind="schedule",
        cls=schedules.OneCycle,
        kwargs={"max_learning_rate": 0.7, "total_steps": 7, "pct_start": 0.3, "div_factor": 7.0,
                "final_div_factor": 30.0},
        bad=[({"max_learning_rate": 0}, "max_learning_rate"), ({"total_steps": 2}, "total_steps"),
             ({"pct_start": 0.5}, "pct_start"), ({"div_factor": 0.3}, "div_factor"),
             ({"final_div_factor": 0.9}, "final_div_factor")],
    )
)

for _mode in schedules.Cyclical.MODES:
    register(
        Case(
            name=f"Cyclical_{_mode}",
            kind="schedule",
            cls=schedules.Cyclical,
            kwargs={"base_learning_rate": 0.03, "max_learning_rate": 0.3, "step_size": 3, "mode": _mode,
                    "gamma": 0.93},
            bad=[({"base_learning_rate": -0.1}, "base_learning_rate"),
                 ({"max_learning_rate": 0.01}, "max_learning_rate"), ({"step_size": 0}, "step_size"),
                 ({"mode": "sine"}, "mode"), ({"gamma": 1.5}, "gamma")],
        )
    )
