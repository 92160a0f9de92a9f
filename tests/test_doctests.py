"""Every ``>>>`` example in kerasreg runs as a doctest, and its printed output is checked.

Each module's examples run in one namespace holding the module's own globals
plus ``np``, ``keras`` and ``kerasreg`` (as numpy's and Keras' doctests have
their usual imports); anything else an example uses, it defines.  The
examples run with the random seed fixed, in a temporary folder (some write
files).
"""

import doctest
import importlib
import importlib.util
import os
import pkgutil

import keras
import numpy as np
import pytest

import kerasreg

SKIP = ("kerasreg.recipes",)  # recipes are programs (kerasreg run), not API examples


def _modules_with_examples():
    names = []
    for info in pkgutil.walk_packages(kerasreg.__path__, "kerasreg."):
        if info.name.startswith(SKIP):
            continue
        spec = importlib.util.find_spec(info.name)
        path = getattr(spec, "origin", None)
        if path and path.endswith(".py"):
            with open(path, encoding="utf-8") as f:
                if ">>>" in f.read():
                    names.append(info.name)
    return sorted(names)


MODULES = _modules_with_examples()


def test_examples_are_found():
    assert len(MODULES) >= 30, MODULES  # every component file carries an example


@pytest.mark.tf_only
@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name, tmp_path, monkeypatch):
    module = importlib.import_module(name)
    monkeypatch.chdir(tmp_path)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = finder.find(module, name, globs={**vars(module), "np": np, "keras": keras, "kerasreg": kerasreg})
    assert tests, f"{name}: no examples found"
    for test in tests:
        keras.utils.set_random_seed(0)
        runner.run(test)
    summary = runner.summarize(verbose=False)
    assert summary.failed == 0, f"{name}: {summary.failed} of {summary.attempted} examples failed (output above)"


@pytest.mark.slow
@pytest.mark.tf_only
def test_api_reference_builds_without_warnings(tmp_path):
    """`make docs`: pdoc renders every module's docstrings; any warning fails the build."""
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, os.path.join(root, "docs", "build_api.py"), str(tmp_path / "api")],
                          capture_output=True, text=True, timeout=600, cwd=root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    for page in ("index.html", "kerasreg.html", "kerasreg/callbacks/lr_finder.html", "kerasreg/optimizers.html"):
        assert (tmp_path / "api" / page).exists(), page
    # A package with __all__ documents its public classes on its own page.
    assert 'id="Adam"' in (tmp_path / "api" / "kerasreg" / "optimizers.html").read_text()
    assert "steepest descent" in (tmp_path / "api" / "kerasreg" / "callbacks" / "lr_finder.html").read_text()
