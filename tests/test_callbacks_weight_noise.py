"""WeightNoiseCallback: gradient at W + eps, update applied to W, never noise outside the step."""

import keras
import numpy as np
import pytest

import kerasreg
from kerasreg.callbacks import WeightNoiseCallback
from kerasreg.optimizers import WeightNoiseOptimizer

pytestmark = pytest.mark.jax_pass  # the noise lives in optimizer variables: every backend

M, D, LR, SIGMA, SEED = 32, 4, 0.07, 0.3, 5


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(M, D)).astype("float32")
    y = (x @ np.array([[0.3], [-0.7], [1.1], [0.2]]) + 0.5 + 0.1 * rng.normal(size=(M, 1))).astype("float32")
    return x, y


def _model(jit=False, noise=None, constraint=None):
    model = keras.Sequential([keras.Input((D,)), keras.layers.Dense(1, kernel_constraint=constraint)])
    model.set_weights([np.array([[0.1], [0.2], [-0.3], [0.7]], "float32"), np.array([0.3], "float32")])
    optimizer = keras.optimizers.SGD(LR)
    model.compile(optimizer=noise.wrap(optimizer) if noise else optimizer, loss="mse", jit_compile=jit)
    return model


def _reference(epochs, sigma=SIGMA, seed=SEED):
    """The docstring's rule in numpy; eps drawn as the docstring says."""
    x, y = _data()
    gen = keras.random.SeedGenerator(seed)
    w = np.array([[0.1], [0.2], [-0.3], [0.7]], "float64")
    b = np.array([0.3], "float64")
    traj = []
    for _ in range(epochs):  # one full batch per epoch
        z = np.array(keras.random.normal((D + 1,), seed=gen))  # one draw, cut in variable order
        ew, eb = sigma * z[:D].reshape(D, 1), sigma * z[D:]
        r = x @ (w + ew) + (b + eb) - y
        w, b = w - LR * 2 * x.T @ r / M, b - LR * 2 * r.mean(0)
        traj.append([w.copy(), b.copy()])
    return traj


class Record(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights, self.logs = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())
        self.logs.append(dict(logs))


@pytest.mark.parametrize("path", ["incremental", "exact"])
def test_update_uses_noisy_gradient_on_clean_weights(tmp_path, path):
    """Exact numpy reference with the same draws (graph mode; under XLA
    TensorFlow's stateless RNG gives other draws, see the next test).  Both ways
    of applying the update: to the noisy weights with the noise swapped after
    (plain SGD), and to W (a constraint reads W: here one that never binds)."""
    x, y = _data()
    noise = WeightNoiseCallback(SIGMA, seed=SEED)
    model = _model(noise=noise, constraint=keras.constraints.MaxNorm(1e6) if path == "exact" else None)
    assert model.optimizer._incremental(model.trainable_variables) == (path == "incremental")
    rec = Record()
    ckpt = keras.callbacks.ModelCheckpoint(str(tmp_path / "e{epoch}.weights.h5"), save_weights_only=True)
    model.fit(x, y, batch_size=M, epochs=7, shuffle=False, verbose=0,
              callbacks=[noise, rec, ckpt])
    ref = _reference(7)
    worst = 0.0
    for got, want in zip(rec.weights, ref):
        for g, w in zip(got, want):
            worst = max(worst, float(np.max(np.abs(g - w))))
    assert worst < 1e-5, worst
    # A noise-free run is far from it (the test can fail).
    clean = _reference(7, sigma=0.0)
    assert np.max(np.abs(rec.weights[-1][0] - clean[-1][0])) > 1e-2
    # Checkpoints written during training hold the clean W of the reference.
    saved = _model()
    saved.load_weights(str(tmp_path / "e4.weights.h5"))
    np.testing.assert_allclose(saved.get_weights()[0], ref[3][0], atol=1e-5)
    # evaluate / predict after fit: the clean weights.
    w, b = ref[-1]
    np.testing.assert_allclose(model.predict(x, verbose=0), x @ w + b, atol=1e-5)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), np.mean((x @ w + b - y) ** 2), rtol=1e-5)


