"""The `kerasreg` command: subcommands, validation, SUPPORTS, exit codes, quiet output.

Stand-in recipes (written to a temporary folder named by KERASREG_RECIPES)
record what the command passed them, so these tests need no real training.
"""

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from kerasreg import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

RECIPE = '''
"""A stand-in recipe that records its arguments."""
import json, os
SUPPORTS = {supports!r}

def main(args):
    os.makedirs(os.path.join(args.out, "{name}"), exist_ok=True)
    with open(os.path.join(args.out, "{name}", "args.json"), "w") as f:
        json.dump(dict(vars(args), pid=os.getpid()), f)
    {body}
    return {code}
'''

NO_SUPPORTS = '''
"""A stand-in recipe that declares no SUPPORTS."""

def main(args):
    print("ran with seeds", args.seeds)
    return 0
'''


def _python():
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return env


@pytest.fixture
def recipes(tmp_path, monkeypatch):
    """Write stand-in recipes; returns a function name -> path."""
    folder = tmp_path / "recipes"
    folder.mkdir()
    monkeypatch.setenv("KERASREG_RECIPES", str(folder))

    def write(name, supports=("epochs",), code=0, body="pass", source=None):
        text = source if source is not None else RECIPE.format(name=name, supports=tuple(supports), code=code,
                                                                 body=body)
        (folder / f"{name}.py").write_text(textwrap.dedent(text))
        return folder / f"{name}.py"

    return write


@pytest.mark.parametrize("argv", [["--help"], ["list", "--help"], ["run", "--help"]])
def test_help_exits_zero(argv, capsys):
    assert cli.main(argv) == 0
    assert "usage: kerasreg" in capsys.readouterr().out


def test_help_and_list_import_neither_keras_nor_tensorflow():
    """The entry module answers --help and list from the standard library alone."""
    code = ("import sys, _kerasreg_cli\n"
            "assert _kerasreg_cli.main(['list']) == 0\n"
            "try:\n    _kerasreg_cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = sorted(m for m in ('keras', 'tensorflow', 'jax', 'numpy', 'kerasreg') if m in sys.modules)\n"
            "print('HEAVY', heavy)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_python(),
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout, proc.stdout
    assert "overfitting" in proc.stdout


def test_list_shows_every_shipped_recipe_with_its_options(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    shipped = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "kerasreg", "recipes"))
                     if f.endswith(".py") and not f.startswith("_"))
    assert shipped, "no recipes in kerasreg/recipes"
    for name in shipped:
        line = next(line for line in out.splitlines() if line.startswith(name + " "))
        info = cli.recipe_info()[name]
        assert (",".join(info.supports) or "-") in line


