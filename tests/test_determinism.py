"""enable_determinism(seed): the same seed gives bitwise-identical weights,
a different seed different ones.

Each run is a fresh subprocess (op determinism is process-wide) training a
small MLP, a small CNN and an MLP with kerasreg BatchNormalization and
Dropout, with shuffling, on the backend of this test run.
"""

import json
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.jax_pass]

HERE = os.path.dirname(os.path.abspath(__file__))


def _run(*seeds, timeout=300):
    """Run one subprocess per seed, concurrently; return their hashes."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = os.path.dirname(HERE) + os.pathsep + env.get("PYTHONPATH", "")
    procs = [subprocess.Popen([sys.executable, os.path.join(HERE, "_determinism_run.py"), str(s)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for s in seeds]
    try:
        results = []
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            assert p.returncode == 0, err[-4000:]
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_same_seed_same_bits_other_seed_other_bits():
    first, again, other = _run(11, 11, 12)
    assert sorted(first) == ["cnn", "dropout_bn", "mlp"]
    assert first == again
    for name in first:
        assert first[name] != other[name], name


def test_seed_is_validated():
    from kerasreg.distribute import enable_determinism

    with pytest.raises(ValueError, match="seed"):
        enable_determinism(-1)
    with pytest.raises(TypeError, match="seed"):
        enable_determinism("7")
