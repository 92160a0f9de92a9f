"""kerasreg.data: splits, normalization without leakage, sources, validation."""

import time

import numpy as np
import pytest

import kerasreg
from kerasreg import data

pytestmark = pytest.mark.tf_only


def _collect(ds):
    xs, ys = zip(*[(x, y) for x, y in ds.as_numpy_iterator()])
    return np.concatenate(xs), np.concatenate(ys)


def test_split_sizes_and_disjointness_blobs():
    train, val, test, info = data.load("blobs", batch_size=64, validation_split=0.3,
                                       test_split=0.1, seed=3)
    assert info.split_sizes == {"train": 600, "validation": 300, "test": 100}
    parts = [_collect(d) for d in (train, val, test)]
    assert [len(x) for x, _ in parts] == [600, 300, 100]
    rows = [set(map(bytes, x)) for x, _ in parts]
    assert not rows[0] & rows[1] and not rows[0] & rows[2] and not rows[1] & rows[2]
    # Together they are exactly the generated data set.
    (xa, ya), (xb, yb), (xc, yc), _ = data.load_arrays("blobs", validation_split=0.3,
                                                       test_split=0.1, seed=3)
    assert set(map(bytes, np.concatenate([xa, xb, xc]))) == rows[0] | rows[1] | rows[2]
    np.testing.assert_array_equal(np.sort(parts[1][0], axis=0), np.sort(xb, axis=0))


def test_digits_images_flat_and_arrays_agree():
    train, val, test, info = data.load("digits", batch_size=100, seed=5)
    assert info.input_shape == (8, 8, 1) and info.num_classes == 10
    assert info.split_sizes == {"train": 1079, "validation": 359, "test": 359}
    x, y = _collect(test)
    assert x.shape == (359, 8, 8, 1) and x.min() >= 0.0 and x.max() <= 1.0
    _, _, (xt, yt), ainfo = data.load_arrays("digits", seed=5, flatten=True)
    assert ainfo.input_shape == (64,)
    np.testing.assert_array_equal(x.reshape(359, 64), xt)  # test is not shuffled
    np.testing.assert_array_equal(y, yt)
    _, _, flat_test, finfo = data.load("digits", flatten=True, seed=5)
    assert finfo.input_shape == (64,) and _collect(flat_test)[0].shape == (359, 64)


def test_training_split_reshuffled_each_epoch_but_seeded():
    train, *_ = data.load("moons", batch_size=600, seed=1)
    e1, e2 = _collect(train)[0], _collect(train)[0]
    assert not np.array_equal(e1, e2)
    np.testing.assert_array_equal(np.sort(e1, axis=0), np.sort(e2, axis=0))
    again, *_ = data.load("moons", batch_size=600, seed=1)
    np.testing.assert_array_equal(_collect(again)[0], e1)


