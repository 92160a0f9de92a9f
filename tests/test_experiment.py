"""The run folder a recipe writes: metrics.json, report.md, claims."""

import json

import pytest

from kerasreg import experiment


def _run(tmp_path, argv=()):
    args = experiment.parse_args("demo", "d", ["--out", str(tmp_path), *argv])
    return experiment.Run("demo", args, "Two is less than three.")


def test_metrics_and_report_written(tmp_path):
    run = _run(tmp_path, ["--quick", "--seed", "3"])
    run.metric("x", 2.0)
    assert run.check("two < three", value=2.0, threshold=3.0, op="<")
    assert not run.check("two > three", value=2.0, threshold=3.0, op=">")
    run.table("t", ["a", "b"], [[1, 2.5]])
    payload = run.finish(print_summary=False)
    data = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    assert data == json.loads(json.dumps(payload))
    assert data["held"] is False
    assert [c["held"] for c in data["checks"]] == [True, False]
    assert data["settings"]["seed"] == 3 and data["settings"]["quick"] is True
    report = (tmp_path / "demo" / "report.md").read_text()
    assert "Two is less than three." in report and "| two > three | 2 | > 3 | **no** |" in report


def test_check_rejects_unknown_operator_and_inconsistent_held(tmp_path):
    run = _run(tmp_path)
    with pytest.raises(ValueError, match="`op`"):
        run.check("x", value=1, threshold=2, op="~")
    with pytest.raises(ValueError, match="disagrees"):
        run.check("x", True, value=3, threshold=2, op="<")


def test_bad_epochs_rejected(tmp_path):
    with pytest.raises(SystemExit):
        experiment.parse_args("demo", "d", ["--epochs", "0"])
