"""Names of a package loaded on first use (PEP 562), for the modules that import TensorFlow."""

import importlib


def lazy_names(package, homes, namespace):
    """A module ``__getattr__`` for ``package``: ``homes`` maps each lazy name to its submodule.

    On first use of a name, its submodule is imported and every lazy name it holds is bound in
    ``namespace`` (the package's ``globals()``): importing a submodule also sets the package
    attribute of the submodule's own name (``pipeline``, ``load``), which the function of that
    name must replace.
    """

    def __getattr__(name):
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(f"{package}.{homes[name]}")
        for other, home in homes.items():
            if home == homes[name]:
                namespace[other] = getattr(module, other)
        return namespace[name]

    return __getattr__
