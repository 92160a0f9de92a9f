"""Stop training at a non-finite loss or gradient, naming the step and layer."""

import math

import keras
import numpy as np


def find_clipping_wrapper(optimizer):
    """The first optimizer in the wrapper chain that records non-finite
    gradients (a ``kerasreg.optimizers.GradientClipping``), or ``None``."""
    seen = 0
    while optimizer is not None and seen < 16:
        if hasattr(optimizer, "first_nonfinite") and hasattr(optimizer, "skipped_steps"):
            return optimizer
        optimizer = getattr(optimizer, "optimizer", None) or getattr(optimizer, "inner_optimizer", None)
        seen += 1
    return None


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop ``fit`` when the loss or the gradient stops being finite.

    After every batch it reads the loss from ``logs`` and, when the model's
    optimizer is (or wraps) a ``kerasreg.optimizers.GradientClipping``, its
    ``nonfinite_step`` / ``first_nonfinite`` variables: two scalars, so the
    check costs one small device-to-host read per batch.

    * Without ``skip_nonfinite`` on the clipping wrapper, the first
      non-finite gradient or loss stops training; ``message`` (also printed
      when ``verbose``) names the step and the path (hence the layer) of the
      first variable, in ``model.trainable_variables`` order, whose gradient
      went non-finite.  ``stopped_step`` and ``variable_path`` hold them.
    * With ``skip_nonfinite=True`` the optimizer already skipped the step and
      counted it in ``skipped_steps``; training continues (the running loss
      in ``logs`` may stay non-finite for the rest of the epoch, which is
      ignored).

    Args:
        verbose: bool, print the message when stopping. Defaults to ``True``.
    """

    def __init__(self, verbose=True):
        super().__init__()
        self.verbose = bool(verbose)
        self.message = None
        self.stopped_step = None
        self.variable_path = None

    def _recorded_step(self, wrapper):
        if wrapper is None or not wrapper.built:
            return -1
        return int(wrapper.nonfinite_step.numpy())

    def on_train_begin(self, logs=None):
        # A non-finite step recorded before this fit (e.g. one that was
        # stopped) is not news.
        self._previous = self._recorded_step(find_clipping_wrapper(self.model.optimizer))

    def on_train_batch_end(self, batch, logs=None):
        wrapper = find_clipping_wrapper(self.model.optimizer)
        if wrapper is not None and wrapper.built and wrapper.skip_nonfinite:
            return
        loss = (logs or {}).get("loss")
        loss = None if loss is None else float(np.asarray(loss))
        bad_loss = loss is not None and not math.isfinite(loss)
        step = path = None
        recorded = self._recorded_step(wrapper)
        if recorded >= 0 and recorded != getattr(self, "_previous", -1):
            step, path = recorded, wrapper.nonfinite_variable_path()
        if step is None and not bad_loss:
            return
        if step is not None:
            layer = path.rsplit("/", 1)[0].split("/")[-1]
            self.message = (
                f"StopOnNonFinite: the gradient went non-finite at step {step}, first in "
                f"variable '{path}' (layer '{layer}'); loss={loss}. Training stopped."
            )
        else:
            step = int(np.asarray(self.model.optimizer.iterations)) - 1
            self.message = (
                f"StopOnNonFinite: non-finite loss {loss} at step {step} (batch {batch}). "
                "Wrap the optimizer in kerasreg.optimizers.GradientClipping to learn which "
                "layer's gradient went non-finite first. Training stopped."
            )
        self.stopped_step, self.variable_path = step, path
        self.model.stop_training = True
        if self.verbose:
            print(self.message)
