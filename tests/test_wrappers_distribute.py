"""Clipping under tf.distribute acts on the gradient summed over replicas.

Keras' ``global_clipnorm`` clips each replica's share before the all-reduce
(keras/src/optimizers/base_optimizer.py ``_backend_apply_gradients`` clips,
then the TF optimizer's ``_backend_update_step`` sums), so 2 replicas differ
from 1 (tensorflow/tensorflow#33929).  GradientClipping all-reduces first.
"""

import keras
import pytest

from kerasreg.optimizers import GradientClipping, GradientNoise
from kerasreg.testing.conformance import check_keras_round_trip, check_replica_equality
from kerasreg.testing.registry import Case

# Each test trains 1- and 2-replica models (~20 s each on 2 cores).
pytestmark = [pytest.mark.tf_only, pytest.mark.slow]


def test_keras_global_clipnorm_differs_across_replicas():
    case = Case(name="keras_global_clipnorm", kind="optimizer", cls=keras.optimizers.SGD,
                kwargs={"learning_rate": 0.1, "global_clipnorm": 0.01})
    with pytest.raises(AssertionError, match="2 replicas differ from 1"):
        check_replica_equality(case)


@pytest.mark.parametrize("mode, kwargs", [
    ("global_norm", {"threshold": 0.01}),
    ("norm", {"threshold": 0.01}),
    ("value", {"threshold": 0.003}),
    ("agc", {"threshold": 0.01}),
    ("percentile", {"percentile": 30.0, "history_size": 5}),
])
def test_gradient_clipping_equal_across_replicas(mode, kwargs):
    made = []


    class Recording(GradientClipping):
        def __init__(self, **kw):
            super().__init__(**kw)
            made.append(self)

    case = Case(name=f"clip_{mode}", kind="optimizer", cls=Recording, kwargs=lambda: {
        "optimizer": keras.optimizers.SGD(0.1), "mode": mode, **kwargs})
    check_replica_equality(case)
    single, double = made[-2], made[-1]
    # 2 epochs of 4 global batches: clipping really happened, in both runs alike.
    assert int(single.clip_count.numpy()) >= 4, int(single.clip_count.numpy())
    assert int(double.clip_count.numpy()) == int(single.clip_count.numpy())
    assert float(double.global_norm.numpy()) == pytest.approx(float(single.global_norm.numpy()), rel=1e-5)


def test_gradient_noise_equal_across_replicas_and_resumes():
    """Real noise (eta=0.03): same draws on both replicas, added once to the sum;
    the seed generator's state is saved, so resumed training continues the stream."""
    case = Case(name="noise", kind="optimizer", cls=GradientNoise,
                kwargs=lambda: {"optimizer": keras.optimizers.SGD(0.3, momentum=0.7), "eta": 0.03,
                                "seed": 7})
    check_replica_equality(case)


def test_gradient_noise_keras_file_with_real_noise(tmp_path):
    case = Case(name="noise", kind="optimizer", cls=GradientNoise,
                kwargs=lambda: {"optimizer": keras.optimizers.SGD(0.3, momentum=0.7), "eta": 0.03,
                                "seed": 7})
    check_keras_round_trip(case, tmp_path)
