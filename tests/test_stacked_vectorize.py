"""kerasreg.stacked and layers that cannot be vectorized: named early, or trained one copy at a time."""

import warnings

import keras
import numpy as np
import pytest
from keras import ops

import kerasreg
from kerasreg import stacked

N, FEATURES, CLASSES, BATCH, EPOCHS = 30, 6, 3, 8, 2
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


class HostStatistic(keras.layers.Layer):
    """Divides its input by a statistic computed on the host, in numpy (what a numpy user might write).

    What really fails to vectorize on each backend: on JAX a ``pure_callback``
    without a ``vmap_method`` (``jax.vmap`` refuses it); on TensorFlow host
    callbacks do not compile with XLA at all, so the TensorFlow version uses
    ``ops.svd`` (the largest singular value), which has no ``tf.vectorized_map``
    rule (pfor would fall back to a while loop over the copies).
    """

    def call(self, x):
        if keras.backend.backend() == "jax":
            import jax

            scale = jax.pure_callback(lambda a: np.asarray(np.abs(a).max() + 1.0, np.float32),
                                      jax.ShapeDtypeStruct((), "float32"), x)
        else:
            scale = ops.svd(x, compute_uv=False)[0] + 1.0
        return x / ops.stop_gradient(scale)


class Declared(keras.layers.Layer):
    vectorizable = False  # the protocol: never vectorized, though it could be

    def call(self, x):
        return x * 0.7


def data():
    rng = np.random.default_rng(5)
    return rng.normal(size=(N, FEATURES)).astype("float32"), rng.integers(0, CLASSES, N)


def model_fn(copy):
    layers = [keras.Input((FEATURES,))]
    if copy.get("host"):
        layers.append(HostStatistic(name="host_statistic"))
    if copy.get("declared"):
        layers.append(Declared(name="declared"))
    if copy.get("rate"):
        layers.append(kerasreg.layers.Dropout(copy["rate"], seed=copy["seed"] + 1))
    layers += [keras.layers.Dense(5, activation="relu"), keras.layers.Dense(CLASSES)]
    model = keras.Sequential(layers)
    if copy.get("l2"):
        kerasreg.regularizers.add_penalties(model, kernel=kerasreg.regularizers.L2(copy["l2"]))
    return model


def optimizer_fn(copy):
    return kerasreg.optimizers.Adam(copy["lr"])


def fit(copies, **kwargs):
    x, y = data()
    return stacked.fit(model_fn, optimizer_fn, copies, x, y, loss=LOSS, epochs=EPOCHS, batch_size=BATCH,
                       validation_data=(x[:7], y[:7]), **kwargs)


@pytest.mark.jax_pass
@pytest.mark.parametrize("flag, layer", [("host", "HostStatistic layer 'host_statistic'"),
                                         ("declared", "Declared layer 'declared'")])
def test_a_layer_that_cannot_be_vectorized_is_named_before_compiling(flag, layer):
    copies = [{"seed": 1, "lr": 0.01, flag: True}, {"seed": 2, "lr": 0.02, flag: True}]
    with pytest.raises(ValueError, match=f"{layer}.*copies \\[0, 1\\].*vectorize=False"):
        fit(copies, vectorize=True)


@pytest.mark.jax_pass
@pytest.mark.slow
def test_auto_trains_a_nonvectorizable_group_one_copy_at_a_time_like_keras_fit():
    copies = [{"seed": 3, "lr": 0.01, "host": True}, {"seed": 4, "lr": 0.03, "host": True},
              {"seed": 5, "lr": 0.02}, {"seed": 6, "lr": 0.01}]
    with pytest.warns(UserWarning, match="HostStatistic layer 'host_statistic'.*one at a time"):
        result = fit(copies)  # vectorize="auto"
    assert result.groups == [[0], [1], [2, 3]]  # the vectorizable copies still share one sub-program
    x, y = data()
    for i in (0, 1):  # the fall-back is Keras' own training of that copy alone
        keras.utils.set_random_seed(copies[i]["seed"])
        model = model_fn(copies[i])
        model.compile(optimizer=optimizer_fn(copies[i]), loss=LOSS, metrics=["accuracy"], jit_compile=True)
        loss = []
        for epoch in range(EPOCHS):
            order = stacked.epoch_order(copies[i]["seed"], epoch, N)
            loss += model.fit(x[order], y[order], batch_size=BATCH, shuffle=False, verbose=0).history["loss"]
        np.testing.assert_allclose(result.history["loss"][i], loss, rtol=2e-5, atol=2e-6)
        for a, b in zip(result.get_model(i).get_weights(), model.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.jax_pass
@pytest.mark.slow
def test_one_copy_at_a_time_equals_the_vectorized_program():
    copies = [{"seed": 7, "lr": 0.01, "rate": 0.3, "l2": 0.01}, {"seed": 8, "lr": 0.03, "rate": 0.3, "l2": 0.02},
              {"seed": 9, "lr": 0.02, "rate": 0.3, "l2": 0.005}]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*one at a time")  # nothing to fall back from
        vectorized = fit(copies, vectorize=True)
    alone = fit(copies, vectorize=False)
    assert vectorized.groups == [[0, 1, 2]] and alone.groups == [[0], [1], [2]]
    assert set(alone.history) == set(vectorized.history)
    for name, values in vectorized.history.items():
        assert alone.history[name].shape == values.shape == (3, EPOCHS)
        np.testing.assert_allclose(alone.history[name], values, rtol=2e-5, atol=2e-6, err_msg=name)
    for i in range(3):
        for a, b in zip(alone.variables(i)[0], vectorized.variables(i)[0]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.jax_pass
@pytest.mark.parametrize("kwargs, message", [
    (dict(vectorize="yes"), "`vectorize`"),
    (dict(vectorize=1), "`vectorize`"),
    (dict(copies=[]), "K >= 1"),
    (dict(y=[np.zeros(N), np.zeros((N, 2))]), r"`y\[1\]` has shape"),
    (dict(x=np.zeros((N, FEATURES, 1))), "example shape"),
])
def test_bad_input_names_the_argument(kwargs, message):
    x, y = data()
    args = dict(copies=[{"seed": 1, "lr": 0.1}, {"seed": 2, "lr": 0.1}], x=x, y=y)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=message):
        stacked.fit(model_fn, optimizer_fn, args.pop("copies"), args.pop("x"), args.pop("y"), loss=LOSS,
                    epochs=1, **args)
