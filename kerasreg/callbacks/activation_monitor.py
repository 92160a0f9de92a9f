"""Per-layer activation statistics, dead units and the drift of each layer's
distribution between checks (internal covariate shift)."""

import keras
import numpy as np

from kerasreg._validation import check_int
from kerasreg.callbacks._summary import (SummaryWriter, check_batch, check_log_dir,
                                        check_subdir, monitor_log_dir)

__all__ = ["ActivationMonitor", "activation_stats"]


def activation_stats(a, previous=None):
    """The statistics of one layer's activations ``a`` (``(N, ..., K)``).

    Returns a dict with ``mean``, ``std``, ``zero_fraction``, ``dead_fraction``,
    ``dead_units``, the per-unit ``unit_mean`` / ``unit_std`` arrays and, when
    ``previous`` (an earlier result) is given, ``mean_drift`` and
    ``std_drift``.  See ``ActivationMonitor`` for the formulas.
    """
    a = np.asarray(a, "float64")
    flat = a.reshape(-1, a.shape[-1]) if a.ndim > 1 else a.reshape(-1, 1)
    unit_mean = flat.mean(axis=0)
    unit_std = flat.std(axis=0)
    dead = np.all(flat == 0, axis=0)
    out = {
        "mean": float(a.mean()),
        "std": float(a.std()),
        "zero_fraction": float(np.mean(a == 0)),
        "dead_fraction": float(dead.mean()),
        "dead_units": float(dead.sum()),
        "unit_mean": unit_mean,
        "unit_std": unit_std,
    }
    if previous is not None and previous["unit_mean"].shape == unit_mean.shape:
        out["mean_drift"] = float(np.mean(np.abs(unit_mean - previous["unit_mean"])))
        out["std_drift"] = float(np.mean(np.abs(unit_std - previous["unit_std"])))
    return out


