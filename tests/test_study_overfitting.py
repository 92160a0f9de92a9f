"""The flagship recipe's pieces: paired initial weights, the shift augmentation, label noise, selection on validation."""

import json

import keras
import numpy as np
import pytest

from kerasreg import study
from kerasreg.recipes import overfitting

pytestmark = pytest.mark.jax_pass


def _kernels(model):
    return [keras.ops.convert_to_numpy(v) for v in model.weights if "kernel" in v.path and "stddev" not in v.path]


def _copy(variant, seed):
    grid = overfitting.GRIDS.get(variant)
    return {"seed": seed, "variant": variant, **({"strength": grid[0]} if grid else {})}


def test_every_variant_starts_from_the_baselines_weights():
    """Paired: for one seed every variant's network starts from the same initial weights; another seed differs."""

    def initial(variant, seed):
        keras.utils.set_random_seed(seed)  # as kerasreg.stacked.fit does before each copy
        return _kernels(overfitting.build_mlp(_copy(variant, seed)))

    base = initial("baseline", 17)
    assert len(base) == overfitting.HIDDEN + 1
    for variant in overfitting.GRIDS:
        for a, b in zip(initial(variant, 17), base):
            np.testing.assert_array_equal(a, b, err_msg=variant)
    assert not np.array_equal(initial("baseline", 18)[0], base[0])


def test_noisy_labels_flip_at_the_rate_to_another_class():
    y = np.tile(np.arange(10, dtype="int32"), 200)
    noisy = overfitting.noisy_labels(y, 0.1, seed=5)
    assert noisy.shape == (overfitting.PASSES * len(y),)
    clean = np.tile(y, overfitting.PASSES)
    flipped = noisy != clean
    assert abs(flipped.mean() - 0.1) < 0.01  # 10,000 draws: sd 0.003
    assert set(np.unique(noisy)) == set(range(10))
    # The repeats are flipped independently.
    first, second = np.split(flipped, overfitting.PASSES)[:2]
    assert 0 < np.sum(first & second) < np.sum(first)
    np.testing.assert_array_equal(overfitting.noisy_labels(y, 0.0, seed=5), clean)


class _FakeResult:
    def __init__(self, history):
        self.history = history


def _fake_fit(model_fn, optimizer_fn, copies, x, y, *, epochs, validation_data, eval_sets, **kwargs):
    """Stands in for kerasreg.stacked.fit: validation numbers from the copies, test numbers from the test data."""
    k = len(copies)
    keys = [hash((c["seed"], c["variant"], str(c.get("strength")))) % 2**32 for c in copies]
    history = {}
    for split, data in (("", None), ("val_", validation_data), ("test_", eval_sets["test"]),
                        ("train_", eval_sets["train"])):
        salt = 0 if data is None else int(np.abs(data[0]).sum() * 1000) % 2**31
        rng = np.random.default_rng([salt, *keys])
        history[split + "loss"] = rng.random((k, epochs)).astype("float32")
        history[split + "accuracy"] = rng.random((k, epochs)).astype("float32")
    return _FakeResult(history)


def test_the_flagship_selects_on_validation_only(tmp_path, monkeypatch):
    """Poisoned test split: the recipe's choices (strengths, stopping pass) do not move; its test numbers do."""
    monkeypatch.setattr(overfitting.stacked, "fit", _fake_fit)
    monkeypatch.setattr(overfitting, "_curves", lambda *a: None)
    monkeypatch.setattr(overfitting, "_inspect", lambda *a: None)

    def run(poison):
        out = tmp_path / str(poison)
        study.run(overfitting.STUDY, study.options(quick=True, seed=3, epochs=20, out=str(out)), poison_test=poison,
                  print_summary=False)
        return json.loads((out / "overfitting" / "metrics.json").read_text())

    clean, poisoned = run(False), run(True)
    runs = [f"early_stopping (baseline run {r + 1})" for r in range(1, overfitting.BASELINE_RUNS)]
    assert set(clean["selected"]) == set(overfitting.VARIANTS[1:]) | set(runs)
    for variant, record in clean["selected"].items():
        assert poisoned["selected"][variant]["chosen"] == record["chosen"], variant
    assert clean["per_seed"]["test_loss/l2"] != poisoned["per_seed"]["test_loss/l2"]
    # The choices are not trivially constant: the fake validation numbers make them vary over seeds.
    assert len({json.dumps(c) for c in clean["selected"]["l2"]["chosen"]}) > 1


def test_the_baseline_is_the_mean_of_its_runs_and_each_run_stops_on_its_own(tmp_path, monkeypatch):
    """The baseline's numbers per seed are the mean over its BASELINE_RUNS runs (run 0 on the seed itself, paired with
    the variants; the others on derived seeds), and early stopping stops each run at its own lowest validation
    point; recomputed here from the (fake) histories, independently of the recipe's indexing."""
    seen = {}

    def fake(model_fn, optimizer_fn, copies, x, y, **kwargs):
        result = _fake_fit(model_fn, optimizer_fn, copies, x, y, **kwargs)
        seen.update(copies=copies, history=result.history)
        return result

    monkeypatch.setattr(overfitting.stacked, "fit", fake)
    monkeypatch.setattr(overfitting, "_curves", lambda *a: None)
    monkeypatch.setattr(overfitting, "_inspect", lambda *a: None)
    study.run(overfitting.STUDY, study.options(quick=True, seed=5, epochs=40, out=str(tmp_path)), print_summary=False)
    metrics = json.loads((tmp_path / "overfitting" / "metrics.json").read_text())
    seeds = metrics["settings"]["seeds"]
    copies, h = seen["copies"], seen["history"]
    base = [(i, c) for i, c in enumerate(copies) if c["variant"] == "baseline"]
    assert len(base) == overfitting.BASELINE_RUNS * len(seeds)
    variant_seeds = {c["seed"] for c in copies if c["variant"] != "baseline"}
    assert variant_seeds == set(seeds)
    expected_test, expected_stop = [], []
    for j, s in enumerate(seeds):
        own = [i for i, c in base if c["seed"] == s]
        assert len(own) == 1  # run 0: the seed itself
        derived = study.derive_seeds(s, overfitting.BASELINE_RUNS)
        others = [i for i, c in base if c.get("run") and c["seed"] == derived[c["run"]]]
        assert len(others) == overfitting.BASELINE_RUNS - 1 and not {copies[i]["seed"] for i in others} & variant_seeds
        rows = own + others
        expected_test.append(np.mean([h["test_loss"][i, -1] for i in rows]))
        expected_stop.append(np.mean([h["test_loss"][i, int(np.argmin(h["val_loss"][i]))] for i in rows]))
    np.testing.assert_allclose(metrics["per_seed"]["test_loss/baseline"], expected_test, rtol=1e-6)
    np.testing.assert_allclose(metrics["per_seed"]["test_loss/early_stopping"], expected_stop, rtol=1e-6)
