"""Two MultiWorkerMirroredStrategy workers on 127.0.0.1 equal one worker.

TensorFlow-only (tf.distribute); skipped on the JAX pass.  Each worker is a
subprocess running tests/_distribute_worker.py with its own TF_CONFIG; the
test bounds them in time and kills them on failure.
"""

import json
import os
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

pytestmark = [pytest.mark.tf_only, pytest.mark.slow]

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "_distribute_worker.py")
TIMEOUT_S = 240


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _env(tf_config=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", KERAS_BACKEND="tensorflow")
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    root = os.path.dirname(HERE)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run_workers(cmds_envs, timeout):
    """Start every process, wait for all within ``timeout``; kill all on failure."""
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for cmd, env in cmds_envs]
    deadline = time.monotonic() + timeout
    try:
        outputs = []
        for p in procs:
            out, _ = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            outputs.append(out)
        for p, out in zip(procs, outputs):
            assert p.returncode == 0, f"worker exited with {p.returncode}:\n{out[-4000:]}"
        return outputs
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_two_workers_equal_one_worker(tmp_path):
    sys.path.insert(0, HERE)
    try:
        import _distribute_worker as worker
    finally:
        sys.path.remove(HERE)
    model, _ = worker.build()
    init_path = str(tmp_path / "init.npz")
    np.savez(init_path, *model.get_weights())

    # Reference: one worker (a single replica), same global batches.
    single = str(tmp_path / "single.npz")
    _run_workers([([sys.executable, WORKER, init_path, single], _env())], TIMEOUT_S)

    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    outs = [str(tmp_path / f"worker{i}.npz") for i in range(2)]
    _run_workers(
        [([sys.executable, WORKER, init_path, outs[i]],
          _env({"cluster": cluster, "task": {"type": "worker", "index": i}})) for i in range(2)],
        TIMEOUT_S,
    )

    ref = np.load(single)
    assert int(ref["replicas"]) == 1
    n_weights = len(model.get_weights())
    init = [np.load(init_path)[f"arr_{k}"] for k in range(n_weights)]
    expected = [ref[f"arr_{k}"] for k in range(n_weights)]
    assert any(not np.allclose(a, b) for a, b in zip(init, expected)), "training changed nothing"
    for path in outs:
        got = np.load(path)
        assert int(got["replicas"]) == 2
        diffs = [float(np.max(np.abs(got[f"arr_{k}"] - expected[k]))) for k in range(n_weights)]
        assert max(diffs) <= 1e-5, (
            f"{path}: 2 workers differ from 1 by {max(diffs):.3g} (per weight {diffs}; "
            f"losses {got['loss']} vs {ref['loss']})"
        )
        np.testing.assert_allclose(got["loss"], ref["loss"], rtol=1e-5)
    keras.backend.clear_session()
