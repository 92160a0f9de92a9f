"""Every recipe runs in quick mode and its claim holds (numbers from metrics.json).

Each recipe runs in its own process, exactly as a user runs it
(``python recipes/NAME.py --quick``), so recipes cannot lean on test state.
"""

import json
import os
import subprocess
import sys

import pytest

from kerasreg.cli import available

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPES = sorted(available())


@pytest.mark.slow
@pytest.mark.tf_only
@pytest.mark.parametrize("name", RECIPES)
def test_recipe_quick(name, tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "kerasreg", "recipes", f"{name}.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(tmp_path / name / "metrics.json") as f:
        metrics = json.load(f)
    assert metrics["checks"], f"{name} measured no claim"
    failed = [c for c in metrics["checks"] if not c["held"]]
    assert not failed, f"{name}: claims did not hold: {failed}"
    report = (tmp_path / name / "report.md").read_text()
    assert metrics["claim"] in report
    for fn in os.listdir(tmp_path / name):
        if fn.endswith(".png"):
            assert os.path.getsize(tmp_path / name / fn) > 1000, fn


def test_cli_lists_every_recipe(capsys):
    from kerasreg.cli import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in RECIPES:
        assert name in out


def test_cli_rejects_unknown_recipe():
    from kerasreg.cli import main

    with pytest.raises(SystemExit, match="unknown recipe"):
        main(["run", "no_such_recipe"])


@pytest.mark.slow
@pytest.mark.tf_only
def test_flagship_runs_under_a_strategy(tmp_path):
    """--strategy mirrored: the flagship runs unchanged under tf.distribute (1 epoch, claims not asserted)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "kerasreg", "recipes", "overfitting.py"), "--quick", "--epochs", "1",
         "--strategy", "mirrored", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "overfitting" / "metrics.json").read_text())
    assert metrics["settings"]["strategy"] == "mirrored"
    assert metrics["metrics"]["train_examples"] > 0


def test_cli_run_all_runs_each_recipe_and_reports(tmp_path, monkeypatch, capsys):
    """`kerasreg run all`: every recipe in its own process, a table, exit 1 when a claim fails."""
    import json
    import textwrap

    from kerasreg.cli import main

    recipes = tmp_path / "recipes"
    recipes.mkdir()
    for name, held in (("alpha", True), ("beta", False)):
        (recipes / f"{name}.py").write_text(textwrap.dedent(f'''
            """A stand-in recipe."""
            import argparse, json, os
            p = argparse.ArgumentParser()
            p.add_argument("--quick", action="store_true")
            p.add_argument("--seed", type=int)
            p.add_argument("--out")
            a = p.parse_args()
            os.makedirs(os.path.join(a.out, "{name}"), exist_ok=True)
            with open(os.path.join(a.out, "{name}", "metrics.json"), "w") as f:
                json.dump({{"held": {held} and a.quick and a.seed == 3}}, f)
        '''))
    monkeypatch.setenv("KERASREG_RECIPES", str(recipes))
    out = tmp_path / "runs"
    assert main(["run", "all", "--quick", "--seed", "3", "--out", str(out)]) == 1
    table = capsys.readouterr().out
    assert "alpha" in table and "beta" in table and "1/2 held" in table
    assert json.loads((out / "alpha" / "metrics.json").read_text())["held"] is True
