"""Conformance cases for kerasreg.layers.

Every layer sits in the default model ``Input(4) -> Dense(6) -> layer ->
Dense(3)`` unless it wraps a layer, where ``build_model`` puts the wrapped
``Dense(6)`` in place of the first Dense.
"""

import keras
import numpy as np

from kerasreg import augment, layers
from kerasreg.testing.registry import Case, register

register(
    Case(
        name="BatchNormalization",
        kind="layer",
        cls=layers.BatchNormalization,
        kwargs={"momentum": 0.7, "epsilon": 0.003},
        # Plain BN normalizes each replica's half batch with its own
        # statistics, so 2 replicas differ from 1 by design
        # (tests/test_layers_batch_normalization.py checks that they do);
        # the synchronized layer is the one that promises equality.
        replica_kwargs={"momentum": 0.7, "epsilon": 0.003, "synchronized": True},
        bad=[
            ({"momentum": 1.3}, "momentum"),
            ({"epsilon": 0.0}, "epsilon"),
            ({"axis": 1.5}, "axis"),
            ({"axis": "channels"}, "axis"),
            ({"virtual_batch_size": 0}, "virtual_batch_size"),
            ({"virtual_batch_size": -4}, "virtual_batch_size"),
            ({"center": "yes"}, "center"),
            ({"synchronized": 1}, "synchronized"),
        ],
    )
)

register(
    Case(
        name="BatchNormalization-ghost",
        kind="layer",
        cls=layers.BatchNormalization,
        # Global batch 8: ghost batches of 2 split evenly over 2 replicas
        # (4 examples each), so synchronized ghost BN is replica-invariant.
        kwargs={"momentum": 0.6, "virtual_batch_size": 2, "synchronized": True},
        bad=[({"virtual_batch_size": 0}, "virtual_batch_size")],
    )
)

register(
    Case(
        name="Dropout",
        kind="layer",
        cls=layers.Dropout,
        kwargs={"rate": 0.3, "scaling": "test", "seed": 3},
        # Two runs (replicas, XLA vs graph, saved vs continued) draw different
        # masks by construction; rate 0 makes them comparable while the
        # layer still runs its scaling="test" path.
        replica_kwargs={"rate": 0.0, "scaling": "test"},
        bad=[
            ({"rate": 1.0}, "rate"),
            ({"rate": -0.1}, "rate"),
            ({"scaling": "inverted"}, "scaling"),
            ({"noise_shape": "batch"}, "noise_shape"),
            ({"noise_shape": (None, 0)}, "noise_shape"),
            ({"seed": 1.5}, "seed"),
        ],
    )
)

register(
    Case(
        name="StochasticDepth",
        kind="layer",
        cls=layers.StochasticDepth,
        kwargs={"rate": 0.2, "seed": 4},
        replica_kwargs={"rate": 0.0},  # deterministic runs, as for Dropout
        bad=[({"rate": 1.0}, "rate"), ({"rate": -0.3}, "rate")],
    )
)


def _wrapped_model(component):
    inputs = keras.Input((4,))
    h = keras.activations.tanh(component(inputs))
    outputs = keras.layers.Dense(3)(h)
    return keras.Model(inputs, outputs), keras.optimizers.SGD(learning_rate=0.05)


register(
    Case(
        name="DropConnect",
        kind="layer",
        cls=layers.DropConnect,
        kwargs=lambda: {"layer": keras.layers.Dense(6), "rate": 0.3, "seed": 5},
        replica_kwargs={"rate": 0.0},  # deterministic runs, as for Dropout
        build_model=_wrapped_model,
        bad=[({"rate": 1.0}, "rate"), ({"rate": -0.2}, "rate"), ({"layer": "dense"}, "layer")],
    )
)

register(
    Case(
        name="WeightNoise",
        kind="layer",
        cls=layers.WeightNoise,
        kwargs=lambda: {"layer": keras.layers.Dense(6), "stddev": 0.07, "seed": 6},
        # stddev 0 still draws the noise (the stddev is a variable) but adds
        # 0 * eps, so the compared runs are deterministic.
        replica_kwargs={"stddev": 0.0},
        build_model=_wrapped_model,
        bad=[({"stddev": -0.1}, "stddev"), ({"layer": 3}, "layer")],
    )
)


def _image_data(n):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 0.9, (n, 6, 6, 1)).astype("float32")
    y = (x[:, :3].mean(axis=(1, 2, 3)) > 0.5).astype("int32") + (x[:, 0, 0, 0] > 0.8)
    return x, y.astype("int32")


def _augment_model(component):
    inputs = keras.Input((6, 6, 1))
    h = keras.layers.Flatten()(component(inputs))
    outputs = keras.layers.Dense(3)(h)
    return keras.Model(inputs, outputs), keras.optimizers.SGD(learning_rate=0.05)


register(
    Case(
        name="RandomElasticTransform",
        kind="layer",
        cls=augment.RandomElasticTransform,
        # Keras stores a float factor as its (min, max) range: given as a pair here.
        kwargs={"factor": (0.7, 0.7), "scale": (0.3, 0.9), "fill_mode": "wrap",
                "value_range": (0.0, 1.0), "seed": 4},
        # A random warp per training step: the compared runs match only
        # without it (scale 0: identity, no random draws).
        replica_kwargs={"scale": 0.0, "value_range": (0.0, 1.0)},
        build_model=_augment_model,
        data=_image_data,
        bad=[({"fill_mode": "bogus"}, "fill_mode"),
             ({"interpolation": "bicubic"}, "interpolation"),
             ({"fill_value": "zero"}, "fill_value"),
             ({"value_range": (1.0, 0.0)}, "value_range"),
             ({"scale": 1.5}, "scale")],
    )
)

register(
    Case(
        name="RandomShift",
        kind="layer",
        cls=augment.RandomShift,
        # The default model's Dense(6) output read as a 2 x 3 image.
        kwargs={"max_shift": 0.7, "image_shape": (2, 3), "seed": 5},
        # A random shift per training step: the compared runs match only
        # without it (max_shift 0: every A(d) is the identity).
        replica_kwargs={"max_shift": 0.0, "image_shape": (2, 3)},
        bad=[({"max_shift": -0.3}, "max_shift"),
             ({"max_shift": float("nan")}, "max_shift"),
             ({"image_shape": (6,)}, "image_shape"),
             ({"image_shape": (0, 3)}, "image_shape"),
             ({"seed": 1.5}, "seed")],
    )
)
