"""kerasreg.stacked: each copy equals training it alone (Keras' own fit, one copy at a time)."""

import keras
import numpy as np
import pytest

import kerasreg
from kerasreg import stacked

N, FEATURES, CLASSES, BATCH, EPOCHS = 70, 8, 3, 32, 4  # 2 full batches and one of 6


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, FEATURES)).astype("float32")
    y = rng.integers(0, CLASSES, N)
    x_val = rng.normal(size=(23, FEATURES)).astype("float32")
    y_val = rng.integers(0, CLASSES, 23)
    return x, y, x_val, y_val


def model_fn(copy):
    constraint = kerasreg.constraints.L2Ball(copy["ball"], axis=0) if copy.get("ball") else None
    layers = [keras.Input((FEATURES,))]
    if copy.get("rate"):
        layers.append(kerasreg.layers.Dropout(copy["rate"], scaling=copy.get("scaling", "train"), seed=copy["seed"] + 1))
    # No bias before batch normalization: its gradient is zero up to rounding, which Adam
    # would scale up to full steps (the bias would then be rounding noise, different per run).
    hidden = keras.layers.Dense(16, kernel_constraint=constraint, use_bias=not copy.get("bn"))
    if copy.get("noise"):
        hidden = kerasreg.layers.WeightNoise(hidden, stddev=copy["noise"], seed=copy["seed"] + 3)
    layers.append(hidden)
    if copy.get("bn"):
        layers.append(kerasreg.layers.BatchNormalization(momentum=0.7))
    layers.append(keras.layers.Activation("relu"))
    if copy.get("rate"):
        layers.append(kerasreg.layers.Dropout(copy["rate"], scaling=copy.get("scaling", "train"), seed=copy["seed"] + 2))
    layers += [keras.layers.Dense(CLASSES, kernel_constraint=constraint)]
    model = keras.Sequential(layers)
    if copy.get("l2"):
        kerasreg.regularizers.add_penalties(model, kernel=kerasreg.regularizers.L2(copy["l2"]))
    if copy.get("l1"):
        kerasreg.regularizers.add_penalties(model, kernel=kerasreg.regularizers.L1(copy["l1"]))
    return model


OPTIMIZERS = {
    "sgd": lambda lr: kerasreg.optimizers.SGD(lr),
    "momentum": lambda lr: kerasreg.optimizers.Momentum(lr, momentum=0.7),
    "adam": lambda lr: kerasreg.optimizers.Adam(lr),
}


def optimizer_fn(copy):
    return OPTIMIZERS[copy["opt"]](copy["lr"])


LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def train_alone(copy, x, y, x_val, y_val, epochs=EPOCHS):
    """The reference: one copy, Keras' own fit, the documented data order, one epoch per call."""
    keras.utils.set_random_seed(copy["seed"])
    model = model_fn(copy)
    model.compile(optimizer=optimizer_fn(copy), loss=LOSS, metrics=["accuracy"], jit_compile=True)
    loss, acc, val_loss, val_acc = [], [], [], []
    for epoch in range(epochs):
        order = stacked.epoch_order(copy["seed"], epoch, len(x))
        history = model.fit(x[order], y[order], batch_size=BATCH, shuffle=False, epochs=1, verbose=0)
        loss.append(history.history["loss"][0])
        acc.append(history.history["accuracy"][0])
        logits = keras.ops.convert_to_numpy(model(x_val, training=False))
        val_loss.append(float(keras.ops.convert_to_numpy(LOSS(y_val, logits))))
        val_acc.append(float(np.mean(logits.argmax(-1) == y_val)))
    return dict(loss=loss, accuracy=acc, val_loss=val_loss, val_accuracy=val_acc), model


def test_epoch_order_is_a_seeded_permutation():
    a = stacked.epoch_order(3, 0, 50)
    assert sorted(a.tolist()) == list(range(50))
    assert not np.array_equal(a, stacked.epoch_order(3, 1, 50))
    assert not np.array_equal(a, stacked.epoch_order(4, 0, 50))
    np.testing.assert_array_equal(a, stacked.epoch_order(3, 0, 50))


