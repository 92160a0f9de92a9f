"""Keras' own tests of ``BatchNormalization``
(keras/src/layers/normalization/batch_normalization_test.py) run on
``kerasreg.layers.BatchNormalization``; batch renormalization excluded."""

import pytest

from _keras_own import load, skip
from kerasreg.layers import BatchNormalization

pytestmark = pytest.mark.jax_pass

_own = load("layers/normalization/batch_normalization_test.py",
            layers={"BatchNormalization": BatchNormalization})

_RENORM = "kerasreg's BatchNormalization has no batch renormalization (renorm=True)"


class TestKerasOwnBatchNormalization(_own.BatchNormalizationTest):
    test_renorm_basics = skip(_RENORM)
    test_renorm_invalid_clipping_keys = skip(_RENORM)
    test_renorm_stddev_initializer = skip(_RENORM)
    test_renorm_inference = skip(_RENORM)
    test_renorm_correctness = skip(_RENORM)
    test_serialization = skip(_RENORM + "; its config round trip is in the conformance suite")
