"""kerasreg.distribute.Trainer / fit: the tf.distribute training loop.

TensorFlow-only (tf.distribute); skipped on the JAX pass.  The 2-replica runs
use the 2 logical CPUs that tests/conftest.py creates.
"""

import os

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.tf_only

N, FEATURES = 33, 5


def _data(n=N, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, FEATURES)) * 2.0).astype("float32")
    y = (x[:, 0] + 0.3 * x[:, 1] > 0).astype("int32") + (x[:, 2] > 0.7).astype("int32")
    return x, y


def _optimizer():
    from kerasreg.optimizers import GradientClipping

    # A low threshold: the global-norm clip acts on most steps.
    return GradientClipping(keras.optimizers.SGD(0.3, momentum=0.7), mode="global_norm", threshold=0.3)


def _model(strategy=None, init=None):
    import contextlib

    from kerasreg.layers import BatchNormalization

    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        keras.utils.set_random_seed(4)
        inputs = keras.Input((FEATURES,))
        h = keras.layers.Dense(8, activation="tanh")(inputs)
        h = BatchNormalization(synchronized=True, momentum=0.7)(h)
        model = keras.Model(inputs, keras.layers.Dense(3)(h))
        if init is not None:
            model.set_weights(init)
        model.compile(optimizer=_optimizer(),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
    return model


def _max_diff(a, b):
    return max(float(np.max(np.abs(u - v))) for u, v in zip(a, b))


def test_one_replica_equals_model_fit():
    from kerasreg.distribute import fit

    x, y = _data()
    reference = _model()
    init = reference.get_weights()
    expected = reference.fit(x, y, batch_size=7, epochs=3, shuffle=False, verbose=0)
    model = _model(init=init)
    history = fit(model, (x, y), batch_size=7, epochs=3)
    assert _max_diff(model.get_weights(), reference.get_weights()) <= 1e-6
    assert sorted(history.history) == sorted(expected.history) == ["accuracy", "loss"]
    for k in expected.history:
        np.testing.assert_allclose(history.history[k], expected.history[k], rtol=1e-5)


@pytest.mark.slow
def test_two_replicas_uneven_batches_equal_one_replica():
    """Global batch 7 splits 4 + 3 over the replicas; the last batch (5) 3 + 2.
    Scaling each replica's loss by the global batch size keeps the summed
    gradient the global mean; a per-replica mean would not."""
    from kerasreg.distribute import cpu_mirrored_strategy, fit

    x, y = _data()
    single = _model()
    init = single.get_weights()
    fit(single, (x, y), batch_size=7, epochs=3)
    strategy = cpu_mirrored_strategy(2)
    double = _model(strategy, init=init)
    history = fit(double, (x, y), batch_size=7, epochs=3, strategy=strategy)
    assert _max_diff(init, single.get_weights()) > 1e-2
    worst = _max_diff(double.get_weights(), single.get_weights())
    assert worst <= 1e-5, f"2 replicas differ from 1 by {worst:.3g}"
    assert len(history.history["loss"]) == 3


@pytest.mark.slow
def test_callbacks_early_stopping_checkpoint_and_validation(tmp_path):
    from kerasreg.distribute import cpu_mirrored_strategy, fit

    x, y = _data()
    xv, yv = _data(14, seed=1)
    strategy = cpu_mirrored_strategy(2)
    model = _model(strategy)
    seen = []

    class Recorder(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(("epoch_begin", epoch))

        def on_train_batch_end(self, batch, logs=None):
            assert self.model is model and set(logs) == {"loss", "accuracy"}
            seen.append(("batch", batch))

        def on_epoch_end(self, epoch, logs=None):
            seen.append(("epoch_end", epoch, sorted(logs)))

    path = str(tmp_path / "best.keras")
    # min_delta=10 can never be met: patience 1 stops after the 2nd epoch.
    callbacks = [Recorder(), keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=10.0),
                 keras.callbacks.ModelCheckpoint(path, monitor="val_loss", save_best_only=True)]
    history = fit(model, (x, y), batch_size=8, epochs=10, strategy=strategy,
                  validation_data=(xv, yv), callbacks=callbacks)
    assert model.stop_training
    assert len(history.history["loss"]) == 2
    assert [s for s in seen if s[0] == "epoch_begin"] == [("epoch_begin", 0), ("epoch_begin", 1)]
    assert [s[1] for s in seen if s[0] == "batch"] == [0, 1, 2, 3, 4] * 2
    assert seen[-1] == ("epoch_end", 1, ["accuracy", "loss", "val_accuracy", "val_loss"])
    assert os.path.exists(path)
    # Validation logs are over the whole validation set, as evaluate() computes them.
    expected = model.evaluate(xv, yv, batch_size=14, verbose=0, return_dict=True)
    np.testing.assert_allclose(history.history["val_loss"][-1], expected["loss"], rtol=1e-5)
    np.testing.assert_allclose(history.history["val_accuracy"][-1], expected["accuracy"], rtol=1e-6)


def test_steps_per_epoch_keeps_one_iterator():
    import tensorflow as tf

    from kerasreg.distribute import fit

    x, y = _data()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(8).repeat()
    reference = _model()
    init = reference.get_weights()
    reference.fit(dataset, steps_per_epoch=3, epochs=2, verbose=0)
    model = _model(init=init)
    history = fit(model, dataset, steps_per_epoch=3, epochs=2)
    assert len(history.history["loss"]) == 2
    assert _max_diff(model.get_weights(), reference.get_weights()) <= 1e-6


def test_bad_arguments_are_named():
    from kerasreg.distribute import Trainer, cpu_mirrored_strategy, fit

    x, y = _data()
    inputs = keras.Input((FEATURES,))
    uncompiled = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    with pytest.raises(ValueError, match="compiled"):
        Trainer(uncompiled)
    model = _model()
    with pytest.raises(ValueError, match="strategy.scope"):
        Trainer(model, strategy=cpu_mirrored_strategy(2))
    with pytest.raises(ValueError, match="batch_size"):
        fit(model, (x, y))
    with pytest.raises(ValueError, match="epochs"):
        fit(model, (x, y), batch_size=4, epochs=0)


@pytest.mark.slow
def test_mid_epoch_resume_under_two_replicas_equals_uninterrupted(tmp_path):
    """kerasreg's BackupAndRestore under Trainer and MirroredStrategy(2):
    killed (an exception) in the middle of epoch 2 with a checkpoint every 2
    batches, restarted from a scrambled model: the same weights, optimizer
    state, EarlyStopping state and history (loss and accuracy of the resumed
    epoch included) as a run never interrupted."""
    from kerasreg.callbacks import BackupAndRestore, EarlyStopping
    from kerasreg.distribute import Trainer, cpu_mirrored_strategy

    class Boom(Exception):
        pass

    class Kill(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == 2 and batch == 3:
                raise Boom()

    x, y = _data()
    strategy = cpu_mirrored_strategy(2)
    init = _model().get_weights()

    def run(extra=(), scramble=False):
        model = _model(strategy, init=[w * 0 + 0.1 for w in init] if scramble else init)
        es = EarlyStopping(monitor="loss", patience=10)
        backup = BackupAndRestore(str(tmp_path / "ckpt"), save_freq=2, callbacks=[es])
        history = Trainer(model, strategy).fit((x, y), batch_size=6, epochs=4,
                                               callbacks=[backup, es, *extra])
        return model, es, history

    ref, ref_es, ref_history = run()
    with pytest.raises(Boom):
        run([Kill()])
    model, es, history = run(scramble=True)
    assert _max_diff(model.get_weights(), ref.get_weights()) <= 1e-6
    assert _max_diff([np.array(v) for v in model.optimizer.variables],
                     [np.array(v) for v in ref.optimizer.variables]) <= 1e-6
    assert (es.wait, es.best_epoch) == (ref_es.wait, ref_es.best_epoch)
    assert history.epoch == ref_history.epoch == [0, 1, 2, 3]
    for k in ref_history.history:
        np.testing.assert_allclose(history.history[k], ref_history.history[k], rtol=1e-5, err_msg=k)
