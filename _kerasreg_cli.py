"""Entry point of the ``kerasreg`` console script (``python -m _kerasreg_cli`` is the same).

It runs ``kerasreg/cli.py`` without importing the ``kerasreg`` package first:
the package's ``__init__`` imports Keras (and with it TensorFlow, about 6 s) so
that every component is registered as ``kerasreg>Name``, while ``kerasreg
--help`` and ``kerasreg list`` need only the standard library.  The file is
loaded under the private name ``_kerasreg_cli_impl`` (not ``kerasreg.cli``,
whose parent package is not imported here); ``kerasreg.cli`` imported the
usual way is the same code.
"""

import importlib.util
import os
import sys

_IMPL = "_kerasreg_cli_impl"


def _load_cli():
    if "kerasreg.cli" in sys.modules:
        return sys.modules["kerasreg.cli"]
    if _IMPL in sys.modules:
        return sys.modules[_IMPL]
    package = importlib.util.find_spec("kerasreg")  # locates the package; does not import it
    if package is None or not package.submodule_search_locations:
        raise SystemExit("kerasreg: the kerasreg package is not installed")
    path = os.path.join(list(package.submodule_search_locations)[0], "cli.py")
    spec = importlib.util.spec_from_file_location(_IMPL, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    return _load_cli().main(argv)


if __name__ == "__main__":
    sys.exit(main())
