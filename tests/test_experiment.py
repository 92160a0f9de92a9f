"""The run folder a recipe writes: metrics.json, report.md, claims."""

import json

import pytest

from kerasreg import experiment


def _run(tmp_path, argv=()):
    args = experiment.parse_args("demo", "d", ["--out", str(tmp_path), *argv])
    return experiment.Run("demo", args, "Two is less than three.")


def test_metrics_and_report_written(tmp_path):
    run = _run(tmp_path, ["--quick", "--seed", "3"])
    run.metric("x", 2.0)
    assert run.check("two < three", value=2.0, threshold=3.0, op="<")
    assert not run.check("two > three", value=2.0, threshold=3.0, op=">")
    run.table("t", ["a", "b"], [[1, 2.5]])
    payload = run.finish(print_summary=False)
    data = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    assert data == json.loads(json.dumps(payload))
    assert data["held"] is False
    assert [c["held"] for c in data["checks"]] == [True, False]
    assert data["settings"]["seed"] == 3 and data["settings"]["quick"] is True
    report = (tmp_path / "demo" / "report.md").read_text()
    assert "Two is less than three." in report and "| two > three | 2 | > 3 | **no** |" in report


def test_check_rejects_unknown_operator_and_inconsistent_held(tmp_path):
    run = _run(tmp_path)
    with pytest.raises(ValueError, match="`op`"):
        run.check("x", value=1, threshold=2, op="~")
    with pytest.raises(ValueError, match="disagrees"):
        run.check("x", True, value=3, threshold=2, op="<")


def test_bad_epochs_rejected(tmp_path):
    with pytest.raises(SystemExit):
        experiment.parse_args("demo", "d", ["--epochs", "0"])


def _mlp(seed, dropout=True):
    import keras

    keras.utils.set_random_seed(seed)
    layers = [keras.Input((4,)), keras.layers.Dense(8, activation="relu")]
    if dropout:
        layers.append(keras.layers.Dropout(0.3, seed=seed))
    return keras.Sequential([*layers, keras.layers.Dense(3)])


@pytest.mark.jax_pass
@pytest.mark.parametrize("optimizer", ["Adam", "Momentum"])
def test_restore_then_fit_equals_a_fresh_model(optimizer):
    """A snapshot restored with another learning rate trains exactly as a model built afresh with it."""
    import keras
    import numpy as np

    import kerasreg

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 3, 64)

    def compiled(lr):
        model = _mlp(5)
        model.compile(optimizer=getattr(kerasreg.optimizers, optimizer)(lr),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model

    reused = compiled(0.1)
    state = experiment.snapshot(reused)
    reused.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)  # moves weights, slots, seeds
    experiment.restore(reused, state, learning_rate=0.02)
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
    import keras

    model = _mlp(0, dropout=False)
    with pytest.raises(ValueError, match="compiled"):
        experiment.snapshot(model)
    model.compile(optimizer="sgd", loss="mse")
    state = experiment.snapshot(model)
    with pytest.raises(ValueError, match="learning_rate"):
        experiment.restore(model, state, learning_rate=-1.0)
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    other.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="not taken of this model"):
        experiment.restore(other, state)


@pytest.mark.jax_pass
def test_fast_trajectory_equals_the_eager_one():
    import numpy as np

    import kerasreg
    from kerasreg.testing import optimizer_trajectory

    a = np.diag([1.0, 30.0])

    def grad(ws):
        return [a @ ws[0]]

    for make in (lambda: kerasreg.optimizers.Nesterov(0.02, momentum=0.9),
                 lambda: kerasreg.optimizers.GradientClipping(kerasreg.optimizers.Adam(0.1), mode="norm",
                                                              threshold=1.0)):
        fast = experiment.trajectory(make(), [np.array([-3.0, 1.0])], grad, 40)
        eager = optimizer_trajectory(make(), [np.array([-3.0, 1.0])], grad, 40)
        np.testing.assert_allclose(np.array(fast), np.array(eager), rtol=1e-6, atol=1e-7)
    stopped = experiment.trajectory(kerasreg.optimizers.SGD(0.01), [np.array([1.0, 1.0])], grad, 50,
                                    stop=lambda ws: len(ws) and ws[0][1] < 0.5)
    assert len(stopped) < 51 and stopped[-1][0][1] < 0.5
