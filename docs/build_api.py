"""Build the API reference (HTML, pdoc) from kerasreg's docstrings; any warning is an error.

    python docs/build_api.py [OUTPUT_DIR]      (default: docs/api; `make docs`)

Every module of ``kerasreg`` is imported first (their import-time warnings,
from TensorFlow and friends, are not the reference's business); then pdoc
renders the docstrings (Google style: ``Args:``, ``Returns:``) and every
warning it raises -- a module that fails to import, a broken cross-reference,
a docstring it cannot parse -- fails the build (exit 1).
"""

import importlib
import os
import pathlib
import pkgutil
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out = argv[0] if argv else os.path.join(os.path.dirname(os.path.abspath(__file__)), "api")
    import pdoc
    import pdoc.render

    import kerasreg

    modules = ["kerasreg"] + [m.name for m in pkgutil.walk_packages(kerasreg.__path__, "kerasreg.")]
    for name in modules:
        importlib.import_module(name)
    pdoc.render.configure(docformat="google", show_source=False, search=True,
                          footer_text=f"kerasreg {kerasreg.__version__}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc("kerasreg", output_directory=pathlib.Path(out))  # pdoc walks the submodules
    for w in caught:
        print(f"docs: {w.category.__name__}: {w.message}", file=sys.stderr)
    if caught:
        print(f"docs: {len(caught)} warning(s): the API reference is not clean", file=sys.stderr)
        return 1
    print(f"docs: API reference of {len(modules)} modules in {out}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
