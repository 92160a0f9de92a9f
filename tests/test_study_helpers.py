"""The recipes' shared helpers in kerasreg.study: snapshot/restore, reinitialize, batches, trajectory, plots."""

import numpy as np
import pytest

import keras

import kerasreg
from kerasreg import study


def _mlp(seed, dropout=True):
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((4,)), keras.layers.Dense(8, activation="relu")]
    if dropout:
        layers.append(keras.layers.Dropout(0.3, seed=seed))
    return keras.Sequential([*layers, keras.layers.Dense(3)])


# -- snapshot / restore -------------------------------------------------------
@pytest.mark.jax_pass
@pytest.mark.parametrize("optimizer", ["Adam", "Momentum"])
def test_restore_then_fit_equals_a_fresh_model(optimizer):
    """A snapshot restored with another learning rate trains exactly as a model built afresh with it."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 3, 64)

    def compiled(lr):
        model = _mlp(5)
        model.compile(optimizer=getattr(kerasreg.optimizers, optimizer)(lr),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model

    reused = compiled(0.1)
    state = study.snapshot(reused)
    reused.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)  # moves weights, slots, seeds
    study.restore(reused, state, learning_rate=0.02)
    reused.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    fresh = compiled(0.02)
    fresh.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    for a, b in zip(reused.get_weights(), fresh.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # The test can fail: without restore the second fit starts from trained weights.
    other = compiled(0.02)
    other.fit(x, y, batch_size=16, epochs=6, shuffle=False, verbose=0)
    assert max(np.abs(a - b).max() for a, b in zip(other.get_weights(), fresh.get_weights())) > 1e-3


def test_snapshot_and_restore_reject_bad_input():
    model = _mlp(0, dropout=False)
    with pytest.raises(ValueError, match="compiled"):
        study.snapshot(model)
    model.compile(optimizer="sgd", loss="mse")
    state = study.snapshot(model)
    with pytest.raises(ValueError, match="learning_rate"):
        study.restore(model, state, learning_rate=-1.0)
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    other.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="not taken of this model"):
        study.restore(other, state)


# -- reinitialize -------------------------------------------------------------
@pytest.mark.jax_pass
def test_reinitialize_equals_layers_built_with_the_documented_seeds():
    """Kernel i from initializer(seed + 7919 i), biases 0, seed state (seed + 104729 i) mod 2^31: as built afresh."""
    seed = 1234567

    def built(kernel_seed, state_seed):
        return keras.Sequential([
            keras.Input((5,)),
            keras.layers.Dense(7, kernel_initializer=keras.initializers.GlorotUniform(seed=kernel_seed(0)),
                               bias_initializer="zeros"),
            keras.layers.Dropout(0.4, seed=state_seed(1)),
            keras.layers.Dense(3, kernel_initializer=keras.initializers.GlorotUniform(seed=kernel_seed(2))),
        ])

    reference = built(lambda i: seed + 7919 * i, lambda i: (seed + 104729 * i) % 2**31)
    model = built(lambda i: 11 + i, lambda i: 5)  # other weights and seed state
    for layer in (model.layers[0], model.layers[2]):
        layer.bias.assign(np.full(layer.bias.shape, 0.3, "float32"))
    returned = study.reinitialize(model, seed)
    assert returned == list(model.layers)
    for got, want in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.layers[1].seed_generator.state),
                                  keras.ops.convert_to_numpy(reference.layers[1].seed_generator.state))
    x = np.random.default_rng(0).normal(size=(6, 5)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(x, training=True)),
                                  keras.ops.convert_to_numpy(reference(x, training=True)))  # the same masks


@pytest.mark.jax_pass
def test_reinitialize_other_initializers_a_layer_list_and_kernels_left_alone():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6), keras.layers.Dense(6),
                              keras.layers.Dense(2, use_bias=False)])
    dense = [model.layers[2], model.layers[0]]  # i is the position in the list given
    study.reinitialize(dense, 3, initializer=kerasreg.initializers.He)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.layers[2].kernel),
                                  keras.ops.convert_to_numpy(kerasreg.initializers.He(seed=3)((6, 2))))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.layers[0].kernel),
                                  keras.ops.convert_to_numpy(kerasreg.initializers.He(seed=3 + 7919)((4, 6))))
    before = keras.ops.convert_to_numpy(model.layers[1].kernel)
    model.layers[1].bias.assign(np.full(6, 0.7, "float32"))
    study.reinitialize([model.layers[1]], 9, initializer=None)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.layers[1].kernel), before)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.layers[1].bias), np.zeros(6))
    with pytest.raises(ValueError, match="`seed`"):
        study.reinitialize(model, -1)
    with pytest.raises(TypeError, match="`initializer`"):
        study.reinitialize(model, 0, initializer="glorot")


# -- batches ------------------------------------------------------------------
@pytest.mark.jax_pass
def test_batches_are_seeded_passes_each_a_permutation():
    x = np.arange(10, dtype="float32")[:, None]
    y = np.arange(10)
    assert study.steps_per_epoch(10, 4) == 3 and study.steps_per_epoch(8, 4) == 2

    def passes(seed, k=3):
        it = iter(study.batches(x, y, 4, seed))
        out = []
        for _ in range(k):
            batch = [next(it) for _ in range(study.steps_per_epoch(10, 4))]
            assert [len(b[1]) for b in batch] == [4, 4, 2]
            xs = np.concatenate([np.asarray(b[0])[:, 0] for b in batch])
            ys = np.concatenate([np.asarray(b[1]) for b in batch])
            np.testing.assert_array_equal(xs, ys)  # pairs kept together
            assert sorted(ys) == list(range(10))  # each pass a permutation
            out.append(ys)
        return out

    first = passes(7)
    assert all((a == b).all() for a, b in zip(first, passes(7)))  # reproducible
    assert not (first[0] == first[1]).all()  # a fresh order each pass
    assert not all((a == b).all() for a, b in zip(first, passes(8)))  # another seed, another order
    with pytest.raises(ValueError, match="same number of examples"):
        study.batches(x, y[:9], 4, 0)
    with pytest.raises(ValueError, match="`batch_size`"):
        study.batches(x, y, 0, 0)


# -- trajectory -----------------------------------------------------------------
@pytest.mark.jax_pass
def test_trajectory_equals_the_eager_one_and_stops():
    from kerasreg.testing import optimizer_trajectory

    a = np.diag([1.0, 30.0])

    def grad(ws):
        return [a @ ws[0]]

    for make in (lambda: kerasreg.optimizers.Nesterov(0.02, momentum=0.9),
                 lambda: kerasreg.optimizers.GradientClipping(kerasreg.optimizers.Adam(0.1), mode="norm",
                                                              threshold=1.0)):
        fast = study.trajectory(make(), [np.array([-3.0, 1.0])], grad, 40)
        eager = optimizer_trajectory(make(), [np.array([-3.0, 1.0])], grad, 40)
        np.testing.assert_allclose(np.array(fast), np.array(eager), rtol=1e-6, atol=1e-7)
    stopped = study.trajectory(kerasreg.optimizers.SGD(0.01), [np.array([1.0, 1.0])], grad, 50,
                               stop=lambda ws: ws[0][1] < 0.5)
    assert len(stopped) < 51 and stopped[-1][0][1] < 0.5 and stopped[-2][0][1] >= 0.5
    # SGD from the formula: w_{t+1} = w_t - 0.01 A w_t (second coordinate 0.7^t: stops after 2 updates).
    assert len(stopped) == 3
    w = np.array([1.0, 1.0])
    for t in range(1, 3):
        w = w - 0.01 * a @ w
        np.testing.assert_allclose(stopped[t][0], w, rtol=1e-6)


# -- plots ----------------------------------------------------------------------
def test_plot_helpers_draw_the_t_interval():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = [0.3, 0.7, 1.1, 0.2, 0.9]
    iv = study.t_interval(values)
    fig, ax = plt.subplots()
    got = study.plot_interval(ax, 2, values, spread=0.25)
    assert got == iv
    points = ax.lines[-1]
    np.testing.assert_allclose(points.get_xdata(), np.full(5, 2.25))
    np.testing.assert_allclose(points.get_ydata(), values)
    segments = ax.collections[0].get_segments()  # the error bar
    np.testing.assert_allclose(segments[0][:, 1], [iv.low, iv.high])
    curves = np.array([[0.3, 1.0], [0.7, 1.4], [1.1, 0.2]])
    line = study.plot_band(ax, [1, 2], curves, "o-", alpha=0.3)
    np.testing.assert_allclose(line.get_ydata(), curves.mean(0))
    band = ax.collections[-1].get_paths()[0].vertices[:, 1]
    ivs = [study.t_interval(c) for c in curves.T]
    assert min(band) == pytest.approx(min(i.low for i in ivs)) and max(band) == pytest.approx(max(i.high for i in ivs))
    with pytest.raises(ValueError, match="`curves`"):
        study.plot_band(ax, [1, 2, 3], curves)
    plt.close(fig)


def test_per_seed_prints_each_seed_when_verbose(tmp_path, capsys):
    s = study.Study("demo", "x", lambda ctx: {}, [study.Below("q", 1.0)])
    ctx = study.Context(s, study.options(verbose=True), str(tmp_path), [3, 5])
    ctx.per_seed(lambda seed: {"q": seed / 10})
    assert capsys.readouterr().out.splitlines() == ["  seed 3: q 0.3", "  seed 5: q 0.5"]
    quiet = study.Context(s, study.options(), str(tmp_path), [3, 5])
    quiet.per_seed(lambda seed: {"q": seed / 10})
    assert capsys.readouterr().out == ""
