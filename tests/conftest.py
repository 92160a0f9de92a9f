"""Test session set-up: 2 logical CPU devices (for MirroredStrategy) before
TensorFlow initializes, a fixed seed per test, and the JAX pass' skips."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402

BACKEND = keras.backend.backend()

if BACKEND == "tensorflow":
    from kerasreg.distribute import split_cpu

    split_cpu(2)


def pytest_collection_modifyitems(config, items):
    if BACKEND == "tensorflow":
        return
    skip = pytest.mark.skip(reason=f"TensorFlow-only; backend is {BACKEND}")
    for item in items:
        if "tf_only" in item.keywords:
            item.add_marker(skip)
        no_torch = item.get_closest_marker("no_torch")
        if BACKEND == "torch" and no_torch is not None:
            reason = no_torch.args[0] if no_torch.args else no_torch.kwargs["reason"]
            item.add_marker(pytest.mark.skip(reason=f"not on torch: {reason}"))


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    # free_memory=False: skip the gc.collect() (about 1 s a test on 2 cores);
    # the graph state that matters for isolation is still reset.
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(1337)
    yield