class ActivationMonitor(keras.callbacks.Callback):
    """Per-layer activation statistics on a fixed batch, every N epochs.

    The lecture's internal covariate shift: "each hidden layer changes the
    distribution of inputs to the next layer", which slows learning.  For each
    monitored layer ``l`` with activations ``A`` on the fixed batch ``x``
    (shape ``(N, ..., K)``, ``K`` units on the last axis; ``training=False``),
    with ``mu_u`` and ``sigma_u`` the mean and (population) standard deviation
    of unit ``u`` over the batch and any spatial axes:

    ```
    mean          = mean(A)                    std = std(A)
    zero_fraction = mean(A == 0)
    dead_units    = #{u : A[..., u] == 0 for every example and position}
    dead_fraction = dead_units / K
    mean_drift_t  = 1/K sum_u |mu_u(t) - mu_u(t-1)|
    std_drift_t   = 1/K sum_u |sigma_u(t) - sigma_u(t-1)|
    ```

    where ``t - 1`` is the previous check.  Layer ``l``'s output is layer
    ``l+1``'s input, so the drift of ``l`` measures how much the distribution
    of ``l+1``'s inputs moved between checks.  The drift is absent at the
    first check.

    TensorBoard (run ``log_dir/subdir``, step = epoch): scalars
    ``activations/<layer>/{mean,std,zero_fraction,dead_fraction,dead_units,
    mean_drift,std_drift}`` and histograms ``activations/<layer>/values`` (all
    activations) and ``activations/<layer>/unit_mean``.  At epoch end ``logs``
    gets the summaries ``activation_dead_fraction`` (dead units over all
    monitored units) and ``activation_drift`` (mean of the layers'
    ``mean_drift``), NaN at epochs without a check (and the drift at the
    first check), so that ``History``'s columns stay aligned;
    ``self.history`` keeps every value.

    Departures: none; the lecture names the shift without a measure, the one
    above is ours.  The model must have symbolic inputs (``Sequential`` with an
    ``Input``, or functional) so that the layers' outputs can be read.

    Args:
        x: the fixed batch (array, or a list/dict of arrays for several
            inputs); checked at construction.
        every_n_epochs: int >= 1.  Defaults to ``1``.
        layers: layer names or layers to monitor; ``None``: every layer
            of the model.
        log_dir: root TensorBoard log directory, or ``None``.
        subdir: sub-run written to.  Defaults to ``"activations"``.
        histograms: whether to write histograms.  Defaults to ``True``.

    Reference:
        Ioffe and Szegedy, "Batch Normalization: Accelerating Deep Network
        Training by Reducing Internal Covariate Shift", ICML 2015,
        https://arxiv.org/abs/1502.03167.
    """

    def __init__(self, x, every_n_epochs=1, layers=None, log_dir=None,
                 subdir="activations", histograms=True):
        super().__init__()
        check_batch(x=x)
        self.x = x
        self.every_n_epochs = check_int("every_n_epochs", every_n_epochs, low=1)
        if layers is not None and (isinstance(layers, str) or not hasattr(layers, "__iter__")):
            raise TypeError(f"`layers` must be a list of layer names or layers, got {layers!r}.")
        self.layers = None if layers is None else list(layers)
        if self.layers is not None:
            if not self.layers:
                raise ValueError("`layers` must name at least one layer, or be None for all.")
            for layer in self.layers:
                if not isinstance(layer, (str, keras.layers.Layer)):
                    raise TypeError(f"`layers` must hold layer names or layers, got {layer!r} "
                                    f"of type {type(layer).__name__}.")
        if not isinstance(histograms, bool):
            raise TypeError(f"`histograms` must be True or False, got {histograms!r}.")
        self.histograms = histograms
        self.log_dir = check_log_dir(log_dir)
        self.subdir = check_subdir(subdir)
        self.history = []
        self._extractor = None
        self._previous = {}
        self._writer = None

    def _build_extractor(self):
        model = self.model
        if self.layers is None:
            layers = [layer for layer in model.layers
                      if not isinstance(layer, keras.layers.InputLayer)]
        else:
            layers = [model.get_layer(layer) if isinstance(layer, str) else layer
                      for layer in self.layers]
        try:
            inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
            outputs = [layer.output for layer in layers]
        except (AttributeError, ValueError) as e:
            raise ValueError(
                "ActivationMonitor needs a model with symbolic inputs (Sequential "
                "with an Input, or functional) to read its layers' outputs."
            ) from e
        self._names = [layer.name for layer in layers]
        self._extractor = keras.Model(inputs, outputs)

    def compute(self):
        """``{layer: activation_stats}`` at the model's current weights."""
        if self._extractor is None:
            self._build_extractor()
        # predict_on_batch: the compiled inference function, traced once
        outputs = self._extractor.predict_on_batch(self.x)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        stats = {}
        for name, out in zip(self._names, outputs):
            out = np.asarray(out)
            stats[name] = activation_stats(out, self._previous.get(name))
            stats[name]["values"] = out
        self._previous = stats
        return stats

    def on_train_begin(self, logs=None):
        path = monitor_log_dir(self.log_dir, self.subdir)
        self._writer = SummaryWriter(path) if path is not None else None

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            if logs is not None:  # keep History's columns aligned
                logs["activation_dead_fraction"] = float("nan")
                logs["activation_drift"] = float("nan")
            return
        stats = self.compute()
        scalars = {}
        for name, s in stats.items():
            for key in ("mean", "std", "zero_fraction", "dead_fraction", "dead_units",
                        "mean_drift", "std_drift"):
                if key in s:
                    scalars[f"activations/{name}/{key}"] = s[key]
        if self._writer is not None:
            # One compiled call for the scalars and one for the histograms.
            self._writer.series(list(scalars), [epoch], [list(scalars.values())])
            if self.histograms:
                hists = {}
                for name, s in stats.items():
                    hists[f"activations/{name}/values"] = s["values"]
                    hists[f"activations/{name}/unit_mean"] = s["unit_mean"]
                self._writer.histograms(hists, epoch)
            self._writer.flush()
        self.history.append({"epoch": epoch, **scalars})
        if logs is not None:
            dead = sum(s["dead_units"] for s in stats.values())
            units = sum(len(s["unit_mean"]) for s in stats.values())
            logs["activation_dead_fraction"] = dead / max(units, 1)
            drifts = [s["mean_drift"] for s in stats.values() if "mean_drift" in s]
            logs["activation_drift"] = float(np.mean(drifts)) if drifts else float("nan")

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
