"""tensorboard_callbacks: Keras' TensorBoard, the monitors and HParams in one
log directory, read back with TensorBoard's own readers."""

import os

import keras
import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import metadata as hp_metadata
from tensorboard.util import tensor_util

from kerasreg.callbacks import (ActivationMonitor, GradientMonitor, HParamsLogger,
                                tensorboard_callbacks)

pytestmark = pytest.mark.jax_pass


def read_run(run_dir):
    acc = event_accumulator.EventAccumulator(run_dir, size_guidance={"tensors": 0})
    acc.Reload()
    return acc


def scalars(acc):
    return {tag: {e.step: float(tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)}
            for tag in acc.Tags()["tensors"]
            if acc.SummaryMetadata(tag).plugin_data.plugin_name == "scalars"}


def data():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(24, 5)).astype("float32")
    y = rng.integers(0, 3, size=24)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(7, activation="relu", name="h"),
                              keras.layers.Dense(3, name="logits")])
    model.compile(keras.optimizers.SGD(0.3), loss=keras.losses.SparseCategoricalCrossentropy(True),
                  metrics=["accuracy"])
    return model, x, y


def test_one_log_dir_with_keras_scalars_monitors_and_hparams(tmp_path):
    model, x, y = data()
    gradients = GradientMonitor(every_n_steps=2, histograms=True)
    model.compile(gradients.wrap(keras.optimizers.SGD(0.3)),
                  loss=keras.losses.SparseCategoricalCrossentropy(True), metrics=["accuracy"])
    log_dir = str(tmp_path / "run-lr0.3")
    callbacks = tensorboard_callbacks(
        log_dir, monitors=[gradients, ActivationMonitor(x[:8])],
        hparams={"learning_rate": 0.3, "optimizer": "sgd", "units": 7, "nesterov": False},
        hparam_metrics=("grad_norm", "activation_dead_fraction"))
    assert isinstance(callbacks[0], keras.callbacks.TensorBoard)
    assert isinstance(callbacks[-1], HParamsLogger)
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, validation_data=(x, y),
                        callbacks=callbacks)
    assert {"train", "validation", "gradients", "activations"} <= set(os.listdir(log_dir))

    train = scalars(read_run(os.path.join(log_dir, "train")))
    np.testing.assert_allclose([train["epoch_loss"][e] for e in range(3)],
                               history.history["loss"], rtol=1e-6)
    assert not any("grad_norm" in tag for tag in train)  # TensorBoard comes first

    grads = scalars(read_run(os.path.join(log_dir, "gradients")))
    assert sorted(grads["grad_norm/global"]) == [0, 2, 4, 6, 8]  # 3 steps per epoch, every 2nd
    np.testing.assert_allclose([grads["grad_norm/global"][s] for s in (2, 4, 8)],
                               history.history["grad_norm"], rtol=1e-6)
    acts = scalars(read_run(os.path.join(log_dir, "activations")))
    assert sorted(acts["activations/h/zero_fraction"]) == [0, 1, 2]

    root = read_run(log_dir)
    content = root.SummaryMetadata(hp_metadata.SESSION_START_INFO_TAG).plugin_data.content
    start = hp_metadata.parse_session_start_info_plugin_data(content)
    assert start.hparams["learning_rate"].number_value == pytest.approx(0.3)
    assert start.hparams["units"].number_value == 7
    assert start.hparams["optimizer"].string_value == "sgd"
    assert start.hparams["nesterov"].bool_value is False
    final = scalars(root)
    for key in ("loss", "val_loss", "accuracy", "val_accuracy", "grad_norm",
                "activation_dead_fraction"):
        assert final[f"final/{key}"] == {2: pytest.approx(history.history[key][-1], rel=1e-6)}
    # The curated columns, not every scalar: no learning rate, no val_grad_norm.
    assert "final/learning_rate" not in final and "final/curvature_max" not in final
    experiment = hp_metadata.parse_experiment_plugin_data(
        root.SummaryMetadata(hp_metadata.EXPERIMENT_TAG).plugin_data.content)
    columns = [m.name.tag for m in experiment.metric_infos]
    assert columns == ["final/loss", "final/val_loss", "final/accuracy", "final/val_accuracy",
                       "final/test_loss", "final/test_accuracy", "final/grad_norm",
                       "final/val_grad_norm", "final/activation_dead_fraction",
                       "final/val_activation_dead_fraction"]
    assert sorted(h.name for h in experiment.hparam_infos) == [
        "learning_rate", "nesterov", "optimizer", "units"]
    test_loss, test_accuracy = model.evaluate(x, y, verbose=0)
    callbacks[-1].record_test(test_loss, test_accuracy)
    final = scalars(read_run(log_dir))
    assert final["final/test_loss"] == {2: pytest.approx(test_loss, rel=1e-6)}
    assert final["final/test_accuracy"] == {2: pytest.approx(test_accuracy, rel=1e-6)}
    # Readable histogram names: weights, gradients (GradientMonitor), activations.
    hist_tags = read_run(os.path.join(log_dir, "gradients")).Tags()["tensors"]
    assert {"weights/h/kernel", "gradients/h/kernel", "weights/logits/bias"} <= set(hist_tags)
    assert "activations/h/values" in read_run(os.path.join(log_dir, "activations")).Tags()["tensors"]


