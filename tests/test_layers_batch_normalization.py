"""BatchNormalization against a numpy reference written from the lecture's
formulas, and against keras.layers.BatchNormalization."""

import keras
import numpy as np
import pytest

from kerasreg.layers import BatchNormalization

pytestmark = pytest.mark.jax_pass

def _np(x, dtype=None):
    """A layer output or variable as numpy on every backend (torch outputs carry grad)."""
    return np.asarray(keras.ops.convert_to_numpy(x), dtype)


ATOL = 2e-5


def np_batch_norm(h, axis, gamma, beta, delta):
    """Lecture: mu = 1/m sum_i H_i; sigma = sqrt(1/m sum_i (H - mu)_i^2 + delta);
    out = gamma * (H - mu) / sigma + beta; statistics per unit of ``axis``."""
    h = h.astype("float64")
    axis = axis % h.ndim
    red = tuple(i for i in range(h.ndim) if i != axis)
    shape = [1] * h.ndim
    shape[axis] = -1
    mu = h.mean(axis=red, keepdims=True)
    var = ((h - mu) ** 2).mean(axis=red, keepdims=True)
    sigma = np.sqrt(var + delta)
    out = gamma.reshape(shape) * (h - mu) / sigma + beta.reshape(shape)
    return out, mu.reshape(-1), var.reshape(-1)


def np_inference(h, axis, gamma, beta, delta, moving_mean, moving_var):
    shape = [1] * h.ndim
    shape[axis % h.ndim] = -1
    sigma = np.sqrt(moving_var.reshape(shape) + delta)
    return gamma.reshape(shape) * (h - moving_mean.reshape(shape)) / sigma + beta.reshape(shape)


def np_ghost_batch_norm(h, axis, gamma, beta, delta, v):
    """Hoffer et al.: consecutive groups of v examples, each normalized with
    its own statistics; moving averages take the mean over groups of mu and
    of the biased variance."""
    outs, mus, vars_ = [], [], []
    for start in range(0, h.shape[0], v):
        out, mu, var = np_batch_norm(h[start : start + v], axis, gamma, beta, delta)
        outs.append(out)
        mus.append(mu)
        vars_.append(var)
    return np.concatenate(outs), np.mean(mus, axis=0), np.mean(vars_, axis=0)


def _set_affine(layer, gamma, beta):
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)


def _run_reference(shape, axis, steps=5, momentum=0.7, delta=0.003, ghost=None, seed=0):
    rng = np.random.default_rng(seed)
    units = shape[axis]
    layer = BatchNormalization(axis=axis, momentum=momentum, epsilon=delta, virtual_batch_size=ghost)
    layer.build(shape)
    gamma = rng.uniform(0.5, 1.5, size=units).astype("float32")
    beta = rng.normal(size=units).astype("float32")
    _set_affine(layer, gamma, beta)
    moving_mean = np.zeros(units)
    moving_var = np.ones(units)
    worst = 0.0
    for step in range(steps):
        h = (rng.normal(size=shape) * 2.3 + 0.7 * step).astype("float32")
        got = _np(layer(h, training=True))
        if ghost is None:
            want, mu, var = np_batch_norm(h, axis, gamma, beta, delta)
        else:
            want, mu, var = np_ghost_batch_norm(h, axis, gamma, beta, delta, ghost)
        moving_mean = momentum * moving_mean + (1 - momentum) * mu
        moving_var = momentum * moving_var + (1 - momentum) * var
        worst = max(worst, float(np.max(np.abs(got - want))))
        np.testing.assert_allclose(got, want, atol=ATOL, err_msg=f"training output, step {step}")
        np.testing.assert_allclose(_np(layer.moving_mean), moving_mean, atol=ATOL)
        np.testing.assert_allclose(_np(layer.moving_variance), moving_var, atol=ATOL)
    h = rng.normal(size=shape).astype("float32")
    want = np_inference(h, axis, gamma, beta, delta, moving_mean, moving_var)
    got = _np(layer(h, training=False))
    np.testing.assert_allclose(got, want, atol=ATOL, err_msg="inference output")
    # Inference leaves the moving statistics alone.
    np.testing.assert_allclose(_np(layer.moving_mean), moving_mean, atol=ATOL)
    return worst


