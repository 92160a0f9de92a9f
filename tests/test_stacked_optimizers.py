"""kerasreg.stacked with kerasreg's optimizer wrappers: each copy equals Keras' fit of that copy alone."""

import keras
import numpy as np
import pytest

import kerasreg
from kerasreg import stacked

O = kerasreg.optimizers
N, FEATURES, CLASSES, BATCH, EPOCHS = 30, 6, 3, 8, 2
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

WRAPPERS = {
    "clip_global_norm": lambda c: O.GradientClipping(O.SGD(c["lr"]), threshold=0.3),
    "clip_norm": lambda c: O.GradientClipping(O.Momentum(c["lr"], momentum=0.7), mode="norm", threshold=0.2),
    "clip_value": lambda c: O.GradientClipping(O.SGD(c["lr"]), mode="value", threshold=0.05),
    "clip_agc": lambda c: O.GradientClipping(O.Adam(c["lr"]), mode="agc", threshold=0.05),
    "clip_percentile": lambda c: O.GradientClipping(O.SGD(c["lr"]), mode="percentile", history_size=5),
    "gradient_noise": lambda c: O.GradientNoise(O.SGD(c["lr"]), eta=0.3, seed=c["seed"] + 5),
    "weight_noise": lambda c: O.WeightNoiseOptimizer(O.SGD(c["lr"]), stddev=0.05, seed=c["seed"] + 6),
    "lookahead": lambda c: O.Lookahead(O.Adam(c["lr"]), sync_period=3, slow_step_size=0.7),
}


def data():
    rng = np.random.default_rng(9)
    return rng.normal(size=(N, FEATURES)).astype("float32"), rng.integers(0, CLASSES, N)


def model_fn(copy):
    return keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(5, activation="relu"),
                             keras.layers.Dense(CLASSES)])


def optimizer_fn(copy):
    return WRAPPERS[copy["opt"]](copy)


@pytest.mark.jax_pass
@pytest.mark.slow
def test_each_copy_with_a_wrapped_optimizer_equals_training_it_alone():
    # Two copies per wrapper, differing by seed (initial weights, data order, the wrapper's own
    # noise seed) and by the inner optimizer's learning rate: one group per wrapper.
    adam = ("clip_agc", "lookahead")  # Adam inside: smaller rates
    copies = [{"seed": 10 + 2 * j + s, "opt": name, "lr": (0.1, 0.03)[s] * (0.1 if name in adam else 1)}
              for j, name in enumerate(WRAPPERS) for s in (0, 1)]
    x, y = data()
    result = stacked.fit(model_fn, optimizer_fn, copies, x, y, loss=LOSS, epochs=EPOCHS, batch_size=BATCH)
    assert result.groups == [[2 * j, 2 * j + 1] for j in range(len(WRAPPERS))]
    for i, copy in enumerate(copies):
        keras.utils.set_random_seed(copy["seed"])
        model = model_fn(copy)
        model.compile(optimizer=optimizer_fn(copy), loss=LOSS, jit_compile=True)
        loss = []
        for epoch in range(EPOCHS):
            order = stacked.epoch_order(copy["seed"], epoch, N)
            loss += model.fit(x[order], y[order], batch_size=BATCH, shuffle=False, verbose=0).history["loss"]
        np.testing.assert_allclose(result.history["loss"][i], loss, rtol=2e-5, atol=2e-6, err_msg=str(copy))
        for a, b in zip(result.get_model(i).get_weights(), model.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=str(copy))


@pytest.mark.jax_pass
@pytest.mark.parametrize("optimizer, message", [
    (lambda c: O.GradientMonitoring(O.SGD(0.1)), "GradientMonitoring is not supported.*gradient_norms=True"),
    (lambda c: O.Lookahead(O.GradientMonitoring(O.SGD(0.1))), "GradientMonitoring is not supported"),
    (lambda c: O.GradientClipping(O.SGD(0.1), skip_nonfinite=True),
     r"GradientClipping\(skip_nonfinite=True\) is not supported"),
])
def test_unsupported_optimizer_wrappers_are_refused_before_compiling(optimizer, message):
    x, y = data()
    with pytest.raises(ValueError, match=r"`optimizer_fn\(copies\[0\]\)`: " + message):
        stacked.fit(model_fn, optimizer, [1, 2], x, y, loss=LOSS, epochs=1)