@pytest.mark.parametrize("argv, message", [
    (["run", "momentum", "--seed", "-1"], "--seed must be an integer in [0, 2147483647], got -1"),
    (["run", "momentum", "--seed", str(2**31)], "got 2147483648"),
    (["run", "momentum", "--seed", "1.5"], "--seed must be an integer, got '1.5'"),
    (["run", "momentum", "--seeds", "1"], "--seeds must be an integer >= 2, got 1"),
    (["run", "momentum", "--epochs", "0"], "--epochs must be an integer >= 1, got 0"),
    (["run", "momentum", "--strategy", "tpu"], "invalid choice: 'tpu'"),
    (["run"], "required"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_options_exit_2(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_unknown_recipe_exits_2(capsys):
    assert cli.main(["run", "no_such_recipe"]) == 2
    assert "unknown recipe 'no_such_recipe'" in capsys.readouterr().err


def test_option_not_in_supports_is_rejected_naming_recipe_and_option(recipes, tmp_path, capsys):
    recipes("alpha", supports=("epochs",))
    out = tmp_path / "runs"
    for option, value in (("--dataset", "digits"), ("--strategy", "mirrored")):
        assert cli.main(["run", "alpha", option, value, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert "'alpha'" in err and option in err
    assert not out.exists()  # rejected before the recipe ran


def test_recipe_gets_validated_namespace_and_its_exit_code(recipes, tmp_path):
    recipes("alpha", supports=("epochs", "dataset"), code=1)
    out = tmp_path / "runs"
    argv = ["run", "alpha", "--quick", "--seed", "7", "--seeds", "3", "--epochs", "2", "--dataset", "moons",
            "--out", str(out)]
    assert cli.main(argv) == 1  # the recipe's "a claim did not hold"
    got = json.loads((out / "alpha" / "args.json").read_text())
    assert {k: got[k] for k in ("quick", "seed", "seeds", "epochs", "dataset", "strategy", "verbose")} == dict(
        quick=True, seed=7, seeds=3, epochs=2, dataset="moons", strategy=None, verbose=False)


def test_unknown_dataset_is_a_usage_error(recipes, tmp_path, capsys):
    recipes("alpha", supports=("dataset",))
    assert cli.main(["run", "alpha", "--dataset", "no_such_set_xyz", "--out", str(tmp_path)]) == 2
    assert "--dataset 'no_such_set_xyz'" in capsys.readouterr().err
    assert cli.main(["run", "alpha", "--dataset", str(tmp_path), "--out", str(tmp_path)]) == 0  # a folder


def test_recipe_error_exits_3_not_1(recipes, tmp_path, capsys):
    recipes("broken", body="raise RuntimeError('boom')")
    assert cli.main(["run", "broken", "--out", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert "RuntimeError: boom" in err and "'broken' stopped with an error" in err


def test_a_recipe_without_supports_honours_no_optional_option(recipes, tmp_path, capsys):
    recipes("plain", source=NO_SUPPORTS)
    assert cli.recipe_info()["plain"].supports == ()
    assert cli.main(["run", "plain", "--seeds", "3", "--out", str(tmp_path)]) == 0  # --seeds: every recipe
    assert "ran with seeds 3" in capsys.readouterr().out
    for option, value in (("--epochs", "4"), ("--dataset", "digits"), ("--strategy", "mirrored")):
        assert cli.main(["run", "plain", option, value, "--out", str(tmp_path)]) == 2
        assert f"does not honour {option}" in capsys.readouterr().err


def test_supports_must_name_known_options(recipes):
    recipes("odd", supports=("epochs", "batch_size"))
    with pytest.raises(SystemExit, match="batch_size"):
        cli.recipe_info()


@pytest.mark.slow
def test_run_all_runs_each_recipe_in_its_own_process(recipes, tmp_path):
    recipes("alpha", code=0)
    recipes("beta", code=1)
    recipes("gamma", body="raise ValueError('bad')")
    out = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "-m", "_kerasreg_cli", "run", "all", "--quick", "--seed", "3",
                           "--out", str(out)], capture_output=True, text=True, env=_python(), cwd=str(tmp_path),
                          timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    table = proc.stdout
    assert re.search(r"alpha\s+[\d.]+\s+held", table)
    assert re.search(r"beta\s+[\d.]+\s+DID NOT HOLD", table)
    assert re.search(r"gamma\s+[\d.]+\s+error \(exit 3\)", table)
    assert "1/3 held" in table and "[########################] 3/3" in table
    pids = {json.loads((out / n / "args.json").read_text())["pid"] for n in ("alpha", "beta", "gamma")}
    assert len(pids) == 3 and os.getpid() not in pids
    assert json.loads((out / "alpha" / "args.json").read_text())["seed"] == 3
    assert "ValueError: bad" in (out / "logs" / "gamma.log").read_text()


def test_run_all_rejects_per_recipe_options(capsys):
    assert cli.main(["run", "all", "--epochs", "3"]) == 2
    assert "run all" in capsys.readouterr().err


_TF_LOG_LINE = re.compile(r"^([IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]|WARNING: All log messages before absl)",
                          re.M)


@pytest.mark.slow
@pytest.mark.tf_only
def test_a_run_prints_no_tensorflow_logging_nor_keras_shuffle_warning(recipes, tmp_path):
    """A recipe that trains on a data.load split: stderr holds no TF C++ line and no shuffle reminder."""
    recipes("fits", body=textwrap.indent(textwrap.dedent('''
        import keras, kerasreg
        train, val, test, info = kerasreg.data.load("digits", flatten=True, seed=1)
        model = keras.Sequential([keras.Input(info.input_shape), keras.layers.Dense(10)])
        model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(train, validation_data=val, epochs=1, verbose=0)
    '''), "    ").strip())
    proc = subprocess.run([sys.executable, "-m", "_kerasreg_cli", "run", "fits", "--out", str(tmp_path)],
                          capture_output=True, text=True, env=_python(), cwd=str(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert not _TF_LOG_LINE.search(proc.stderr), proc.stderr
    assert "shuffle=True" not in proc.stderr, proc.stderr