@pytest.mark.parametrize(
    "shape, axis",
    [((16, 5), -1), ((16, 5), 1), ((6, 4, 3, 5), -1), ((6, 5, 4, 3), 1), ((6, 4, 5, 3), 2)],
    ids=["dense", "dense-axis1", "conv-nhwc", "conv-nchw", "axis2"],
)
def test_training_inference_and_moving_statistics_match_numpy(shape, axis):
    _run_reference(shape, axis)


@pytest.mark.parametrize(
    "shape, axis, v", [((12, 5), -1, 4), ((12, 5, 4, 3), 1, 3), ((8, 3, 3, 5), -1, 2)]
)
def test_ghost_batches_match_numpy(shape, axis, v):
    _run_reference(shape, axis, ghost=v)


def test_ghost_batch_of_the_whole_batch_is_plain_batch_norm():
    rng = np.random.default_rng(3)
    h = rng.normal(size=(10, 4)).astype("float32")
    ghost = BatchNormalization(virtual_batch_size=10, momentum=0.3)
    plain = BatchNormalization(momentum=0.3)
    np.testing.assert_allclose(_np(ghost(h, training=True)), _np(plain(h, training=True)), atol=ATOL)
    np.testing.assert_allclose(_np(ghost.moving_variance), _np(plain.moving_variance), atol=ATOL)
    # ...and different from ghost batches of 5 (the test can fail).
    other = BatchNormalization(virtual_batch_size=5, momentum=0.3)
    assert np.max(np.abs(_np(other(h, training=True)) - _np(plain(h, training=True)))) > 1e-2


@pytest.mark.parametrize("shape, axis", [((16, 5), -1), ((6, 5, 4, 3), 1)])
def test_equals_keras_batch_normalization(shape, axis):
    kw = dict(axis=axis, momentum=0.8, epsilon=0.002, center=True, scale=True)
    ours, theirs = BatchNormalization(**kw), keras.layers.BatchNormalization(**kw)
    rng = np.random.default_rng(1)
    ours.build(shape)
    theirs.build(shape)
    for layer in (ours, theirs):
        _set_affine(layer, np.linspace(0.3, 1.7, shape[axis]), np.linspace(-0.7, 0.9, shape[axis]))
    for step in range(6):
        h = (rng.normal(size=shape) * 1.7 - 0.3 * step).astype("float32")
        np.testing.assert_allclose(_np(ours(h, training=True)), _np(theirs(h, training=True)), atol=ATOL)
        np.testing.assert_allclose(_np(ours.moving_mean), _np(theirs.moving_mean), atol=1e-6)
        np.testing.assert_allclose(_np(ours.moving_variance), _np(theirs.moving_variance), atol=1e-6)
        np.testing.assert_allclose(_np(ours(h)), _np(theirs(h)), atol=ATOL)


@pytest.mark.parametrize("center, scale", [(False, True), (True, False), (False, False)])
def test_center_and_scale_flags_match_keras(center, scale):
    h = np.random.default_rng(2).normal(size=(9, 4)).astype("float32") * 3
    ours = BatchNormalization(center=center, scale=scale)
    theirs = keras.layers.BatchNormalization(center=center, scale=scale)
    np.testing.assert_allclose(_np(ours(h, training=True)), _np(theirs(h, training=True)), atol=ATOL)
    assert len(ours.trainable_weights) == len(theirs.trainable_weights) == int(center) + int(scale)