def test_nothing_replaced_and_plain_training_after_fit():
    x, y = _data()
    noise = WeightNoiseCallback(SIGMA, seed=1)
    model = _model(noise=noise)
    model.fit(x, y, batch_size=M, epochs=2, shuffle=False, verbose=0, callbacks=[noise])
    assert "train_step" not in model.__dict__ and "apply_gradients" not in model.optimizer.__dict__
    assert "apply" not in model.optimizer.__dict__
    before = [w.astype("float64") for w in model.get_weights()]
    model.fit(x, y, batch_size=M, epochs=1, shuffle=False, verbose=0)
    w, b = before
    r = x @ w + b - y
    np.testing.assert_allclose(model.get_weights()[0], w - LR * 2 * x.T @ r / M, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("jit", [False, True])
def test_measured_noise_std_from_the_updates(jit):
    """Recover eps from each update (linear least squares: the gradient
    determines W + eps exactly) and check its standard deviation."""
    x, y = _data()
    steps, sigma = 25, 0.05
    noise = WeightNoiseCallback(sigma, seed=11)
    model = _model(jit, noise=noise)
    rec = Record()
    w0 = [w.astype("float64") for w in model.get_weights()]
    model.fit(x, y, batch_size=M, epochs=steps, shuffle=False, verbose=0,
              callbacks=[noise, rec])
    xa = np.hstack([x, np.ones((M, 1))]).astype("float64")
    prev = np.vstack([w0[0], w0[1][:, None]])
    eps = []
    for ws in rec.weights:
        cur = np.vstack([ws[0], ws[1][:, None]]).astype("float64")
        g = (prev - cur) / LR
        noisy = np.linalg.solve(xa.T @ xa, M / 2 * g + xa.T @ y)
        eps.append(noisy - prev)
        prev = cur
    eps = np.concatenate(eps).ravel()  # 125 draws
    # std of a 125-sample std estimate is ~6.3%; allow 20% (> 3 of them).
    assert abs(eps.std() / sigma - 1) < 0.2, eps.std()
    assert abs(eps.mean()) < 3 * sigma / np.sqrt(eps.size)
    # Noise-free evaluation after fit.
    w, b = rec.weights[-1]
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), np.mean((x @ w + b - y) ** 2), rtol=1e-5)


def test_schedule_is_logged_and_annealed():
    x, y = _data()
    schedule = lambda e: 0.3 / (1 + e) ** 0.55  # noqa: E731
    noise = WeightNoiseCallback(schedule=schedule)
    model = _model(noise=noise)
    rec = Record()
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[noise, rec])
    np.testing.assert_allclose([l["weight_noise_stddev"] for l in rec.logs], [schedule(e) for e in range(3)],
                               rtol=1e-6)
    np.testing.assert_allclose(float(np.asarray(model.optimizer.noise_stddev)), schedule(2), rtol=1e-6)


def test_validation_and_explicit_api_see_clean_weights():
    """Validation inside fit sees W; without the callback, add_noise/remove_noise
    turn the noise on and off, and the update follows the reference."""
    x, y = _data()
    noise = WeightNoiseCallback(SIGMA, seed=SEED)
    model = _model(noise=noise)
    rec = Record()
    model.fit(x, y, batch_size=M, epochs=3, shuffle=False, verbose=0, validation_data=(x, y),
              callbacks=[noise, rec])
    ref = _reference(3)
    for logs, (w, b) in zip(rec.logs, ref):
        np.testing.assert_allclose(logs["val_loss"], np.mean((x @ w + b - y) ** 2), rtol=1e-5)
    # The wrapper alone, driven explicitly: the same three steps.
    model = _model(noise=WeightNoiseCallback(SIGMA, seed=SEED))
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    optimizer.add_noise()
    model.fit(x, y, batch_size=M, epochs=3, shuffle=False, verbose=0)
    optimizer.remove_noise()
    for got, want in zip(model.get_weights(), ref[-1]):
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_unwrapped_optimizer_is_a_clear_error():
    x, y = _data()
    with pytest.raises(ValueError, match=r"noise\.wrap"):
        _model().fit(x, y, verbose=0, callbacks=[WeightNoiseCallback(0.1)])


