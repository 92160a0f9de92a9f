"""What ``kerasreg.stacked.fit`` returns."""

import keras
import numpy as np


class StackedResult:
    """What ``fit`` returns: per-copy histories and final weights.

    Attributes:
        copies: the copies as given (dicts with at least ``"seed"``).
        history: dict ``name -> float array (K, epochs)``: ``loss`` (training
            loss with the penalties, averaged over the epoch's batches as
            Keras' ``fit`` reports it), each metric, and for every evaluation
            set ``S`` (``val`` for ``validation_data``) ``S_loss`` (without
            penalties) and ``S_<metric>``, computed after each epoch.
        groups: list of lists of copy indices trained by one vectorized
            sub-program (copies whose configurations differ only in seeds,
            learning rates and the per-copy scalars listed in the module
            docstring share one).
        call_seconds: wall time of each compiled call (the first includes
            tracing and compilation; ``epochs_per_call`` sets their number).
    """

    def __init__(self, copies, history, groups, states, model_fn):
        self.copies = copies
        self.history = history
        self.groups = groups
        self._states = states
        self._model_fn = model_fn

    def __len__(self):
        return len(self.copies)

    def _locate(self, i):
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -len(self) <= i < len(self):
            raise IndexError(f"copy index must be an int in [0, {len(self)}), got {i!r}.")
        i = int(i) % len(self)
        for gi, members in enumerate(self.groups):
            if i in members:
                return gi, members.index(i)
        raise AssertionError("unreachable")

    def variables(self, i):
        """Copy ``i``'s final ``(trainable, non_trainable)`` variable values (numpy lists)."""
        gi, j = self._locate(i)
        tv, ntv, _ = self._states[gi]
        return [np.asarray(v[j]) for v in tv], [np.asarray(v[j]) for v in ntv]

    def get_model(self, i):
        """Copy ``i`` as an ordinary Keras model (built by ``model_fn``, not compiled) with its final weights."""
        trainable, non_trainable = self.variables(i)
        keras.utils.set_random_seed(self.copies[i]["seed"])
        model = self._model_fn(self.copies[i])
        for variable, value in zip(model.trainable_variables, trainable):
            variable.assign(value)
        for variable, value in zip(model.non_trainable_variables, non_trainable):
            variable.assign(value)
        return model