def test_normalization_uses_training_statistics_only():
    train, val, test, info = data.load("digits", flatten=True, normalize=True, seed=2)
    (x_tr, _), (x_va, _), (x_te, _), _ = data.load_arrays("digits", flatten=True, seed=2)
    norm = info.normalizer
    mean = np.asarray(norm.mean).reshape(-1)
    var = np.asarray(norm.variance).reshape(-1)
    np.testing.assert_allclose(mean, x_tr.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(var, x_tr.var(axis=0), atol=1e-5)
    # ...and not those of all the data (so the check above can tell leakage).
    everything = np.concatenate([x_tr, x_va, x_te])
    assert np.abs(mean - everything.mean(axis=0)).max() > 1e-3
    # Validation inputs are standardized with the training statistics.
    x, _ = _collect(val)
    expected = (x_va - x_tr.mean(0)) / np.maximum(np.sqrt(x_tr.var(0)), 1e-7)
    np.testing.assert_allclose(x, expected, rtol=1e-3, atol=1e-3)  # float32, tiny sigmas
    # load_arrays normalizes the same way.
    (n_tr, _), *_ = data.load_arrays("digits", flatten=True, normalize=True, seed=2)
    np.testing.assert_allclose(n_tr.mean(0)[x_tr.std(0) > 0], 0.0, atol=1e-4)


def test_image_normalization_is_per_channel():
    _, _, _, info = data.load("digits", normalize=True, seed=4)
    (x_tr, _), *_ = data.load_arrays("digits", seed=4)
    assert np.asarray(info.normalizer.mean).size == 1
    np.testing.assert_allclose(np.asarray(info.normalizer.mean).ravel(), [x_tr.mean()],
                               atol=1e-5)


def test_noisy_sine_is_the_lecture_regression():
    (x, y), _, _, info = data.load_arrays("noisy_sine", n_samples=300, noise=0.3, seed=0)
    assert info.task == "regression" and info.num_classes is None
    resid = y[:, 0] - np.sin(np.pi * x[:, 0])
    assert abs(resid.std() - 0.3) < 4 * 0.3 / np.sqrt(2 * len(x))  # 4 sigma of the s.d.
    assert x.min() >= -1 and x.max() <= 1


def test_one_hot_labels_for_label_smoothing():
    train, *_ , info = data.load("circles", one_hot=True, batch_size=8)
    _, y = next(iter(train))
    assert y.shape == (8, 2) and info.one_hot
    np.testing.assert_allclose(np.asarray(y).sum(1), 1.0)


def test_from_arrays_validates():
    x = np.random.default_rng(0).normal(size=(20, 3)).astype("float32")
    y = np.arange(20) % 4
    train, val, test, info = data.from_arrays(x, y, batch_size=5)
    assert info.num_classes == 4 and info.split_sizes["train"] == 12
    with pytest.raises(ValueError, match="same number of examples"):
        data.from_arrays(x, y[:10])
    with pytest.raises(ValueError, match="empty"):
        data.from_arrays(x[:0], y[:0])
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        data.from_arrays(x, y, class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="must lie in"):
        data.from_arrays(x, y - 1)
    with pytest.raises(ValueError, match="`x` must be"):
        data.from_arrays(x[:, 0], y)


@pytest.mark.parametrize("kwargs, match", [
    (dict(validation_split=1.2), "validation_split"),
    (dict(test_split=-0.1), "test_split"),
    (dict(validation_split=0.6, test_split=0.5), "must be < 1"),
    (dict(batch_size=0), "batch_size"),
    (dict(label_noise=1.5), "label_noise"),
    (dict(name="noisy_sine", label_noise=0.1), "regression"),
    (dict(name="moons", augment=["flip_lr"]), "needs images"),
    (dict(name="digits", augment=["hue"]), "1 channel"),
    (dict(name="digits", augment=["warp"]), "valid names are"),
    (dict(name="digits", n_samples=10), "n_samples"),
])
def test_bad_arguments_raise_naming_the_argument(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        data.load(**kwargs)


def test_unknown_name_lists_what_is_valid(tmp_path):
    with pytest.raises(ValueError, match="digits.*tensorflow-datasets"):
        data.load("no_such_dataset_anywhere", data_dir=str(tmp_path))


def test_tfds_without_prepared_copy_fails_at_once(tmp_path):
    start = time.monotonic()
    with pytest.raises(FileNotFoundError, match=r"(?s)download_and_prepare\(\).*data_dir"):
        data.load("mnist", data_dir=str(tmp_path))
    assert time.monotonic() - start < 30  # a generous bound: it must not try a download


def test_tfds_mnist_against_mock_data(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=40):
        train, val, test, info = data.load("mnist", data_dir=str(tmp_path), batch_size=8,
                                           validation_split=0.25, seed=0)
        assert info.input_shape == (28, 28, 1) and info.num_classes == 10
        assert info.split_sizes == {"train": 30, "validation": 10, "test": 40}
        x_tr, y_tr = _collect(train)
        x_va, _ = _collect(val)
        assert x_tr.shape == (30, 28, 28, 1) and x_va.shape == (10, 28, 28, 1)
        assert x_tr.dtype == np.float32 and 0 <= x_tr.min() and x_tr.max() <= 1
        assert not set(map(bytes, x_tr)) & set(map(bytes, x_va))
        assert len(_collect(test)[0]) == 40


def test_image_folder_through_keras_loader(tmp_path):
    import matplotlib.image as mpimg

    rng = np.random.default_rng(0)
    for c, cls in enumerate(["cat", "dog", "emu"]):
        (tmp_path / cls).mkdir()
        for i in range(5):
            img = np.full((6, 7, 3), 0.2 * c, "float32") + rng.uniform(0, 0.1, (6, 7, 3))
            mpimg.imsave(tmp_path / cls / f"{i}.png", img)
    train, val, test, info = data.load(str(tmp_path), batch_size=4, validation_split=0.2,
                                       test_split=0.2, seed=0, augment=["flip_lr"])
    assert info.class_names == ("cat", "dog", "emu")
    assert info.input_shape == (6, 7, 3)
    assert info.split_sizes == {"train": 9, "validation": 3, "test": 3}
    x, y = _collect(val)
    assert x.shape == (3, 6, 7, 3) and 0 <= x.min() and x.max() <= 1
    # Class c was written with values 0.2 c + U(0, 0.1): labels match the pixels.
    np.testing.assert_array_equal(np.floor(x.mean(axis=(1, 2, 3)) / 0.2 + 0.25), y)
    assert len(_collect(train)[0]) == 9


def test_eval_batch_size_batches_validation_and_test_only():
    train, val, test, info = data.load("digits", batch_size=16, eval_batch_size=500, seed=2)
    same_train, same_val, _, _ = data.load("digits", batch_size=16, seed=2)
    assert {int(x.shape[0]) for x, _ in val} <= {500, info.split_sizes["validation"] % 500}
    assert int(val.cardinality()) == -(-info.split_sizes["validation"] // 500)  # known: Keras skips a probe
    assert max(int(x.shape[0]) for x, _ in train) == 16
    np.testing.assert_array_equal(np.concatenate([y for _, y in val]), np.concatenate([y for _, y in same_val]))
    assert sum(int(x.shape[0]) for x, _ in test) == info.split_sizes["test"]
    with pytest.raises(ValueError, match="eval_batch_size"):
        data.load("digits", eval_batch_size=0)
