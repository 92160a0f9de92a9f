"""The study runner: intervals, checks, seeds, splits, selection on validation only, the run folder."""

import json
import math

import numpy as np
import pytest

from kerasreg import study

pytestmark = pytest.mark.jax_pass


# -- intervals ------------------------------------------------------------
def test_t_interval_matches_a_hand_computed_case():
    # x = 0.3, 0.7, 1.1, 0.2, 0.9: mean 0.64, sum of squared deviations 0.592, s^2 = 0.148;
    # t(0.975, 4) = 2.7764451 from a printed t table.
    iv = study.t_interval([0.3, 0.7, 1.1, 0.2, 0.9])
    half = 2.7764451 * math.sqrt(0.148 / 5)
    assert iv.n == 5
    assert iv.mean == pytest.approx(0.64, abs=1e-12)
    assert iv.low == pytest.approx(0.64 - half, abs=1e-6)
    assert iv.high == pytest.approx(0.64 + half, abs=1e-6)
    assert iv.half_width == pytest.approx(half, abs=1e-6)


def test_t_interval_matches_scipy_for_ten_values():
    stats = pytest.importorskip("scipy.stats")
    x = np.random.default_rng(3).normal(0.3, 0.7, size=10)
    low, high = stats.t.interval(0.95, df=9, loc=x.mean(), scale=stats.sem(x))
    iv = study.t_interval(x)
    assert (iv.low, iv.high) == pytest.approx((low, high), rel=1e-9)
    # t(0.975, 9) = 2.2621572 (table), not the normal 1.96.
    assert iv.half_width == pytest.approx(2.2621572 * x.std(ddof=1) / math.sqrt(10), rel=1e-6)


def test_t_interval_without_an_interval():
    assert math.isnan(study.t_interval([0.3]).low)
    assert math.isnan(study.t_interval([0.3, float("nan"), 0.7]).high)
    iv = study.t_interval([0.7, 0.7, 0.7])  # no spread: a point interval
    assert iv.low == pytest.approx(0.7) and iv.high == pytest.approx(0.7)
    with pytest.raises(ValueError, match="`confidence`"):
        study.t_interval([1.0, 2.0], confidence=1.5)


def test_fmt_writes_mean_half_width_and_n():
    assert study.fmt([0.3, 0.7, 1.1, 0.2, 0.9]) == "0.640 ± 0.478 (n=5)"
    assert study.fmt([0.3]) == "0.3 (n=1, no interval)"


# -- checks ---------------------------------------------------------------
def _seeds(*columns):
    return {name: np.asarray(v, float) for name, v in columns}


def test_paired_checks_use_the_interval_of_the_differences():
    # a - b = -0.3, -0.7, -0.2, -0.9, -0.5: CI entirely below 0, though a and b overlap widely.
    b = np.array([2.0, 1.0, 3.0, 1.5, 2.5])
    data = _seeds(("a", b - [0.3, 0.7, 0.2, 0.9, 0.5]), ("b", b))
    less = study.Less("a", "b").evaluate(data)
    assert less["held"] and less["n"] == 5 and less["paired"]
    iv = study.t_interval([-0.3, -0.7, -0.2, -0.9, -0.5])
    assert less["mean"] == pytest.approx(-0.52) and less["ci95"] == pytest.approx([iv.low, iv.high])
    assert not study.Greater("a", "b").evaluate(data)["held"]
    assert study.Greater("b", "a").evaluate(data)["held"]
    assert study.AtLeast("b", "a").evaluate(data)["held"]
    # With a margin the claim is a - b < margin: -0.52's interval reaches above -0.3.
    assert not study.Less("a", "b", margin=-0.3).evaluate(data)["held"]
    # a - b = -0.25 exactly on every seed: the interval is the point -0.25.
    exact = _seeds(("a", b - 0.25), ("b", b))
    assert study.AtMost("a", "b", margin=-0.25).evaluate(exact)["held"]  # <= includes the bound
    assert not study.Less("a", "b", margin=-0.25).evaluate(exact)["held"]  # < does not
    assert study.AtLeast("a", "b", margin=-0.25).evaluate(exact)["held"]
    assert not study.Greater("a", "b", margin=-0.25).evaluate(exact)["held"]