@pytest.mark.skipif(not hasattr(kerasreg.layers, "WeightNoise"), reason="kerasreg.layers.WeightNoise not present")
def test_drives_weight_noise_layers():
    x, y = _data()
    inputs = keras.Input((D,))
    layer = kerasreg.layers.WeightNoise(keras.layers.Dense(1), stddev=0.9)
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.SGD(LR), loss="mse")
    seen = []

    class Probe(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(float(np.array(layer.stddev)))

    schedule = lambda e: 0.07 * 0.5 ** e  # noqa: E731
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[WeightNoiseCallback(schedule=schedule), Probe()])
    np.testing.assert_allclose(seen, [0.07, 0.035, 0.0175], rtol=1e-6)
    assert "train_step" not in model.__dict__  # no second noise on top of the layer's


@pytest.mark.parametrize("kwargs, name", [({"stddev": -0.1}, "stddev"), ({"schedule": 0.3}, "schedule"),
                                          ({"seed": 1.5}, "seed")])
def test_bad_arguments(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        WeightNoiseCallback(**kwargs)


@pytest.mark.parametrize("kwargs, name", [({"stddev": -0.1}, "stddev"), ({"stddev": "x"}, "stddev"),
                                          ({"seed": 1.5}, "seed"), ({"optimizer": 3}, "optimizer")])
def test_wrapper_bad_arguments(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        WeightNoiseOptimizer(**{"optimizer": "sgd", **kwargs})


@pytest.mark.parametrize("layers", [(4, 2), (2,)])
def test_state_saved_with_one_noise_variable_per_weight_loads(layers):
    """Files saved before ``noise`` was one flat variable (commit 46b0f75 to 852dafb: ``noise_0`` ...
    ``noise_{P-1}``, each of its variable's shape, where ``noise`` now is) load: noise, sigma and the inner
    optimizer's momentum come back.  The old layout is built here by hand from that commit's ``build``."""
    import warnings

    def built():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((3,))] + [keras.layers.Dense(n) for n in layers])
        opt = WeightNoiseOptimizer(keras.optimizers.SGD(0.1, momentum=0.9), stddev=0.05, seed=2)
        opt.build(model.trainable_variables)
        return model, opt

    model, opt = built()
    rng = np.random.default_rng(0)
    for v in opt.variables:  # every state distinct, so a misplaced entry shows
        if v.dtype.startswith("float"):
            v.assign(rng.normal(size=v.shape).astype("float32"))
    new = {}
    opt.save_own_variables(new)
    names = [v.path.split("/")[-1] for v in opt.variables]
    k = names.index("noise")
    shapes = [tuple(v.shape) for v in model.trainable_variables]
    cuts = np.cumsum([int(np.prod(s)) for s in shapes])[:-1]
    pieces = [p.reshape(s) for p, s in zip(np.split(new[str(k)], cuts), shapes)]
    values = [new[str(i)] for i in range(k)] + pieces + [new[str(i)] for i in range(k + 1, len(new))]
    old = {str(i): v for i, v in enumerate(values)}
    assert len(old) == len(new) + len(shapes) - 1

    _, fresh = built()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras warns and skips a store of the wrong length
        fresh.load_own_variables(old)
    for a, b in zip(fresh.variables, opt.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), err_msg=a.path)
    # The current layout loads as before; a store of another length is still Keras' warning.
    _, again = built()
    again.load_own_variables(new)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(again.noise), new[str(k)])
    with pytest.warns(UserWarning, match="Skipping variable loading"):
        built()[1].load_own_variables({str(i): new[str(i)] for i in range(3)})
