"""Keras' own tests of ``EarlyStopping`` (keras/src/callbacks/early_stopping_test.py)
run on ``kerasreg.callbacks.EarlyStopping``."""

import pytest

from _keras_own import load
from kerasreg.callbacks import EarlyStopping

pytestmark = pytest.mark.jax_pass

_own = load("callbacks/early_stopping_test.py", callbacks={"EarlyStopping": EarlyStopping})


class TestKerasOwnEarlyStopping(_own.EarlyStoppingTest):
    pass