def test_a_check_holds_only_when_the_whole_interval_is_on_its_side():
    # Mean difference -0.1 < 0, but the interval straddles 0: not held.
    data = _seeds(("a", [0.1, -0.5, 0.3, -0.6, 0.2]), ("b", [0.0] * 5))
    result = study.Less("a", "b", describe="a is lower").evaluate(data)
    assert result["mean"] < 0 and result["ci95"][0] < 0 < result["ci95"][1]
    assert not result["held"]
    assert "not entirely below 0" in result["words"]


def test_one_sample_checks():
    data = _seeds(("dead", [0.001, 0.002, 0.0, 0.003, 0.001]), ("agree", [0.97, 0.98, 0.99, 0.97, 0.98]))
    assert study.Below("dead", 0.01).evaluate(data)["held"]
    assert not study.Below("dead", 0.002).evaluate(data)["held"]
    assert study.Above("agree", 0.95).evaluate(data)["held"]
    assert not study.Above("agree", 0.975).evaluate(data)["held"]
    assert not study.Below("x", 1.0).evaluate(_seeds(("x", [0.1, float("nan"), 0.2])))["held"]


def test_checks_reject_bad_arguments():
    with pytest.raises(TypeError, match="`a`"):
        study.Less(3, "b")
    with pytest.raises(ValueError, match="`margin`"):
        study.Less("a", "b", margin=float("inf"))
    with pytest.raises(ValueError, match="different"):
        study.Less("a", "a")
    with pytest.raises(ValueError, match="`threshold`"):
        study.Below("a", "high")
    with pytest.raises(KeyError, match="'c'"):
        study.Less("a", "c").evaluate(_seeds(("a", [1, 2]), ("b", [1, 2])))
    with pytest.raises(ValueError, match="one per seed"):
        study.Less("a", "b").evaluate(_seeds(("a", [1, 2, 3]), ("b", [1, 2])))


# -- seeds and splits -----------------------------------------------------
def test_derived_seeds_are_reproducible_distinct_and_prefix_stable():
    ten = study.derive_seeds(3, 10)
    assert ten == study.derive_seeds(3, 10)
    assert study.derive_seeds(3, 5) == ten[:5]
    assert len(set(ten)) == 10 and 3 not in ten
    assert not set(ten) & set(study.derive_seeds(4, 10))
    assert all(0 <= s < 2**31 - 1 for s in ten)
    with pytest.raises(ValueError, match="`base`"):
        study.derive_seeds(-1, 5)


def _context(tmp_path, poison_test=False, **args):
    options = study.options(out=str(tmp_path), quick=True, **args)
    seeds = study.derive_seeds(options.seed, 5)
    return study.Context(None, options, str(tmp_path), seeds, poison_test=poison_test)


def test_split_is_disjoint_stratified_and_paired_by_seed(tmp_path):
    ctx = _context(tmp_path)
    s = ctx.seeds[0]
    data = ctx.split("digits", seed=s, n_train=180, validation=400, test=0.2, flatten=True)
    assert data.sizes == {"train": 180, "validation": 400, "test": 359}
    assert data.train[0].shape == (180, 64) and data.num_classes == 10
    rows = {part: {r.tobytes() for r in getattr(data, part)[0]} for part in ("train", "validation", "test")}
    # Digits holds a few duplicate images; the parts share no more than those.
    assert len(rows["train"] & rows["test"]) <= 2 and len(rows["validation"] & rows["test"]) <= 3
    assert set(np.bincount(data.train[1], minlength=10)) <= {17, 18, 19}  # stratified: 18 of each class
    # Paired: the same seed gives every variant the same split; another seed another one.
    again = ctx.split("digits", seed=s, n_train=180, validation=400, test=0.2, flatten=True)
    for part in ("train", "validation", "test"):
        for u, v in zip(getattr(data, part), getattr(again, part)):
            np.testing.assert_array_equal(u, v)
    other = ctx.split("digits", seed=ctx.seeds[1], n_train=180, validation=400, test=0.2, flatten=True)
    assert not np.array_equal(other.train[0], data.train[0])
    # A smaller training set is a prefix: validation and test do not move.
    small = ctx.split("digits", seed=s, n_train=90, validation=400, test=0.2, flatten=True)
    np.testing.assert_array_equal(small.test[0], data.test[0])
    np.testing.assert_array_equal(small.validation[0], data.validation[0])


def test_split_rejects_bad_sizes(tmp_path):
    ctx = _context(tmp_path)
    with pytest.raises(ValueError, match="`n_train`"):
        ctx.split("digits", seed=1, n_train=5000)
    with pytest.raises(ValueError, match="`test`"):
        ctx.split("digits", seed=1, test=1.5)
    with pytest.raises(ValueError, match="`name`"):
        ctx.split("no_such_set", seed=1)


