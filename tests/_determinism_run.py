"""Train three small models after enable_determinism(seed); print their weight hashes.

Usage: python _determinism_run.py SEED   (used by tests/test_determinism.py)
"""

import hashlib
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerasreg.distribute import enable_determinism  # noqa: E402


def _digest(model):
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()


def _train(model, x, y):
    # No seed given anywhere below: everything random comes from the switch.
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=16, epochs=2, shuffle=True, verbose=0)
    return _digest(model)


def main(seed):
    enable_determinism(seed)
    from kerasreg.layers import BatchNormalization, Dropout

    rng = np.random.default_rng(0)  # the data are fixed; only the seed varies
    x = rng.normal(size=(64, 12)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    images = rng.normal(size=(64, 8, 8, 1)).astype("float32")
    out = {}
    out["mlp"] = _train(keras.Sequential([
        keras.Input((12,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)]), x, y)
    out["cnn"] = _train(keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.MaxPooling2D(), keras.layers.Flatten(), keras.layers.Dense(2)]), images, y)
    out["dropout_bn"] = _train(keras.Sequential([
        keras.Input((12,)), keras.layers.Dense(16), BatchNormalization(),
        keras.layers.Activation("relu"), Dropout(0.3), keras.layers.Dense(2)]), x, y)
    print(json.dumps(out))


if __name__ == "__main__":
    main(int(sys.argv[1]))