def _conv_model(bn):
    keras.utils.set_random_seed(7)
    inputs = keras.Input((6, 6, 2))
    h = keras.layers.Conv2D(3, 3, activation="relu")(inputs)
    h = bn(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(5)(h)
    h = bn.__class__(momentum=0.6)(h)
    return keras.Model(inputs, keras.layers.Dense(1)(h))


@pytest.mark.slow
def test_fit_under_xla_equals_keras_after_conv_and_dense():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(32, 6, 6, 2)).astype("float32")
    y = rng.normal(size=(32, 1)).astype("float32")
    ours = _conv_model(BatchNormalization(momentum=0.7))
    theirs = _conv_model(keras.layers.BatchNormalization(momentum=0.7))
    theirs.set_weights(ours.get_weights())
    for model in (ours, theirs):
        model.compile(optimizer=keras.optimizers.SGD(0.03), loss="mse", jit_compile=True)
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert not np.allclose(ours.get_weights()[2], 0.0)  # moving means moved
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-4)


def test_mixed_precision_matches_keras():
    policy = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        h = (np.random.default_rng(5).normal(size=(16, 4)) * 40 + 300).astype("float16")
        ours = BatchNormalization(momentum=0.5)
        theirs = keras.layers.BatchNormalization(momentum=0.5)
        a, b = ours(h, training=True), theirs(h, training=True)
        assert keras.backend.standardize_dtype(a.dtype) == "float16"
        assert keras.backend.standardize_dtype(ours.moving_mean.dtype) == "float32"
        np.testing.assert_allclose(_np(a, "float32"), _np(b, "float32"), atol=2e-3)
        want, _, _ = np_batch_norm(h.astype("float32"), -1, np.ones(4), np.zeros(4), 1e-3)
        np.testing.assert_allclose(_np(a, "float32"), want, atol=5e-3)
        np.testing.assert_allclose(ours.moving_mean, theirs.moving_mean, rtol=1e-5)
        np.testing.assert_allclose(ours.moving_variance, theirs.moving_variance, rtol=1e-4)
    finally:
        keras.mixed_precision.set_global_policy(policy)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"axis": 2.5}, "axis"),
        ({"momentum": -0.1}, "momentum"),
        ({"epsilon": -1e-3}, "epsilon"),
        ({"virtual_batch_size": 0}, "virtual_batch_size"),
        ({"scale": None}, "scale"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        BatchNormalization(**kwargs)


def test_axis_out_of_range_and_indivisible_ghost_batch_raise():
    with pytest.raises(ValueError, match="axis"):
        BatchNormalization(axis=3)(np.zeros((4, 3), "float32"))
    with pytest.raises(ValueError, match="axis"):
        BatchNormalization(axis=0).build((4, 3))
    with pytest.raises(ValueError, match="virtual_batch_size"):
        BatchNormalization(virtual_batch_size=3)(np.zeros((8, 2), "float32"), training=True)


def _replica_case(synchronized):
    from kerasreg.testing.registry import Case

    return Case(name="bn", kind="layer", cls=BatchNormalization,
                kwargs={"momentum": 0.7, "synchronized": synchronized})


@pytest.mark.slow
@pytest.mark.tf_only
def test_plain_batch_norm_under_two_replicas_differs_but_synchronized_does_not():
    from kerasreg.distribute import cpu_mirrored_strategy
    from kerasreg.testing.conformance import _trained_weights

    gaps = {}
    for synchronized in (False, True):
        case = _replica_case(synchronized)
        init, single = _trained_weights(case, jit_compile=False)
        _, double = _trained_weights(case, jit_compile=False, strategy=cpu_mirrored_strategy(2), init=init)
        gaps[synchronized] = max(float(np.max(np.abs(a - b))) for a, b in zip(single, double))
    assert gaps[True] <= 1e-5, gaps
    assert gaps[False] > 1e-3, gaps  # each replica normalized its own half batch


def np_masked_moments(h, keep):
    """mu and biased variance per feature (last axis) over the positions where
    ``keep`` (shape ``h.shape[:-1]``) is True: ``m`` counts those positions."""
    h = h.astype("float64").reshape(-1, h.shape[-1])
    k = keep.reshape(-1)
    mu = h[k].mean(axis=0)
    return mu, ((h[k] - mu) ** 2).mean(axis=0)


@pytest.mark.parametrize("virtual_batch_size", [None, 3])
def test_masked_positions_are_left_out_of_the_statistics(virtual_batch_size):
    rng = np.random.default_rng(3)
    h = rng.normal(1.3, 0.7, size=(6, 5, 4)).astype("float32")
    keep = rng.uniform(size=(6, 5)) > 0.3
    keep[:, 0] = True
    h_masked = np.where(keep[..., None], h, 50.0).astype("float32")  # masked values are junk
    layer = BatchNormalization(momentum=0.3, epsilon=0.01, virtual_batch_size=virtual_batch_size)
    moving_mean = np.zeros(4)
    moving_var = np.ones(4)
    for _ in range(3):
        out = _np(layer(h_masked, mask=keep, training=True))
        groups = [slice(None)] if virtual_batch_size is None else [slice(0, 3), slice(3, 6)]
        stats = [np_masked_moments(h[g], keep[g]) for g in groups]
        for g, (mu, var) in zip(groups, stats):
            expected = (h[g] - mu) / np.sqrt(var + 0.01)
            np.testing.assert_allclose(out[g][keep[g]], expected[keep[g]], atol=ATOL)
        mu = np.mean([s[0] for s in stats], axis=0)
        var = np.mean([s[1] for s in stats], axis=0)
        moving_mean = 0.3 * moving_mean + 0.7 * mu
        moving_var = 0.3 * moving_var + 0.7 * var
    np.testing.assert_allclose(_np(layer.moving_mean), moving_mean, atol=ATOL)
    np.testing.assert_allclose(_np(layer.moving_variance), moving_var, atol=ATOL)
    # At inference the mask changes nothing.
    np.testing.assert_allclose(_np(layer(h, mask=keep)), _np(layer(h)), atol=0)


def test_fully_masked_input_gives_zeros_and_a_bad_mask_rank_raises():
    layer = BatchNormalization(center=False, scale=False)
    # Keras' rule: mu = 0 and variance 0 (no 0/0), so a zero input stays zero.
    out = _np(layer(np.zeros((4, 5), "float32"), mask=np.zeros((4,), bool), training=True))
    np.testing.assert_allclose(out, np.zeros((4, 5)), atol=1e-6)
    np.testing.assert_allclose(_np(layer.moving_variance), np.full(5, 0.99), atol=1e-6)
    assert layer.supports_masking
    with pytest.raises(ValueError, match="mask"):
        layer(np.ones((4, 5), "float32"), mask=np.ones((4, 5), bool), training=True)


@pytest.mark.tf_only
def test_synchronized_masked_statistics_are_over_the_global_batch():
    import tensorflow as tf

    from kerasreg.distribute import cpu_mirrored_strategy

    rng = np.random.default_rng(4)
    h = rng.normal(0.4, 1.7, size=(4, 6, 3)).astype("float32")
    keep = rng.uniform(size=(4, 6)) > 0.4
    keep[:2] = False  # replica 0 sees only masked positions
    keep[3, 0] = True
    strategy = cpu_mirrored_strategy(2)
    with strategy.scope():
        layer = BatchNormalization(momentum=0.0, synchronized=True)
        layer.build((None, 6, 3))
    halves = strategy.experimental_distribute_values_from_function(
        lambda ctx: (h[2 * ctx.replica_id_in_sync_group:][:2], keep[2 * ctx.replica_id_in_sync_group:][:2]))
    tf.function(lambda v: strategy.run(lambda x, m: layer(x, mask=m, training=True), args=v))(halves)
    mu, var = np_masked_moments(h, keep)
    np.testing.assert_allclose(_np(layer.moving_mean), mu, atol=ATOL)
    np.testing.assert_allclose(_np(layer.moving_variance), var, atol=ATOL)