@pytest.mark.jax_pass
def test_epoch_order_in_graph_equals_numpy_definition():
    from kerasreg.stacked.order import epoch_order_tensor

    seeds = np.array([0, 7, 2**31 - 1], np.int32)
    got = keras.ops.convert_to_numpy(epoch_order_tensor(keras.ops.convert_to_tensor(seeds), 5, 37))
    for row, seed in zip(got, seeds):
        np.testing.assert_array_equal(row, stacked.epoch_order(int(seed), 5, 37))


# Copies differing by seed, learning rate, optimizer, penalty, dropout rate and scaling, constraint and
# labels, all trained in one stacked fit (several groups in one program).
COPIES = [
    {"seed": 11, "opt": "sgd", "lr": 0.3, "l2": 0.03, "rate": 0.3},
    {"seed": 12, "opt": "sgd", "lr": 0.1, "l2": 0.03, "rate": 0.3},  # same group: other seed and lr
    {"seed": 13, "opt": "sgd", "lr": 0.3, "l2": 0.07, "rate": 0.3},  # same group: other penalty strength
    {"seed": 17, "opt": "sgd", "lr": 0.3, "l2": 0.03, "rate": 0.6},  # same group: other dropout rate
    {"seed": 18, "opt": "sgd", "lr": 0.3, "rate": 0.5, "scaling": "test"},  # the lecture's test-time scaling ...
    {"seed": 19, "opt": "sgd", "lr": 0.2, "rate": 0.2, "scaling": "test"},  # ... per-copy rate at evaluation too
    {"seed": 14, "opt": "adam", "lr": 0.01, "l1": 0.002, "ball": 0.7},
    {"seed": 15, "opt": "adam", "lr": 0.03, "l1": 0.005, "ball": 0.5},  # same group: lr, l1 and radius
    {"seed": 16, "opt": "momentum", "lr": 0.05, "noisy_labels": True},
]


@pytest.mark.jax_pass
@pytest.mark.slow
def test_each_copy_equals_training_it_alone():
    x, y, x_val, y_val = data()
    flipped = y.copy()
    flipped[::4] = (flipped[::4] + 1) % CLASSES  # label noise for one copy
    labels = [flipped if c.get("noisy_labels") else y for c in COPIES]
    # Two compiled calls of 2 epochs (one compilation): the epoch count carries over between calls.
    result = stacked.fit(model_fn, optimizer_fn, COPIES, x, labels, loss=LOSS, metrics=["accuracy"],
                         epochs=EPOCHS, batch_size=BATCH, validation_data=(x_val, y_val),
                         eval_sets={"test": (x_val[:9], y_val[:9])}, epochs_per_call=2)
    assert len(result.call_seconds) == 2
    assert set(result.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy"}
    assert result.history["val_loss"].shape == (len(COPIES), EPOCHS)
    assert sorted(sum(result.groups, [])) == list(range(len(COPIES)))
    # Seed, learning rate, penalty, radius and dropout rate do not split a group.
    assert result.groups == [[0, 1, 2, 3], [4, 5], [6, 7], [8]]
    for i, copy in enumerate(COPIES):
        history, model = train_alone(copy, x, labels[i], x_val, y_val)
        for name, values in history.items():
            np.testing.assert_allclose(result.history[name][i], values, rtol=2e-5, atol=2e-6, err_msg=f"{name} {copy}")
        logits = keras.ops.convert_to_numpy(model(x_val[:9], training=False))
        np.testing.assert_allclose(result.history["test_loss"][i, -1], float(LOSS(y_val[:9], logits)), rtol=2e-5)
        trained = result.get_model(i)
        for a, b in zip(trained.get_weights(), model.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=str(copy))


@pytest.mark.jax_pass
@pytest.mark.slow
def test_batch_norm_statistics_and_weight_noise_are_per_copy():
    x, y, x_val, y_val = data(2)
    copies = [
        {"seed": 21, "opt": "adam", "lr": 0.01, "bn": True},
        {"seed": 22, "opt": "adam", "lr": 0.02, "bn": True},
        {"seed": 23, "opt": "sgd", "lr": 0.1, "noise": 0.3},
        {"seed": 24, "opt": "sgd", "lr": 0.1, "noise": 0.1},  # the noise level is a variable: one group
    ]
    result = stacked.fit(model_fn, optimizer_fn, copies, x, y, loss=LOSS, epochs=EPOCHS, batch_size=BATCH,
                         validation_data=(x_val, y_val))
    assert result.groups == [[0, 1], [2, 3]]
    for i, copy in enumerate(copies):
        history, model = train_alone(copy, x, y, x_val, y_val)
        for name, values in history.items():
            np.testing.assert_allclose(result.history[name][i], values, rtol=2e-5, atol=2e-6, err_msg=f"{name} {copy}")
        for a, b in zip(result.get_model(i).get_weights(), model.get_weights()):  # moving statistics included
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=str(copy))


