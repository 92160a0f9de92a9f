"""Is augmentation ever the bottleneck?  Images/s of the lecture's six-op
pipeline on 2 CPU cores against images/s a small CNN's training step consumes.

Images: scikit-learn's digits upscaled to 32x32 and tinted to RGB (so that
``hue`` has colour to work on).  The CNN (the CNN recipe's shape): two 3x3
Conv2D blocks with max-pooling, a 64-unit dense layer, softmax over 10 classes,
Adam, ``jit_compile=True``.  Goal: pipeline / training >= 5.

Writes ``benchmarks/results/augment.json``.  Run: ``python benchmarks/augment.py``.
"""

import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

CORES = 2
tf.config.threading.set_intra_op_parallelism_threads(CORES)
tf.config.threading.set_inter_op_parallelism_threads(CORES)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerasreg import augment, data  # noqa: E402

BATCH = 128
SIZE = 32
SECONDS = 15.0


def images():
    (x, y), *_ = data.load_arrays("digits", validation_split=0.0, test_split=0.0)
    x = tf.image.resize(x, (SIZE, SIZE)).numpy()
    tint = np.random.default_rng(0).uniform(0.3, 1.0, (len(x), 1, 1, 3)).astype("float32")
    return np.clip(x * tint, 0, 1).astype("float32"), y


def rate(step, seconds=SECONDS):
    step()  # warm-up: tracing / compiling
    step()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        n += step()
    return n / (time.perf_counter() - start)


def pipeline_rate(x, y, names):
    ds = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(BATCH, drop_remainder=True)
    aug = augment.pipeline(list(names), seed=0).apply(ds)
    options = tf.data.Options()
    options.threading.private_threadpool_size = CORES
    it = iter(aug.with_options(options))

    def step():
        batch = next(it)
        return int(batch[0].shape[0])

    return rate(step)


def training_rate(x, y):
    model = keras.Sequential([
        keras.Input((SIZE, SIZE, 3)),
        keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu", padding="same"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", jit_compile=True)
    xb, yb = tf.constant(x[:BATCH]), tf.constant(y[:BATCH])

    def step():
        model.train_on_batch(xb, yb)
        return BATCH

    return rate(step)


def main():
    x, y = images()
    six = augment.LECTURE_AUGMENTATIONS
    aug_ips = pipeline_rate(x, y, six)
    # elastic was the bottleneck (Keras' per-image, per-channel resampling,
    # ratio 2.1); kerasreg's batched one is ~25 ms of CPU per batch of 128.
    # The five others for comparison.
    five_ips = pipeline_rate(x, y, [n for n in six if n != "elastic"])
    train_ips = training_rate(x, y)
    result = {
        "benchmark": "augment",
        "pipeline": list(augment.LECTURE_AUGMENTATIONS),
        "image_shape": [SIZE, SIZE, 3],
        "batch_size": BATCH,
        "cores": CORES,
        "augment_images_per_s": round(aug_ips, 1),
        "train_step_images_per_s": round(train_ips, 1),
        "ratio": round(aug_ips / train_ips, 2),
        "augment_images_per_s_without_elastic": round(five_ips, 1),
        "ratio_without_elastic": round(five_ips / train_ips, 2),
        "goal_ratio": 5.0,
        "machine": platform.processor() or platform.machine(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
    os.makedirs(os.path.join(os.path.dirname(__file__), "results"), exist_ok=True)
    path = os.path.join(os.path.dirname(__file__), "results", "augment.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