def test_poisoned_split_changes_test_only(tmp_path):
    clean = _context(tmp_path).split("moons", seed=11)
    poisoned = _context(tmp_path, poison_test=True).split("moons", seed=11)
    assert poisoned.poisoned and not clean.poisoned
    np.testing.assert_array_equal(poisoned.train[0], clean.train[0])
    np.testing.assert_array_equal(poisoned.validation[1], clean.validation[1])
    assert not np.allclose(poisoned.test[0], clean.test[0])
    assert poisoned.test[0].shape == clean.test[0].shape


def test_select_picks_the_best_validation_score_per_seed(tmp_path):
    ctx = _context(tmp_path)
    scores = np.array([[0.5, 0.3, 0.4], [0.2, 0.3, np.nan], [0.9, 0.8, 0.1], [0.4, 0.4, 0.5], [1, 2, 0.3]])
    chosen = ctx.select("l2", [1e-4, 1e-3, 1e-2], scores)
    np.testing.assert_array_equal(chosen, [1, 0, 2, 0, 2])  # a tie goes to the first
    assert ctx.selections["l2"]["chosen"] == [1e-3, 1e-4, 1e-2, 1e-4, 1e-2]
    assert ctx.select("acc", ["a", "b"], [0.7, 0.9], seed=ctx.seeds[2], higher_is_better=True) == 1
    assert ctx.selections["acc"]["chosen"] == [None, None, "b", None, None]
    with pytest.raises(ValueError, match="shape"):
        ctx.select("x", [1, 2], np.zeros((5, 3)))
    with pytest.raises(ValueError, match="`seed`"):
        ctx.select("x", [1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="no finite score"):
        ctx.select("x", [1, 2], [[np.nan, np.nan]] * 5)


# -- the runner -----------------------------------------------------------
GRID = (1e-6, 1e-4, 1e-2, 1.0, 1e2)


def _ridge_study(select_on="validation"):
    """Ridge regression of degree-9 polynomials on the noisy sine, strength selected on `select_on`."""

    def features(x):
        return np.concatenate([x**k for k in range(10)], axis=1)

    def mse(w, part):
        x, y = part
        return float(np.log(np.mean((features(x) @ w - y) ** 2)))

    def measure(ctx):
        def one_seed(seed):
            data = ctx.split("noisy_sine", seed=seed, validation=10, test=10)
            phi, y = features(data.train[0]), data.train[1]
            fits = [np.linalg.solve(phi.T @ phi + lam * np.eye(10), phi.T @ y) for lam in GRID]
            scores = [mse(w, getattr(data, select_on)) for w in fits]
            k = ctx.select("ridge", GRID, scores, seed=seed)
            return {"test_log_mse/least_squares": mse(fits[0], data.test), "test_log_mse/ridge": mse(fits[k], data.test)}

        return ctx.per_seed(one_seed)

    return study.Study(name="ridge", claim="Ridge selected on validation beats least squares.", measure=measure,
                       checks=[study.Less("test_log_mse/ridge", "test_log_mse/least_squares", describe="ridge is better"),
                               study.Below("test_log_mse/ridge", -7.0, describe="ridge is nearly exact")])


def test_run_writes_metrics_and_report_and_exits_1_when_a_check_fails(tmp_path):
    code = study.run(_ridge_study(), study.options(quick=True, seed=4, out=str(tmp_path)), print_summary=False)
    data = json.loads((tmp_path / "ridge" / "metrics.json").read_text())
    assert code == 1 and data["held"] is False  # nothing is that exact on a noisy sine
    assert data["settings"]["n_seeds"] == 5 and data["settings"]["seeds"] == study.derive_seeds(4, 5)
    assert len(data["per_seed"]["test_log_mse/ridge"]) == 5
    assert data["metrics"]["test_log_mse/ridge"] == pytest.approx(np.mean(data["per_seed"]["test_log_mse/ridge"]))
    better, exact = data["checks"]
    for c in data["checks"]:
        assert set(c) >= {"name", "n", "mean", "ci95", "op", "threshold", "held"} and c["n"] == 5
        assert c["ci95"][0] <= c["mean"] <= c["ci95"][1]
    d = np.subtract(data["per_seed"]["test_log_mse/ridge"], data["per_seed"]["test_log_mse/least_squares"])
    iv = study.t_interval(d)
    assert better["ci95"] == pytest.approx([iv.low, iv.high]) and better["held"] is (iv.high < 0)
    assert not exact["held"]
    assert len(data["selected"]["ridge"]["chosen"]) == 5
    report = (tmp_path / "ridge" / "report.md").read_text()
    assert "Not shown here: ridge is nearly exact." in report
    assert "(n=5)" in report and "±" in report and "Student t" in report


def test_run_exits_0_when_every_check_holds_and_honours_seeds(tmp_path):
    ridge = _ridge_study()
    ridge.checks = [study.Below("test_log_mse/ridge", 0.0, describe="ridge fits the sine to a test MSE below 1")]
    code = study.run(ridge, study.options(seed=1, seeds=6, out=str(tmp_path)), print_summary=False)
    data = json.loads((tmp_path / "ridge" / "metrics.json").read_text())
    assert data["checks"][0]["n"] == 6
    assert code == (0 if data["checks"][0]["held"] else 1) == 0


def test_selection_never_reads_the_test_split(tmp_path):
    """Poison every test split: what was selected on validation stays; selecting on test would change."""

    def selected(s, poison):
        study.run(s, study.options(quick=True, seed=2, out=str(tmp_path / str(poison))), poison_test=poison,
                  print_summary=False)
        data = json.loads((tmp_path / str(poison) / "ridge" / "metrics.json").read_text())
        return data["selected"]["ridge"]["chosen"], data["per_seed"]["test_log_mse/ridge"]

    chosen, test = selected(_ridge_study(), False)
    chosen_poisoned, test_poisoned = selected(_ridge_study(), True)
    assert chosen_poisoned == chosen
    assert not np.allclose(test, test_poisoned)  # the poison reached the test split
    # The check can fail: a study that selects on test changes its choices under poison.
    cheat, _ = selected(_ridge_study(select_on="test"), False)
    cheat_poisoned, _ = selected(_ridge_study(select_on="test"), True)
    assert cheat_poisoned != cheat


def test_poison_test_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(study.POISON_TEST_ENV, "1")
    study.run(_ridge_study(), study.options(quick=True, out=str(tmp_path)), print_summary=False)
    data = json.loads((tmp_path / "ridge" / "metrics.json").read_text())
    assert data["settings"]["poison_test"] is True
    assert "test numbers are meaningless" in (tmp_path / "ridge" / "report.md").read_text()


def test_run_rejects_a_measure_without_one_value_per_seed(tmp_path):
    bad = study.Study("bad", "c", lambda ctx: {"q": [1.0, 2.0]}, [study.Below("q", 3.0)])
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        study.run(bad, study.options(quick=True, out=str(tmp_path)), print_summary=False)


def test_study_rejects_bad_declarations():
    measure = lambda ctx: {}  # noqa: E731
    with pytest.raises(ValueError, match="`checks`"):
        study.Study("x", "c", measure, [])
    with pytest.raises(TypeError, match="`checks`"):
        study.Study("x", "c", measure, ["a < b"])
    with pytest.raises(ValueError, match=r"seeds\[0\]"):
        study.Study("x", "c", measure, [study.Below("q", 1.0)], seeds=(3, 10))
    with pytest.raises(ValueError, match="`name`"):
        study.Study("no name", "c", measure, [study.Below("q", 1.0)])
    with pytest.raises(TypeError, match="unknown options"):
        study.options(quik=True)


def test_context_epochs_and_per_seed(tmp_path):
    ctx = _context(tmp_path)
    assert ctx.epochs(60, 150) == 60
    assert _context(tmp_path, epochs=7).epochs(60, 150) == 7
    out = ctx.per_seed(lambda seed: {"seed": seed, "half": seed / 2})
    np.testing.assert_array_equal(out["seed"], ctx.seeds)
    with pytest.raises(ValueError, match="same ones"):
        ctx.per_seed(lambda seed: {"a": 1.0} if seed == ctx.seeds[0] else {"b": 1.0})


def test_log_history_writes_one_tensorboard_run_per_variant(tmp_path):
    ctx = _context(tmp_path)
    ctx.log_history("dropout", None, {"epoch_loss/validation": [0.9, 0.7, 0.8]}, step_scale=5)
    ctx.log_history("l2", ctx.seeds[0], {"epoch_loss/validation": [0.9, 0.6]})
    files = sorted(p.relative_to(tmp_path / "tb").parts[:-1] for p in (tmp_path / "tb").rglob("events.out.*"))
    assert files == [("dropout",), ("l2", f"seed_{ctx.seeds[0]}")]
