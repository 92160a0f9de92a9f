"""The shared conformance checks, one function per promise.

``tests/test_conformance.py`` runs every check on every registered case
(``kerasreg.testing.registry``).  Each check is written so that it can fail:
it compares against a second, independent run (1 replica vs 2, eager vs XLA,
saved vs continued), never against the component's own output.
"""

import inspect
import json

import keras
import numpy as np

__all__ = [
    "CHECKS",
    "check_config_round_trip",
    "check_registered",
    "check_keras_round_trip",
    "check_xla_fit",
    "check_replica_equality",
    "check_bad_arguments",
]

N_EXAMPLES = 32
GLOBAL_BATCH = 8


def default_data(n=N_EXAMPLES, seed=0):
    """4 features, 3 integer classes; deterministic."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int32") + (x[:, 2] > 0.8).astype("int32")
    return x, y


def _data(case, n=N_EXAMPLES):
    return case.data(n) if case.data is not None else default_data(n)


def _loss(case):
    if case.loss is not None:
        return case.loss
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def build(case, component):
    """Place ``component`` in the kind's small model; return (model, optimizer)."""
    if case.build_model is not None:
        return case.build_model(component)
    kind = case.kind
    dense_kwargs = {}
    if kind == "initializer":
        dense_kwargs["kernel_initializer"] = component
    elif kind == "regularizer":
        dense_kwargs["kernel_regularizer"] = component
    elif kind == "activity":
        dense_kwargs["activity_regularizer"] = component
    elif kind == "constraint":
        dense_kwargs["kernel_constraint"] = component
    inputs = keras.Input((4,))
    h = keras.layers.Dense(6, activation="tanh", **dense_kwargs)(inputs)
    if kind == "layer":
        h = component(h)
    outputs = keras.layers.Dense(3)(h)
    model = keras.Model(inputs, outputs)
    if kind == "optimizer":
        optimizer = component
    elif kind == "schedule":
        optimizer = keras.optimizers.SGD(learning_rate=component)
    else:
        optimizer = keras.optimizers.SGD(learning_rate=0.05)
    return model, optimizer


def _canonical(obj):
    """A JSON string of a (nested) config, for equality of configs."""
    return json.dumps(keras.saving.serialize_keras_object(obj), sort_keys=True, default=repr)


def _init_params(cls):
    sig = inspect.signature(cls.__init__)
    return [
        name
        for name, p in sig.parameters.items()
        if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def check_config_round_trip(case, tmp_path=None):
    """Every constructor argument is in ``get_config``; ``from_config`` rebuilds it."""
    component = case.make()
    config = component.get_config()
    missing = [p for p in _init_params(case.cls) if p not in config and p not in case.config_exempt]
    assert not missing, f"{case.name}: get_config() lacks constructor arguments {missing}"
    kw = case.get_kwargs()
    for name, value in kw.items():
        if isinstance(value, (int, float, str, bool)) and name in config:
            got = config[name]
            if isinstance(value, float) or isinstance(got, float):
                assert got is not None and np.isclose(float(got), float(value)), (
                    f"{case.name}: config[{name!r}] = {got!r}, constructed with {value!r}"
                )
            else:
                assert got == value, f"{case.name}: config[{name!r}] = {got!r}, constructed with {value!r}"
    clone = case.cls.from_config(config)
    assert type(clone) is case.cls
    assert _canonical(clone.get_config()) == _canonical(config), (
        f"{case.name}: from_config(get_config()) changes the config"
    )


def check_registered(case, tmp_path=None):
    """Registered as ``kerasreg>ClassName``; deserializes without custom_objects."""
    registered = f"kerasreg>{case.cls.__name__}"
    assert keras.saving.get_registered_object(registered) is case.cls, registered
    component = case.make()
    serialized = keras.saving.serialize_keras_object(component)
    assert serialized["registered_name"] == registered, serialized.get("registered_name")
    # Through JSON, as a .keras file stores it.
    restored = keras.saving.deserialize_keras_object(json.loads(json.dumps(serialized)))
    assert type(restored) is case.cls
    assert _canonical(restored.get_config()) == _canonical(component.get_config())
    if case.kind == "optimizer":
        params = inspect.signature(case.cls.__init__).parameters.values()
        no_required = all(
            p.default is not p.empty or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or p.name == "self"
            for p in params
        )
        if no_required:
            by_name = keras.optimizers.get(registered)
            assert type(by_name) is case.cls


def _fit(model, x, y, epochs=1):
    model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=epochs, shuffle=False, verbose=0)


