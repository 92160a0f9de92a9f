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


# The torch pass: tests of what Keras itself cannot do on torch, and the few
# that are too slow there (torch.compile), by node id fragment, with the reason
# (the README's backend table lists them).  The first matching fragment wins.
JIT_REASON = ("jit_compile=True is torch.compile on torch: minutes per model on 2 CPU cores "
              "(the jit_compile=False case runs on torch; XLA / jax.jit run on TF and JAX)")
STACKED_REASON = ("kerasreg.stacked vectorizes with jax.vmap / tf.vectorized_map; Keras has no "
                  "backend-neutral vectorized gradient")
TORCH_SKIPS = {
    "[BatchNormalization-ghost-": "synchronized=True: Keras' torch backend has no synchronized "
                                 "moments (keras.ops.moments raises NotImplementedError)",
    "[BatchNormalization-keras_file]": "the replica variant uses synchronized=True (no synchronized "
                                       "moments in Keras' torch backend)",
    "[BatchNormalization-xla]": "the replica variant uses synchronized=True (no synchronized "
                                "moments in Keras' torch backend)",
    "test_example_arguments_round_trip": "includes BatchNormalization(synchronized=True) (no "
                                         "synchronized moments in Keras' torch backend)",
    # jit_compile=True is torch.compile (Dynamo + Inductor, which builds C++) on torch: 1-7
    # minutes per model on a loaded 2-core machine; XLA / jax.jit are checked on TF and JAX.
    # (Tests parametrized by jit / jit_compile skip their True case: see below.)
    "-xla]": JIT_REASON,
    "test_fit_under_xla_equals_keras": JIT_REASON,
    "tests/test_stacked": STACKED_REASON,
    "test_in_stacked_fit_each_copy_equals_training_it_alone": STACKED_REASON,
}


def pytest_collection_modifyitems(config, items):
    if BACKEND == "tensorflow":
        return
    skip = pytest.mark.skip(reason=f"TensorFlow-only; backend is {BACKEND}")
    for item in items:
        if "tf_only" in item.keywords:
            item.add_marker(skip)
        torch_skip = next((r for k, r in TORCH_SKIPS.items() if k in item.nodeid), None)
        params = item.callspec.params if hasattr(item, "callspec") else {}
        if torch_skip is None and any(params.get(k) is True for k in ("jit", "jit_compile")):
            torch_skip = JIT_REASON
        if BACKEND == "torch" and torch_skip is not None:
            item.add_marker(pytest.mark.skip(reason=f"not on torch: {torch_skip}"))
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
