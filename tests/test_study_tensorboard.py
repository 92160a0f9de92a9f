"""kerasreg.study's TensorBoard histograms and images, read back with TensorBoard's own reader."""

import io

import numpy as np
import pytest

from kerasreg import study

pytestmark = pytest.mark.jax_pass


def _context(tmp_path):
    options = study.options(out=str(tmp_path), quick=True)
    return study.Context(None, options, str(tmp_path), study.derive_seeds(0, 5))


def _accumulator(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"images": 0, "histograms": 0})
    acc.Reload()
    return acc


def test_log_images_round_trips_pixels_through_png(tmp_path):
    from PIL import Image

    ctx = _context(tmp_path)
    images = np.random.default_rng(0).random((3, 8, 8))
    images[0, 0, 0], images[0, 0, 1] = -0.5, 1.7  # out of range: clipped
    ctx.log_images("augmentation", None, "shifted_digits", images, step=2, description="original, then shifted")
    acc = _accumulator(tmp_path / "tb" / "augmentation")
    from tensorboard.util import tensor_util

    event, = acc.Tensors("shifted_digits")
    assert event.step == 2
    assert acc.SummaryMetadata("shifted_digits").plugin_data.plugin_name == "images"
    width, height, *pngs = tensor_util.make_ndarray(event.tensor_proto).tolist()
    assert (int(width), int(height), len(pngs)) == (8, 8, 3)
    for png, image in zip(pngs, images):
        decoded = np.asarray(Image.open(io.BytesIO(png)), dtype=np.float64)
        np.testing.assert_array_equal(decoded, np.round(np.clip(image, 0, 1) * 255))
    with pytest.raises(ValueError, match="images"):
        ctx.log_images("augmentation", None, "bad", np.zeros((8, 8)))


def test_log_histograms_counts_every_value(tmp_path):
    ctx = _context(tmp_path)
    values = np.random.default_rng(1).normal(size=500)
    ctx.log_histograms("l2", ctx.seeds[0], {"weights/dense_1/kernel": values}, step=100)
    acc = _accumulator(tmp_path / "tb" / "l2" / f"seed_{ctx.seeds[0]}")
    tags = acc.Tags()["tensors"] + acc.Tags()["histograms"]
    assert "weights/dense_1/kernel" in tags
    if "weights/dense_1/kernel" in acc.Tags()["tensors"]:
        event, = acc.Tensors("weights/dense_1/kernel")
        from tensorboard.util import tensor_util

        buckets = tensor_util.make_ndarray(event.tensor_proto)  # (k, 3): left edge, right edge, count
        assert event.step == 100
        assert buckets[:, 2].sum() == 500
        assert buckets[0, 0] == pytest.approx(values.min()) and buckets[-1, 1] == pytest.approx(values.max())
    else:
        event, = acc.Histograms("weights/dense_1/kernel")
        assert event.histogram_value.num == 500
