"""The wheel ships the recipes: built, installed into a fresh venv, `kerasreg list` and a recipe run elsewhere.

The fresh venv gets only the wheel (``pip install --no-deps --no-index``);
its dependencies (TensorFlow, Keras, ...) are made visible through a ``.pth``
file naming this environment's site-packages, so nothing is downloaded.
Directories named by a ``.pth`` line are not scanned for ``.pth`` files
themselves, so the checkout's editable install does not leak into the venv:
``kerasreg`` there is the wheel's.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(cmd, cwd, timeout=600, env=None):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.mark.slow
@pytest.mark.tf_only
def test_wheel_installs_and_runs_a_recipe_outside_the_checkout(tmp_path):
    # Build from a copy of the sources (no build/ or egg-info left in the checkout).
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "_kerasreg_cli.py"):
        shutil.copy(os.path.join(ROOT, name), src / name)
    shutil.copytree(os.path.join(ROOT, "kerasreg"), src / "kerasreg",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(dist),
          str(src)], cwd=str(tmp_path))
    (wheel,) = list(dist.glob("kerasreg-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    recipes = sorted(os.path.basename(n)[:-3] for n in names
                     if n.startswith("kerasreg/recipes/") and n.endswith(".py") and "__init__" not in n)
    shipped = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "kerasreg", "recipes"))
                     if f.endswith(".py") and not f.startswith("_"))
    assert recipes == shipped
    assert "_kerasreg_cli.py" in names

    # A fresh venv holding only the wheel; dependencies seen through a .pth file.
    env_dir = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], cwd=str(tmp_path))
    python = env_dir / "bin" / "python"
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                cwd=str(tmp_path)).stdout.strip()
    with open(os.path.join(site, "_deps.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
         cwd=str(tmp_path))

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KERASREG_RECIPES")}
    where = _run([str(python), "-c", "import kerasreg, _kerasreg_cli; print(kerasreg.__file__)"],
                 cwd=str(elsewhere), env=env).stdout
    assert where.strip().startswith(site), where
    kerasreg = str(env_dir / "bin" / "kerasreg")
    listed = _run([kerasreg, "list"], cwd=str(elsewhere), env=env).stdout
    for name in shipped:
        assert name in listed
    _run([kerasreg, "run", "--help"], cwd=str(elsewhere), env=env)
    _run([kerasreg, "run", "momentum", "--quick", "--out", "runs"], cwd=str(elsewhere), env=env)
    metrics = json.loads((elsewhere / "runs" / "momentum" / "metrics.json").read_text())
    assert metrics["checks"] and all(c["held"] for c in metrics["checks"])
