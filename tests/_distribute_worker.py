"""One process of the multi-worker test (tests/test_distribute_multi_worker.py).

Usage: python _distribute_worker.py INIT.npz OUT.npz
Reads TF_CONFIG (absent: one worker).  Builds the test's model under
MultiWorkerMirroredStrategy, sets the initial weights from INIT.npz, trains
with kerasreg.distribute.fit and writes the final weights to OUT.npz.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

N_EXAMPLES, GLOBAL_BATCH, EPOCHS = 48, 12, 3


def data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(N_EXAMPLES, 5)).astype("float32") * 3.0
    y = (x[:, 0] + 0.3 * x[:, 1] > 0).astype("int32") + (x[:, 2] > 0.7).astype("int32")
    return x, y


def batch_norm():
    from kerasreg.layers import BatchNormalization

    return BatchNormalization(synchronized=True, momentum=0.7)


def optimizer():
    from kerasreg.optimizers import GradientClipping

    inner = keras.optimizers.SGD(learning_rate=0.3, momentum=0.7)
    # A low threshold so that clipping acts on most steps.
    return GradientClipping(inner, mode="global_norm", threshold=0.3), "global_norm"


def build():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((5,))
    h = keras.layers.Dense(8, activation="tanh")(inputs)
    h = batch_norm()(h)
    outputs = keras.layers.Dense(3)(h)
    model = keras.Model(inputs, outputs)
    opt, clipping = optimizer()
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model, clipping


def train(strategy, init):
    from kerasreg.distribute import fit

    with strategy.scope():
        model, clipping = build()
        model.set_weights(init)
    x, y = data()
    history = fit(model, (x, y), batch_size=GLOBAL_BATCH, epochs=EPOCHS, strategy=strategy)
    return model, history, clipping


def main(init_path, out_path):
    init = list(np.load(init_path).values())
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    model, history, clipping = train(strategy, init)
    np.savez(out_path, *model.get_weights(), replicas=strategy.num_replicas_in_sync,
             loss=np.array(history.history["loss"]), clipping=clipping)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
