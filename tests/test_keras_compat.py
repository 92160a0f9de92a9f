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