@pytest.mark.jax_pass
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(copies=[]), "K >= 1"),
        (dict(copies=[{"opt": "sgd"}]), r"copies\[0\]"),
        (dict(copies=[-1]), r"copies\[0\]\['seed'\]"),
        (dict(epochs=0), "`epochs`"),
        (dict(batch_size=0), "`batch_size`"),
        (dict(y=np.zeros(5)), "`y`"),
        (dict(y=[np.zeros(N)] * 3), "one array per copy"),
        (dict(validation_data=(np.zeros((4, 5)), np.zeros(4))), "validation_data"),
        (dict(eval_sets={"test": (np.zeros((4, FEATURES)), np.zeros(3))}), "eval_sets"),
        (dict(x=np.zeros((N, 5))), "`x`"),
        (dict(programs=0), "`programs`"),
        (dict(programs="many"), "`programs`"),
    ],
)
def test_bad_input_names_the_argument(kwargs, message):
    x, y, _, _ = data()
    args = dict(copies=[{"seed": 1, "opt": "sgd", "lr": 0.1}, {"seed": 2, "opt": "sgd", "lr": 0.1}], x=x, y=y,
                epochs=1, batch_size=8)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=message):
        stacked.fit(model_fn, optimizer_fn, args.pop("copies"), args.pop("x"), args.pop("y"), loss=LOSS, **args)


@pytest.mark.jax_pass
@pytest.mark.slow
def test_programs_side_by_side_equal_one_program():
    """Groups split over several compiled programs (run on threads) give the one-program histories
    bit for bit: each group's computation is the same, only the program holding it differs."""
    x, y, x_val, y_val = data(3)
    copies = [{"seed": 21, "opt": "sgd", "lr": 0.2, "rate": 0.4}, {"seed": 22, "opt": "adam", "lr": 0.01},
              {"seed": 23, "opt": "momentum", "lr": 0.05, "l1": 0.01}, {"seed": 24, "opt": "sgd", "lr": 0.1}]
    runs = [stacked.fit(model_fn, optimizer_fn, copies, x, y, loss=LOSS, epochs=3, batch_size=BATCH,
                        validation_data=(x_val, y_val), programs=p, epochs_per_call=2) for p in (1, 3)]
    assert runs[0].groups == runs[1].groups == [[0], [1], [2], [3]]
    for name in runs[0].history:
        np.testing.assert_array_equal(runs[1].history[name], runs[0].history[name], err_msg=name)
    for i in range(len(copies)):
        for a, b in zip(runs[1].get_model(i).get_weights(), runs[0].get_model(i).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_partition_balances_work_over_programs():
    from kerasreg.stacked.training import _partition

    class G:
        def __init__(self, k, size):
            self.members, self.state = list(range(k)), ([np.zeros((k, size))], [], [])

    groups = [G(10, 100), G(30, 100), G(10, 100), G(10, 100), G(5, 100)]
    parts = _partition(groups, 2)
    assert sorted(sum(parts, [])) == list(range(5))
    loads = [sum(len(groups[g].members) for g in part) for part in parts]
    assert sorted(loads) == [30, 35]  # the largest group alone against the rest
    assert _partition(groups, 8) == [[1], [0], [2], [3], [4]]  # at most one program per group
    assert _partition(groups, 1) == [[0, 1, 2, 3, 4]]
