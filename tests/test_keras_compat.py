"""kerasreg._keras_compat: each reach into Keras' private API still does what kerasreg needs."""

import keras
import numpy as np
import pytest

import kerasreg
from kerasreg import _keras_compat


@pytest.mark.jax_pass
def test_stateless_optimizer_applies_like_the_original():
    # Why it exists: TFOptimizer.stateless_apply raises; kerasreg.stacked needs it on every backend.
    w0 = np.array([[0.3, -0.7], [1.1, 0.2]], "float32")
    grads = [np.array([[0.5, -0.2], [0.1, 0.9]], "float32"), np.array([[-0.3, 0.4], [0.7, -0.1]], "float32")]
    original = kerasreg.optimizers.Adam(0.03)
    variable = keras.Variable(w0)
    original.build([variable])
    for g in grads:
        original.apply([keras.ops.convert_to_tensor(g)], [variable])

    copy = _keras_compat.stateless_optimizer(kerasreg.optimizers.Adam(0.03))
    assert isinstance(copy, kerasreg.optimizers.Adam) and not copy.built
    assert copy.get_config()["learning_rate"] == pytest.approx(0.03)
    template = keras.Variable(w0)
    copy.build([template])
    opt_vars = [v.value for v in copy.variables]
    weights = [keras.ops.convert_to_tensor(w0)]
    for g in grads:
        weights, opt_vars = copy.stateless_apply(opt_vars, [keras.ops.convert_to_tensor(g)], weights)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(weights[0]), keras.ops.convert_to_numpy(variable),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(template), w0)  # stateless: the template is untouched


# -- the private reads of issue 14 (fit resume, loss tracker, optimizer internals,
# image layers, tf.distribute) ---------------------------------------------------

def _model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


@pytest.mark.jax_pass
def test_initial_epoch_moves_the_start_of_fit():
    model = _model()
    x, y = np.ones((4, 3), "float32"), np.ones((4, 1), "float32")

    class Resume(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            _keras_compat.set_initial_epoch(self.model, 2)

    history = model.fit(x, y, epochs=4, verbose=0, callbacks=[Resume()])
    assert history.epoch == [2, 3]
    assert _keras_compat.get_initial_epoch(model) == 2
    _keras_compat.set_initial_epoch(model, None)
    assert model.fit(x, y, epochs=2, verbose=0).epoch == [0, 1]


@pytest.mark.jax_pass
def test_loss_tracker_is_the_logged_loss():
    model = _model()
    tracker = _keras_compat.loss_tracker(model)
    assert isinstance(tracker, keras.metrics.Mean) and tracker in model.metrics
    tracker.update_state(0.7)
    assert float(model.get_metrics_result()["loss"]) == pytest.approx(0.7)
    model.reset_metrics()
    assert float(tracker.result()) == 0.0


@pytest.mark.jax_pass
def test_optimizer_variables_order_index_and_check():
    model = _model()
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    built = _keras_compat.optimizer_trainable_variables(optimizer)
    assert [v.path for v in built] == [v.path for v in model.trainable_variables]
    for i, v in enumerate(model.trainable_variables):
        assert _keras_compat.optimizer_variable_index(optimizer, v) == i
    stranger = keras.Variable(np.zeros(2), name="stranger")
    assert _keras_compat.optimizer_variable_index(optimizer, stranger) is None
    _keras_compat.check_variables_are_known(optimizer, model.trainable_variables)
    with pytest.raises(ValueError):
        _keras_compat.check_variables_are_known(optimizer, [stranger])


@pytest.mark.jax_pass
def test_tracked_variable_joins_optimizer_variables():
    optimizer = keras.optimizers.SGD(0.1)
    seed = keras.random.SeedGenerator(3)
    before = len(optimizer.variables)
    _keras_compat.track_optimizer_variable(optimizer, seed.state)
    assert len(optimizer.variables) == before + 1 and optimizer.variables[-1] is seed.state


@pytest.mark.jax_pass
def test_image_layer_seed_generator_draws_for_the_layer():
    from kerasreg.augment import RandomElasticTransform

    layer = RandomElasticTransform(seed=5)
    generator = _keras_compat.image_layer_seed_generator(layer)
    assert isinstance(generator, keras.random.SeedGenerator)
    assert generator is _keras_compat.image_layer_seed_generator(layer)


@pytest.mark.tf_only
def test_merge_call_query_and_symbolic_inputs():
    import tensorflow as tf

    assert _keras_compat.strategy_supports_no_merge_call() in (True, False)
    spec = (tf.TensorSpec((None, 3), "float32"), tf.TensorSpec((None,), "int32"))
    with _keras_compat.symbolic_inputs(spec) as (x, y):
        assert not tf.executing_eagerly()
        assert x.shape.as_list() == [None, 3] and y.dtype == tf.int32


def test_all_layers_reaches_nested_layers():
    import kerasreg

    inner = keras.layers.Dense(3, name="inner")
    model = keras.Sequential([keras.Input((4,)), kerasreg.layers.WeightNoise(inner, stddev=0.1, name="wrapper"),
                              kerasreg.layers.Dropout(0.3, name="drop")])
    names = [layer.name for layer in _keras_compat.all_layers(model)]
    assert {"inner", "wrapper", "drop"} <= set(names)
    assert names.index("wrapper") < names.index("drop")
