"""Clear, early errors (and what used to fail): wrappers by name, Monte Carlo on tf.data, 0-255 previews,
the lecture's hyphenated augmentation names.  (find_learning_rate on an uncompiled model: test_callbacks_lr.py.)"""

import warnings

import keras
import numpy as np
import pytest

import kerasreg


@pytest.mark.jax_pass
@pytest.mark.parametrize("name", ["GradientClipping", "Lookahead"])
def test_optimizer_wrapper_by_name_alone_says_to_pass_an_instance(name):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match=f"`{name}` wraps another optimizer.*Pass an instance"):
        model.compile(optimizer=f"kerasreg>{name}", loss="mse")


@pytest.mark.jax_pass
def test_monte_carlo_predict_takes_a_data_load_dataset():
    _, _, test, info = kerasreg.data.load("digits", flatten=True, seed=3, eval_batch_size=100)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(info.input_shape), keras.layers.Dense(16, activation="relu"),
                              kerasreg.layers.Dropout(0.7), keras.layers.Dense(10)])
    x = np.concatenate([np.asarray(xb) for xb, _ in test])  # the split's inputs, in order
    assert len(x) == info.split_sizes["test"]
    from_dataset = kerasreg.layers.monte_carlo_predict(model, test, samples=8, seed=5)
    from_array = kerasreg.layers.monte_carlo_predict(model, x, samples=8, seed=5)
    for a, b in zip(from_dataset, from_array):
        assert a.shape == (len(x), 10)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert from_dataset[1].max() > 0  # dropout on: the samples differ


@pytest.mark.jax_pass
def test_monte_carlo_predict_rejects_what_is_neither_array_nor_batches():
    model = keras.Sequential([keras.Input((2,)), kerasreg.layers.Dropout(0.5), keras.layers.Dense(1)])
    with pytest.raises(TypeError, match="`x` must be an array or a dataset"):
        kerasreg.layers.monte_carlo_predict(model, object(), samples=2)
    with pytest.raises(ValueError, match="no batches"):
        kerasreg.layers.monte_carlo_predict(model, iter([]), samples=2)


def test_preview_of_a_0_255_image_warns_and_is_not_all_white(tmp_path):
    (x, _), _, _, _ = kerasreg.data.load_arrays("digits")
    image = x[7] * 255.0  # a digit in 0-255
    with pytest.warns(UserWarning, match="0-255 image"):
        titles, images = kerasreg.augment.preview(image, path=tmp_path / "grid.png", augmentations=["rotate"])
    assert titles == ["original", "rotate"]
    assert images.max() > 100  # kept in its own range, scaled to [0, 1] only for the PNG
    unit = images / 255.0
    assert 0.05 < unit.mean() < 0.6  # a digit on black, not an all-white grid
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same digit in [0, 1]: no warning
        kerasreg.augment.preview_images(x[7], augmentations=["rotate"])
    with pytest.warns(UserWarning, match="outside value_range"):
        kerasreg.augment.preview_images(image, augmentations=["rotate"], value_range=(0.0, 1.0))


def test_lecture_hyphenated_names_are_aliases():
    pipeline = kerasreg.augment.Pipeline(["crop-and-pan", ("flip-lr", None), "flip-ud", ("gaussian-blur", 0.5)])
    assert pipeline.names == ["crop_and_pan", "flip_lr", "flip_ud", "gaussian_blur"]
    with pytest.raises(ValueError, match="Unknown augmentation 'flip-sideways'"):
        kerasreg.augment.Pipeline(["flip-sideways"])
    train, _, _, _ = kerasreg.data.load("digits", augment=["crop-and-pan", "flip-lr"], batch_size=8)
    xb, _ = next(iter(train))
    assert tuple(xb.shape) == (8, 8, 8, 1)


@pytest.mark.tf_only
def test_no_keras_shuffle_reminder_for_data_load_datasets():
    import tensorflow as tf

    def fit(train, shape):
        model = keras.Sequential([keras.Input(shape), keras.layers.Dense(10)])
        model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(train, epochs=1, verbose=0)

    x = np.zeros((8, 4), "float32")
    with warnings.catch_warnings(record=True) as caught:  # control: Keras does warn for a plain dataset
        warnings.simplefilter("always")
        fit(tf.data.Dataset.from_tensor_slices((x, np.zeros(8, "int32"))).batch(4), (4,))
    assert any("shuffle=True" in str(w.message) for w in caught)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train, _, _, info = kerasreg.data.load("digits", flatten=True)
        fit(train, info.input_shape)
    assert not [w for w in caught if "shuffle=True" in str(w.message)]
