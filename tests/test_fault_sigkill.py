"""Kill-and-resume without loss: a fit with kerasreg's BackupAndRestore,
SIGKILLed at 5 points and restarted each time, ends with the same weights,
optimizer slots, EarlyStopping state and history as an uninterrupted run.

The kill points: mid-epoch right after a checkpoint, halfway through writing
a checkpoint's bytes, at an epoch's end (after validation, before its
checkpoint), with a checkpoint fully written but not yet moved in place, and
mid-epoch one batch before the next checkpoint.  Each run is a subprocess of
tests/_fault_run.py, bounded in time.
"""

import glob
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow

HERE = os.path.dirname(os.path.abspath(__file__))
KILLS = ["step:3", "savez:3", "epoch_end:2", "replace:2", "step:23"]


def _run(backup_dir, out, kill):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = os.path.dirname(HERE) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("KERASREG_KILL", None)
    if kill:
        env["KERASREG_KILL"] = kill
    return subprocess.run([sys.executable, os.path.join(HERE, "_fault_run.py"), backup_dir, out],
                          env=env, capture_output=True, text=True, timeout=300)


def test_five_sigkills_then_restart_equal_uninterrupted(tmp_path):
    sys.path.insert(0, HERE)
    try:
        import _fault_run
    finally:
        sys.path.remove(HERE)
    expected = _fault_run.state(*_fault_run.train(str(tmp_path / "reference")))

    backup, out = str(tmp_path / "backup"), str(tmp_path / "out.npz")
    for kill in KILLS:
        done = _run(backup, out, kill)
        assert done.returncode == -signal.SIGKILL, f"{kill}: exited {done.returncode}\n{done.stderr[-3000:]}"
        assert not os.path.exists(out)
        assert os.path.exists(os.path.join(backup, "checkpoint.npz")), kill
    # The write kills left their temporary files behind (a SIGKILL skips clean-up).
    done = _run(backup, out, None)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not glob.glob(os.path.join(backup, ".tmp-*"))
    got = np.load(out)
    assert sorted(got.files) == sorted(expected)
    assert len(expected["history/loss"]) == _fault_run.EPOCHS
    for key, value in expected.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-6, atol=1e-7, err_msg=key)
