"""kerasreg imports without TensorFlow on JAX (the GPU machines have JAX, not TensorFlow); the lazy names resolve."""

import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_import_on_jax_without_tensorflow():
    code = (
        "import sys\n"
        "sys.modules['tensorflow'] = None  # any import of TensorFlow fails\n"
        "import kerasreg\n"
        "from kerasreg import stacked, study\n"
        "from kerasreg.augment import RandomShift\n"
        "from kerasreg.recipes import overfitting\n"
        "from kerasreg.data import EMBEDDED\n"
        "import keras\n"
        "assert keras.backend.backend() == 'jax'\n"
        "print('imported')\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "imported" in out.stdout, out.stderr[-3000:]


def test_lazy_names_are_the_functions_not_their_modules():
    import types

    import kerasreg.augment as augment
    import kerasreg.distribute as distribute

    for name in ("pipeline", "preview", "preview_images", "flip_labels"):
        assert isinstance(getattr(augment, name), types.FunctionType), name
        assert isinstance(getattr(augment, name), types.FunctionType), name  # a second access too
    assert isinstance(augment.Pipeline, type) and isinstance(augment.LabelNoise, type)
    import kerasreg.data as data

    for name in ("load", "load_arrays", "from_arrays"):
        assert isinstance(getattr(data, name), types.FunctionType), name
    for name in ("fit", "split_cpu", "get_strategy", "enable_determinism"):
        assert isinstance(getattr(distribute, name), types.FunctionType), name
    assert isinstance(distribute.Trainer, type)
    with pytest.raises(AttributeError, match="no_such"):
        augment.no_such


def test_lazy_names_survive_their_submodules_being_imported_first():
    """Importing every submodule before the lazy names are read leaves each name the function (CI's torch pass
    once met ``kerasreg.data.load`` as a module, after another test imported the submodule of that name)."""
    code = (
        "import importlib, pkgutil, types\n"
        "import kerasreg\n"
        "for pkg in ('kerasreg.augment', 'kerasreg.data', 'kerasreg.distribute'):\n"
        "    package = importlib.import_module(pkg)\n"
        "    for info in pkgutil.iter_modules(package.__path__):\n"
        "        importlib.import_module(pkg + '.' + info.name)\n"
        "    for name in package._LAZY:\n"
        "        value = getattr(package, name)\n"
        "        assert not isinstance(value, types.ModuleType), (pkg, name)\n"
        "print('ok')\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-3000:]


def test_lazy_names_refuse_a_name_shared_with_its_submodule():
    from kerasreg._lazy import lazy_names

    with pytest.raises(ValueError, match=r"\['load'\].*rename the submodules"):
        lazy_names("kerasreg.data", {"load": "load", "from_arrays": "loading"}, {})
