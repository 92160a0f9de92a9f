"""Run one of Keras' own test files with a kerasreg class swapped in.

``load(relpath, **swaps)`` executes the source of ``keras/src/<relpath>`` in a
fresh module namespace (Keras itself is not touched: no global patching), then
replaces each module attribute named in ``swaps`` (``layers``, ``callbacks``)
by an overlay that returns kerasreg's classes for the given names and
delegates every other name to the original module.  The test classes of the
file read those attributes from their own namespace, so they construct
kerasreg's classes.  A test file subclasses the returned classes, skipping
(with the reason) the tests where kerasreg deliberately differs.
"""

import os
import types

import keras


class _Overlay(types.ModuleType):
    """``module`` with some attributes replaced."""

    def __init__(self, module, replacements):
        super().__init__(module.__name__)
        self._module = module
        self.__dict__.update(replacements)

    def __getattr__(self, name):
        return getattr(self._module, name)


def load(relpath, **swaps):
    """The namespace of ``keras/src/<relpath>`` with ``swaps`` applied.

    ``swaps`` maps a module-level name of the test file (``"layers"``) to a
    dict ``{"BatchNormalization": kerasreg.layers.BatchNormalization}``.
    """
    path = os.path.join(os.path.dirname(keras.__file__), "src", relpath)
    with open(path) as f:
        source = f.read()
    name = "keras_own_" + relpath.replace("/", "_").removesuffix(".py")
    module = types.ModuleType(name)
    module.__file__ = path
    exec(compile(source, path, "exec"), module.__dict__)
    for attr, replacements in swaps.items():
        setattr(module, attr, _Overlay(getattr(module, attr), replacements))
    return module


def skip(reason):
    """A test method that is skipped with ``reason``."""
    import pytest

    def skipped(self, *args, **kwargs):
        pytest.skip(reason)

    return skipped