def _optimizer_state(optimizer):
    return {v.path: np.array(v) for v in optimizer.variables}


def check_keras_round_trip(case, tmp_path):
    """Save to ``.keras``, load without custom_objects: same predictions, same
    optimizer state, and one more epoch of training gives the same weights as
    continuing the original model."""
    x, y = _data(case)
    keras.utils.set_random_seed(11)
    component = case.make(**(case.replica_kwargs or {}))
    model, optimizer = build(case, component)
    model.compile(optimizer=optimizer, loss=_loss(case))
    _fit(model, x, y)
    path = str(tmp_path / f"{case.cls.__name__}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)  # safe_mode=True, no custom_objects
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6
    )
    if case.kind in ("optimizer", "schedule"):
        assert type(loaded.optimizer) is type(model.optimizer)
        before, after = _optimizer_state(model.optimizer), _optimizer_state(loaded.optimizer)
        assert sorted(before) == sorted(after), "optimizer variables differ after loading"
        for k in before:
            np.testing.assert_allclose(after[k], before[k], rtol=1e-6, atol=1e-7, err_msg=k)
    _fit(model, x, y)
    _fit(loaded, x, y)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _trained_weights(case, jit_compile, strategy=None, init=None):
    x, y = _data(case)
    import contextlib

    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        keras.utils.set_random_seed(5)
        component = case.make(**(case.replica_kwargs or {}))
        model, optimizer = build(case, component)
        if init is not None:
            model.set_weights(init)
        initial = model.get_weights()
        model.compile(optimizer=optimizer, loss=_loss(case), jit_compile=jit_compile)
    _fit(model, x, y, epochs=2)
    return initial, model.get_weights()


def check_xla_fit(case, tmp_path=None):
    """``fit`` with ``jit_compile=True`` trains, finite, and equals the graph run."""
    init, eager = _trained_weights(case, jit_compile=False)
    _, xla = _trained_weights(case, jit_compile=True, init=init)
    assert all(np.all(np.isfinite(w)) for w in xla), "non-finite weights under XLA"
    changed = any(not np.allclose(a, b) for a, b in zip(init, xla))
    assert changed, "fit with jit_compile=True left every weight unchanged"
    for a, b in zip(xla, eager):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def check_replica_equality(case, tmp_path=None):
    """2-replica MirroredStrategy over the same global batches equals 1 replica."""
    if keras.backend.backend() != "tensorflow":
        import pytest

        pytest.skip("tf.distribute is TensorFlow-only")
    if case.replica_skip:
        import pytest

        pytest.skip(case.replica_skip)
    from kerasreg.distribute import cpu_mirrored_strategy

    strategy = cpu_mirrored_strategy(2)
    init, single = _trained_weights(case, jit_compile=False)
    _, double = _trained_weights(case, jit_compile=False, strategy=strategy, init=init)
    worst = max(float(np.max(np.abs(a - b))) for a, b in zip(single, double))
    assert worst <= case.atol, f"{case.name}: 2 replicas differ from 1 by {worst:.3g} > {case.atol:g}"


def check_bad_arguments(case, tmp_path=None):
    """Each listed bad argument raises ValueError/TypeError naming it."""
    assert case.bad, f"{case.name}: no bad arguments listed in its conformance case"
    for overrides, argname in case.bad:
        try:
            case.make(**overrides)
        except (ValueError, TypeError) as e:
            assert argname in str(e), f"{case.name}{overrides}: message {e!s} does not name `{argname}`"
        else:
            raise AssertionError(f"{case.name}: {overrides} was accepted")


CHECKS = {
    "config": check_config_round_trip,
    "registered": check_registered,
    "keras_file": check_keras_round_trip,
    "xla": check_xla_fit,
    "replicas": check_replica_equality,
    "bad_args": check_bad_arguments,
}
