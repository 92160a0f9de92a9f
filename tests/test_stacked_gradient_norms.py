"""kerasreg.stacked.fit(gradient_norms=True): per-layer gradient norms, checked against a plain per-step loop."""

import keras
import numpy as np
import pytest

import kerasreg
from kerasreg import stacked

N, FEATURES, CLASSES, BATCH, EPOCHS, LR = 30, 6, 3, 8, 2, 0.3  # 3 full batches and one of 6
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def data():
    rng = np.random.default_rng(11)
    return rng.normal(size=(N, FEATURES)).astype("float32"), rng.integers(0, CLASSES, N)


def model_fn(copy):
    layers = [keras.Input((FEATURES,)), keras.layers.Dense(5, activation="relu")]
    if copy.get("extra"):
        layers.append(keras.layers.Dense(4, activation="tanh", name="extra"))  # a name given by the user
    model = keras.Sequential(layers + [keras.layers.Dense(CLASSES)])
    kerasreg.regularizers.add_penalties(model, kernel=kerasreg.regularizers.L2(0.03))  # in the gradient
    return model


def gradients(model, xb, yb):
    """The gradient of the batch loss with the penalties, for each trainable variable (numpy)."""
    tv, ntv = model.trainable_variables, model.non_trainable_variables
    if keras.backend.backend() == "jax":
        import jax

        def loss(values):
            y_pred, _, losses = model.stateless_call(values, [v.value for v in ntv], xb, training=True,
                                                     return_losses=True)
            return LOSS(yb, y_pred) + sum(losses)

        return [np.asarray(g) for g in jax.grad(loss)([v.value for v in tv])]
    import tensorflow as tf

    with tf.GradientTape() as tape:
        y_pred = model(xb, training=True)
        loss = LOSS(yb, y_pred) + sum(model.losses)
    return [g.numpy() for g in tape.gradient(loss, tv)]


def reference(copy, x, y):
    """Plain SGD, batch by batch in the documented order; per layer the mean over steps of the norm."""
    keras.utils.set_random_seed(copy["seed"])
    model = model_fn(copy)
    layers = [layer for layer in model.layers if layer.trainable_variables]
    names = ["dense", "extra", "dense_1"] if copy.get("extra") else ["dense", "dense_1"]  # fresh-process names
    out = {f"grad_norm/layer/{name}": [] for name in names} | {"grad_norm/global": []}
    for epoch in range(EPOCHS):
        order = stacked.epoch_order(copy["seed"], epoch, N)
        steps = {key: [] for key in out}
        for start in range(0, N, BATCH):
            idx = order[start:start + BATCH]
            grads = gradients(model, x[idx], y[idx])
            at = 0
            for name, layer in zip(names, layers):
                count = len(layer.trainable_variables)
                steps[f"grad_norm/layer/{name}"].append(np.sqrt(sum(np.sum(g.astype("float64") ** 2)
                                                                    for g in grads[at:at + count])))
                at += count
            steps["grad_norm/global"].append(np.sqrt(sum(np.sum(g.astype("float64") ** 2) for g in grads)))
            for v, g in zip(model.trainable_variables, grads):
                v.assign(v.value - LR * g)  # the lecture's SGD step, w <- w - lr g
        for key in out:
            out[key].append(np.mean(steps[key]))
    return out


@pytest.mark.jax_pass
@pytest.mark.slow
def test_gradient_norms_per_layer_equal_a_per_step_reference():
    x, y = data()
    copies = [{"seed": 31}, {"seed": 32}, {"seed": 33, "extra": True}]
    for _ in range(2):  # other models first: Keras numbers these copies' layers dense_4, dense_5, ...
        model_fn({"seed": 0})
    result = stacked.fit(model_fn, lambda copy: kerasreg.optimizers.SGD(LR), copies, x, y, loss=LOSS,
                         epochs=EPOCHS, batch_size=BATCH, gradient_norms=True)
    keys = {"grad_norm/layer/dense", "grad_norm/layer/dense_1", "grad_norm/layer/extra", "grad_norm/global"}
    assert keys <= set(result.history)
    assert not {k for k in result.history if k.startswith("grad_norm")} - keys
    for i, copy in enumerate(copies):
        expected = reference(copy, x, y)
        for key, values in expected.items():
            assert result.history[key].shape == (3, EPOCHS)
            np.testing.assert_allclose(result.history[key][i], values, rtol=2e-5, err_msg=f"{key} {copy}")
        if not copy.get("extra"):
            assert np.all(np.isnan(result.history["grad_norm/layer/extra"][i]))  # no such layer in this copy


@pytest.mark.jax_pass
def test_gradient_norms_must_be_a_bool():
    x, y = data()
    with pytest.raises(ValueError, match="`gradient_norms`"):
        stacked.fit(model_fn, lambda copy: kerasreg.optimizers.SGD(LR), [1], x, y, loss=LOSS, epochs=1,
                    gradient_norms="yes")


class Scaled(keras.losses.Loss):
    def __init__(self, scale):
        super().__init__(name="scaled")
        self.scale = scale

    def call(self, y_true, y_pred):
        return self.scale * LOSS.fn(y_true, y_pred, from_logits=True)


@pytest.mark.jax_pass
@pytest.mark.slow
@pytest.mark.parametrize("scale", [1e-24, 1e22])
def test_gradient_norms_whose_squares_underflow_or_overflow_float32(scale):
    """The same training with the loss (penalty included) times ``scale`` and the
    learning rate over it: the same weights, every gradient times ``scale``, so
    every norm is ``scale`` times the unscaled reference's.  At 1e-24 the entries'
    squares are 0 in float32, at 1e22 they overflow; neither shows in the norms."""
    x, y = data()
    copies = [{"seed": 31}, {"seed": 33, "extra": True}]

    def scaled_model(copy):
        layers = [keras.Input((FEATURES,)), keras.layers.Dense(5, activation="relu")]
        if copy.get("extra"):
            layers.append(keras.layers.Dense(4, activation="tanh", name="extra"))
        model = keras.Sequential(layers + [keras.layers.Dense(CLASSES)])
        kerasreg.regularizers.add_penalties(model, kernel=kerasreg.regularizers.L2(0.03 * scale))
        return model

    result = stacked.fit(scaled_model, lambda copy: kerasreg.optimizers.SGD(LR / scale), copies, x, y,
                         loss=Scaled(scale), epochs=EPOCHS, batch_size=BATCH, gradient_norms=True)
    for i, copy in enumerate(copies):
        for key, values in reference(copy, x, y).items():
            got = result.history[key][i] / scale
            np.testing.assert_allclose(got, values, rtol=1e-4, err_msg=f"{key} {copy} scale {scale}")
