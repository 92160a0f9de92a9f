"""Keras' own tests of ``Dropout`` (keras/src/layers/regularization/dropout_test.py)
run on ``kerasreg.layers.Dropout``."""

import pytest

from _keras_own import load, skip
from kerasreg.layers import Dropout

pytestmark = pytest.mark.jax_pass

_own = load("layers/regularization/dropout_test.py", layers={"Dropout": Dropout})

_WORDING = ("kerasreg's argument errors use one wording for every component "
            "(`{arg}` must be in ..., got ...); the ValueError itself is checked "
            "in tests/test_layers_dropout.py")


class TestKerasOwnDropout(_own.DropoutTest):
    test_dropout_negative_rate = skip(_WORDING.format(arg="rate"))
    test_dropout_rate_greater_than_one = skip(_WORDING.format(arg="rate"))
    test_validate_noise_shape_non_iterable = skip(_WORDING.format(arg="noise_shape"))
    test_validate_noise_shape_invalid_type = skip(_WORDING.format(arg="noise_shape"))
    test_validate_noise_shape_negative_value = skip(_WORDING.format(arg="noise_shape"))
    test_validate_noise_shape_zero_value = skip(_WORDING.format(arg="noise_shape"))
