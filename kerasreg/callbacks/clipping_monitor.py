"""The pre-clip gradient norm and the clip rate of a ``GradientClipping`` optimizer."""

import keras
import numpy as np

from kerasreg._validation import check_int
from kerasreg.callbacks._summary import SummaryWriter, monitor_log_dir

__all__ = ["ClippingMonitor", "find_clipping_optimizer"]

_STATE = ("global_norm", "clipped", "clip_count", "skipped_steps")


def find_clipping_optimizer(optimizer):
    """The optimizer in ``optimizer``'s wrapper chain that has the clipping
    state (``global_norm``, ``clipped``, ``clip_count``, ``skipped_steps``)."""
    seen = set()
    while optimizer is not None and id(optimizer) not in seen:
        seen.add(id(optimizer))
        if all(hasattr(optimizer, name) for name in _STATE):
            return optimizer
        optimizer = getattr(optimizer, "optimizer", None) or getattr(
            optimizer, "inner_optimizer", None)
    return None


def _read(variable):
    return float(np.asarray(keras.ops.convert_to_numpy(variable)))


class ClippingMonitor(keras.callbacks.Callback):
    """Logs how often and how hard the lecture's gradient clipping acts.

    The lecture's rule (``kerasreg.optimizers.GradientClipping``): if
    ``||g|| > u`` then ``g <- g u / ||g||``.  This callback reads the wrapper's
    state variables (``global_norm``: pre-clip ``||g||`` of the last step;
    ``clip_count``: cumulative clipped steps; ``skipped_steps``: cumulative
    non-finite steps skipped) and logs, for epoch ``e`` with ``T_e`` updates,

    ```
    clip_rate_e = (clip_count(end of e) - clip_count(start of e)) / T_e
    ```

    with ``T_e`` the change of the wrapper's ``iterations``, and the pre-clip
    norm ``||g||``.

    TensorBoard (run ``log_dir/subdir``): ``clipping/clip_rate``,
    ``clipping/clip_count``, ``clipping/skipped_steps`` (per epoch, step =
    epoch) and ``clipping/global_norm`` (pre-clip norm; step = number of
    updates done, every ``every_n_steps`` steps, or only the last step of each
    epoch when ``every_n_steps`` is ``None``).  At epoch end ``logs`` gets
    ``clip_rate`` and ``grad_norm_preclip`` (last step's pre-clip norm).

    Departures: none.  Per-step logging (``every_n_steps``) reads a variable
    from the host after each batch, which synchronizes the step and disables
    Keras' asynchronous callback dispatch; for every-step gradient norms at no
    host cost use ``GradientMonitor`` (it measures the gradient before the
    wrapper clips it).

    Args:
        log_dir: root TensorBoard log directory, or ``None``.
        every_n_steps: int >= 1 or ``None`` (default): log the pre-clip norm
            every this many steps.
        subdir: sub-run written to.  Defaults to ``"clipping"``.

    Reference:
        Pascanu, Mikolov and Bengio, "On the difficulty of training recurrent
        neural networks", ICML 2013, https://arxiv.org/abs/1211.5063.
    """

    def __init__(self, log_dir=None, every_n_steps=None, subdir="clipping"):
        super().__init__()
        self.log_dir = log_dir
        self.every_n_steps = check_int("every_n_steps", every_n_steps, low=1, allow_none=True)
        self.subdir = subdir
        self.history = []
        self._writer = None
        if self.every_n_steps is None:
            # Keep Keras' no-op batch hook so callbacks stay asynchronous.
            self.on_train_batch_end = keras.callbacks.Callback.on_train_batch_end.__get__(self)

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:  # the state is made in build
            optimizer.build(self.model.trainable_variables)
        self._clipper = find_clipping_optimizer(optimizer)
        if self._clipper is None:
            raise ValueError(
                "ClippingMonitor needs the model's optimizer to be (or wrap) a "
                "kerasreg.optimizers.GradientClipping; got "
                f"{type(self.model.optimizer).__name__}."
            )
        path = monitor_log_dir(self.log_dir, self.subdir)
        self._writer = SummaryWriter(path) if path is not None else None

    def on_epoch_begin(self, epoch, logs=None):
        self._start_count = _read(self._clipper.clip_count)
        self._start_iter = _read(self._clipper.iterations)
        self._start_skipped = _read(self._clipper.skipped_steps)

    def on_train_batch_end(self, batch, logs=None):
        step = int(_read(self._clipper.iterations))
        if self._writer is not None and (step - 1) % self.every_n_steps == 0:
            self._writer.scalars({"clipping/global_norm": _read(self._clipper.global_norm)},
                                 step=step - 1)

    def on_epoch_end(self, epoch, logs=None):
        count = _read(self._clipper.clip_count)
        iterations = _read(self._clipper.iterations)
        steps = iterations - self._start_iter
        rate = (count - self._start_count) / steps if steps > 0 else float("nan")
        norm = _read(self._clipper.global_norm)
        skipped = _read(self._clipper.skipped_steps)
        values = {
            "clipping/clip_rate": rate,
            "clipping/clip_count": count,
            "clipping/skipped_steps": skipped,
        }
        if self._writer is not None:
            self._writer.scalars(values, step=epoch)
            if self.every_n_steps is None:
                self._writer.scalars({"clipping/global_norm": norm}, step=int(iterations) - 1)
            self._writer.flush()
        self.history.append({"epoch": epoch, "clip_rate": rate, "clip_count": count,
                             "skipped_steps": skipped, "global_norm": norm,
                             "epoch_skipped": skipped - self._start_skipped})
        if logs is not None:
            logs["clip_rate"] = rate
            logs["grad_norm_preclip"] = norm

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