def test_hparams_logger_alone_and_argument_checks(tmp_path):
    model, x, y = data()
    history = model.fit(x, y, epochs=2, verbose=0,
                        callbacks=[HParamsLogger(str(tmp_path), {"dropout": 0.7})])
    root = read_run(str(tmp_path))
    start = hp_metadata.parse_session_start_info_plugin_data(
        root.SummaryMetadata(hp_metadata.SESSION_START_INFO_TAG).plugin_data.content)
    assert start.hparams["dropout"].number_value == pytest.approx(0.7)
    assert scalars(root)["final/loss"][1] == pytest.approx(history.history["loss"][-1], rel=1e-6)
    with pytest.raises(TypeError, match="hparams"):
        HParamsLogger(str(tmp_path), {"x": [1, 2]})
    with pytest.raises(TypeError, match="metrics"):
        HParamsLogger(str(tmp_path), {"x": 1}, metrics="loss")
    with pytest.raises(TypeError, match="log_dir"):
        tensorboard_callbacks(None)
    with pytest.raises(ValueError, match="log_dir"):
        tensorboard_callbacks(str(tmp_path), monitors=[GradientMonitor(log_dir="elsewhere")])


def test_event_files_are_tensorboards_records_with_its_checksums(tmp_path):
    """kerasreg's event file: every record's CRCs are the ones TensorBoard's own pure-Python reader recomputes
    (it raises DataLossError on a mismatch), and TensorBoard reads back the scalars, series and histograms."""
    from tensorboard.compat.tensorflow_stub import pywrap_tensorflow as stub

    from kerasreg.callbacks._summary import SummaryWriter, masked_crc32c

    rng = np.random.default_rng(0)
    for size in (0, 1, 7, 8, 100, 4099):  # the C CRC against TensorBoard's Python one (and its fallback use)
        data = rng.bytes(size)
        assert masked_crc32c(data) == stub.masked_crc32c(data) == masked_crc32c(data, stub.crc32c)
    writer = SummaryWriter(str(tmp_path))
    writer.scalars({"a": 1.5}, step=1)
    writer.series(["b", "c"], [2, 3, 4], np.arange(6).reshape(3, 2))
    writer.histograms({"h": rng.normal(size=50)}, step=4)
    writer.close()
    (name,) = os.listdir(tmp_path)
    assert name.startswith("events.out.tfevents.")
    reader = stub.PyRecordReader_New(str(tmp_path / name))
    records = 0
    while True:
        try:
            reader.GetNext()  # checks both CRCs of the record
        except stub.errors.OutOfRangeError:
            break
        records += 1
    assert records == 1 + 1 + 3 + 1  # file version, scalar, 3 series rows, histograms
    got = scalars(read_run(str(tmp_path)))
    assert got == {"a": {1: 1.5}, "b": {2: 0.0, 3: 2.0, 4: 4.0}, "c": {2: 1.0, 3: 3.0, 4: 5.0}}
    assert read_run(str(tmp_path)).Tags()["tensors"].count("h") == 1
