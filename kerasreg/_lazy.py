"""Names of a package loaded on first use (PEP 562), for the modules that import TensorFlow."""

import importlib


def lazy_names(package, homes, namespace):
    """A module ``__getattr__`` for ``package``: ``homes`` maps each lazy name to its submodule.

    On first use of a name, its submodule is imported and every lazy name it holds is bound in
    ``namespace`` (the package's ``globals()``): importing a submodule also sets the package
    attribute of the submodule's own name.

    A lazy name may not share its submodule's name: once anything imported that submodule, the
    package attribute would be the module, and ``__getattr__`` would never be asked (a test that
    imported ``kerasreg.data.load`` first made ``kerasreg.data.load(...)`` call a module).
    """
    clashes = sorted(name for name, home in homes.items() if name == home)
    if clashes:
        raise ValueError(f"lazy_names({package!r}): {clashes} are named like their submodules; rename the submodules")

    def __getattr__(name):
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(f"{package}.{homes[name]}")
        for other, home in homes.items():
            if home == homes[name]:
                namespace[other] = getattr(module, other)
        return namespace[name]

    return __getattr__
