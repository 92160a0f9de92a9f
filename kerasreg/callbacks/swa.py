"""Stochastic weight averaging (Izmailov et al., 2018)."""

import keras
import numpy as np

from kerasreg._validation import check_int


def _walk(layer):
    yield layer
    for child in getattr(layer, "layers", None) or []:
        yield from _walk(child)


class StochasticWeightAveraging(keras.callbacks.Callback):
    """Average the weights of the epochs from ``start_epoch`` on; use the average at the end.

    ```
    W_swa <- (W_swa * n + W) / (n + 1),   n <- n + 1
    ```

    after every epoch ``e >= start_epoch`` with ``(e - start_epoch) % freq == 0``
    (``W`` the trainable weights at the end of that epoch).  When ``fit``
    ends the model's trainable weights are set to ``W_swa``.  The batch-norm
    moving statistics of the old weights do not belong to the averaged ones,
    so they are recomputed with one forward pass (``training=True``) over
    ``data``: before batch ``k = 1, 2, ...`` each ``BatchNormalization``
    layer's ``momentum`` is set to ``(k - 1) / k``, which turns Keras' update
    ``mu <- momentum * mu + (1 - momentum) * mean_k`` into the running
    average of the per-batch means and (biased) variances; the layers'
    momentum is put back afterwards.  With equal batches the moving mean is
    the mean over ``data``; the moving variance is the mean of the per-batch
    variances (PyTorch's ``update_bn`` computes the same).  Without ``data``
    the statistics are left as they are (and a model with batch norm then
    warns).

    Departures: the learning-rate schedule of the paper (a constant or
    cyclical rate from ``start_epoch``) is left to the optimizer (see
    ``kerasreg.optimizers.schedules.Cyclical``); the average is over epochs,
    not steps.  Implements the state protocol of
    ``kerasreg.callbacks.BackupAndRestore``.

    Args:
        start_epoch: int >= 0, the first epoch averaged.
        freq: int >= 1, average every ``freq`` epochs.
        data: optional array of inputs, or iterable of batches (``x`` or
            ``(x, y)``), for the batch-norm pass.
        batch_size: int >= 1, for array ``data``. Default 32.

    Reference:
        Izmailov et al., "Averaging Weights Leads to Wider Optima and Better
        Generalization", 2018. https://arxiv.org/abs/1803.05407
    """

    def __init__(self, start_epoch, freq=1, data=None, batch_size=32):
        super().__init__()
        self.start_epoch = check_int("start_epoch", start_epoch, low=0)
        self.freq = check_int("freq", freq, low=1)
        self.data = data
        self.batch_size = check_int("batch_size", batch_size, low=1)
        self.n_averaged = 0
        self.average = None

    def on_train_begin(self, logs=None):
        self.n_averaged, self.average = 0, None

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.start_epoch or (epoch - self.start_epoch) % self.freq:
            return
        current = [np.array(v, dtype="float64") for v in self.model.trainable_variables]
        n = self.n_averaged
        if self.average is None:
            self.average = current
        else:
            self.average = [(a * n + w) / (n + 1) for a, w in zip(self.average, current)]
        self.n_averaged = n + 1

    def on_train_end(self, logs=None):
        if self.average is None:
            return
        for v, a in zip(self.model.trainable_variables, self.average):
            v.assign(a.astype(v.dtype))
        self.update_batch_norm(self.data)

    def update_batch_norm(self, data):
        """Recompute every BatchNormalization layer's moving statistics on ``data``."""
        layers = [l for l in _walk(self.model) if isinstance(l, keras.layers.BatchNormalization)]
        if not layers:
            return
        if data is None:
            import warnings

            warnings.warn("StochasticWeightAveraging: no `data`, batch-norm statistics not recomputed.")
            return
        momenta = [l.momentum for l in layers]
        try:
            for l in layers:
                l.moving_mean.assign(np.zeros(l.moving_mean.shape))
                l.moving_variance.assign(np.ones(l.moving_variance.shape))
            for k, xb in enumerate(self._input_batches(data), start=1):
                for l in layers:
                    l.momentum = (k - 1) / k
                self.model(xb, training=True)
        finally:
            for l, m in zip(layers, momenta):
                l.momentum = m

    def _input_batches(self, data):
        if isinstance(data, np.ndarray):
            for i in range(0, len(data), self.batch_size):
                yield data[i:i + self.batch_size]
        else:
            for batch in data:
                yield batch[0] if isinstance(batch, (tuple, list)) else batch

    def state_dict(self):
        """The number of averaged epochs and the running average."""
        return {"n_averaged": int(self.n_averaged), "average": self.average}

    def load_state_dict(self, state):
        """Inverse of ``state_dict`` (a plain setter)."""
        self.n_averaged = int(state["n_averaged"])
        self.average = None if state["average"] is None else [np.array(a) for a in state["average"]]
