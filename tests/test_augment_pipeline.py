"""kerasreg.augment: every op changes training images, never inference ones;
seeded determinism; label-noise flip rate; preview PNG and TensorBoard summary."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasreg import augment, data

pytestmark = pytest.mark.tf_only


def _images(n=8, size=24, channels=3, seed=0):
    # Smooth, non-symmetric images: a gradient plus a blob, so that flips,
    # shifts and warps all move pixel values.
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        cy, cx = rng.uniform(0.2, 0.5, 2)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.02)
        base = 0.3 * xx + 0.2 * yy + 0.4 * blob + rng.uniform(0, 0.1, (size, size))
        tint = rng.uniform(0.3, 1.0, channels)
        out.append(np.clip(base[..., None] * tint, 0, 1))
    return np.stack(out).astype("float32")


@pytest.mark.parametrize("name", sorted(augment.AUGMENTATIONS))
def test_every_augmentation_changes_training_images_only(name):
    x = _images()
    aug = augment.pipeline([name], seed=3)
    outs = [np.asarray(aug(x, training=True, step=step)) for step in range(3)]
    assert all(o.shape == x.shape and np.isfinite(o).all() for o in outs)
    # Some ops draw one strength per batch (blur's sigma): of 3 draws, one must show.
    assert max(np.abs(o - x).max() for o in outs) > 1e-2, f"{name} left the batch unchanged"
    np.testing.assert_array_equal(np.asarray(aug(x, training=False)), x)


def test_lecture_six_are_keras_layers():
    aug = augment.pipeline(list(augment.LECTURE_AUGMENTATIONS), seed=0)
    kinds = [type(layer).__name__ for layer in aug.layers]
    assert kinds == ["RandomHue", "RandomTranslation", "RandomElasticTransform",
                     "RandomFlip", "RandomFlip", "RandomRotation"]
    assert aug.layers[3].mode == "horizontal" and aug.layers[4].mode == "vertical"
    # elastic: kerasreg's batched subclass of Keras' layer.
    assert isinstance(aug.layers[2], augment.RandomElasticTransform)
    assert isinstance(aug.layers[2], keras.layers.RandomElasticTransform)


def test_elastic_in_a_batch_each_image_its_own_distortion():
    x = np.repeat(_images(1, size=16), 6, axis=0)
    out = np.asarray(augment.pipeline([("elastic", 0.8)], seed=4)(x, training=True))
    flat = out.reshape(6, -1)
    gaps = np.abs(flat[:, None] - flat[None]).max(axis=-1) + np.eye(6)
    assert gaps.min() > 1e-2


@pytest.mark.slow  # traces the six Keras layers three times (~13 s on a loaded 2-core box)
def test_same_seed_same_batch_other_seed_other_batch():
    names = list(augment.LECTURE_AUGMENTATIONS)
    x = _images(12)
    ds = tf.data.Dataset.from_tensor_slices((x, np.arange(12))).batch(4, drop_remainder=True)

    def run(seed):
        return list(augment.pipeline(names, seed=seed).apply(ds).as_numpy_iterator())

    a, b, c = run(7), run(7), run(8)
    for (u, _), (v, _) in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert all(np.abs(u - w).max() > 1e-2 for (u, _), (w, _) in zip(a, c))
    # Labels ride along untouched, batches stay in order.
    np.testing.assert_array_equal(np.concatenate([y for _, y in a]), np.arange(12))


def test_new_augmentations_each_epoch():
    ds = tf.data.Dataset.from_tensor_slices(_images(6)).batch(3)
    aug = augment.pipeline([("rotate", 0.2)], seed=1).apply(ds)
    e1, e2 = list(aug.as_numpy_iterator()), list(aug.as_numpy_iterator())
    assert np.abs(e1[0] - e2[0]).max() > 1e-2


def test_partial_batches_of_unknown_size_are_each_augmented():
    # Keras' elastic transform loops over a static batch size; a last batch
    # of unknown size must still get one distortion per image.
    x = _images(5)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(3)
    assert ds.element_spec.shape[0] is None
    out = np.concatenate(list(augment.pipeline(["elastic"], seed=2).apply(ds)))
    changed = np.abs(out - x).max(axis=(1, 2, 3)) > 1e-3
    assert changed.sum() >= 4
    assert len({np.round(np.abs(o - i).sum(), 4) for o, i in zip(out, x)}) == 5


def test_in_load_training_only():
    names = ["crop_and_pan", "elastic", "flip_lr", "flip_ud", "rotate"]
    train, val, test, _ = data.load("digits", augment=names, image_size=(16, 16),
                                    batch_size=2000, validation_split=0.2, seed=0)
    plain_train, plain_val, plain_test, _ = data.load("digits", image_size=(16, 16),
                                                      batch_size=2000, seed=0)
    (xa, ya), = train.as_numpy_iterator()
    (xb, yb), = plain_train.as_numpy_iterator()
    np.testing.assert_array_equal(ya, yb)  # same shuffle order
    assert np.mean(np.abs(xa - xb).max(axis=(1, 2, 3)) > 1e-2) > 0.9
    for aug_split, plain_split in ((val, plain_val), (test, plain_test)):
        np.testing.assert_array_equal(next(iter(aug_split))[0], next(iter(plain_split))[0])


def test_errors_are_clear():
    with pytest.raises(ValueError, match="valid names are: .*crop_and_pan.*rotate"):
        augment.pipeline(["flip_lr", "twist"])
    with pytest.raises(ValueError, match="1 channel"):
        augment.pipeline(["hue"])(np.zeros((2, 8, 8, 1), "float32"))
    with pytest.raises(ValueError, match="Flat feature vectors"):
        augment.pipeline(["rotate"])(np.zeros((4, 64), "float32"))
    with pytest.raises(ValueError, match="strength of 'rotate'"):
        augment.pipeline([("rotate", 3.0)])
    with pytest.raises(ValueError, match="takes no strength"):
        augment.pipeline([("flip_lr", 0.3)])
    with pytest.raises(ValueError, match="at least one"):
        augment.pipeline([])


def test_label_noise_flip_rate_and_targets():
    k, n, eps = 7, 40_000, 0.3
    labels = np.arange(n) % k
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((n, 1), "float32"), labels)).batch(1000)
    noisy = np.concatenate([y for _, y in augment.LabelNoise(eps, k, seed=5).apply(ds)
                            .as_numpy_iterator()])
    flipped = noisy != labels
    sigma = np.sqrt(eps * (1 - eps) / n)
    assert abs(flipped.mean() - eps) < 4 * sigma  # 4 binomial sigmas = 0.0092
    assert noisy.min() >= 0 and noisy.max() < k
    # A flip goes to each of the k - 1 other classes equally often.
    offsets = (noisy[flipped] - labels[flipped]) % k
    assert offsets.min() >= 1
    counts = np.bincount(offsets, minlength=k)[1:]
    p = 1 / (k - 1)
    assert np.all(np.abs(counts / flipped.sum() - p)
                  < 4 * np.sqrt(p * (1 - p) / flipped.sum()))


def test_label_noise_in_load_training_only():
    train, val, _, _ = data.load("digits", label_noise=0.25, batch_size=5000, seed=1)
    clean_train, clean_val, _, _ = data.load("digits", batch_size=5000, seed=1)
    (_, y), = train.as_numpy_iterator()
    (_, y0), = clean_train.as_numpy_iterator()
    rate = np.mean(y != y0)
    assert abs(rate - 0.25) < 4 * np.sqrt(0.25 * 0.75 / len(y))
    np.testing.assert_array_equal(next(iter(val))[1], next(iter(clean_val))[1])


def test_preview_png_grid(tmp_path):
    import matplotlib.image as mpimg

    path = tmp_path / "aug.png"
    titles, images = augment.preview(_images(1)[0], path=path, cell_pixels=64, columns=4)
    assert titles == ["original", *augment.LECTURE_AUGMENTATIONS]
    png = mpimg.imread(path)
    assert png.shape[:2] == (2 * 64, 4 * 64)  # 7 cells on a 2 x 4 grid
    for shown in images[1:]:
        assert np.abs(shown - images[0]).max() > 1e-3
    # Grayscale: the colour-only hue is skipped when names are not given.
    titles, _ = augment.preview(_images(1, channels=1)[0], path=tmp_path / "g.png")
    assert "hue" not in titles and len(titles) == 6


def test_preview_tensorboard_summary(tmp_path):
    from tensorboard.backend.event_processing import event_accumulator

    augment.preview(_images(1)[0], logdir=tmp_path, augmentations=["flip_lr", "rotate"])
    acc = event_accumulator.EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    acc.Reload()
    (event,) = acc.Tensors("augmentations")
    blobs = tf.make_ndarray(event.tensor_proto)
    assert len(blobs) == 2 + 3  # width, height, then one PNG per image
    first = tf.io.decode_png(blobs[2]).numpy()
    assert first.shape == (24, 24, 3)
