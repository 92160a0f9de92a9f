"""Timing helpers shared by the benchmarks (run as scripts: benchmarks/ is on sys.path)."""

import time

import keras


class EpochTimer(keras.callbacks.Callback):
    """Wall time between consecutive epoch ends (the first from train begin)."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_begin(self, logs=None):
        self._last = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self.times.append(now - self._last)
        self._last = now
