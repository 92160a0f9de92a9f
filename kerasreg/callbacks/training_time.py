"""Training time as a hyperparameter: Goodfellow et al., Algorithms 7.2 and 7.3."""

import math

import numpy as np

from kerasreg._validation import check_int
from kerasreg.callbacks.early_stopping import EarlyStopping


def _early_stopping_run(model, x_sub, y_sub, x_valid, y_valid, max_epochs, patience, batch_size):
    es = EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    history = model.fit(x_sub, y_sub, batch_size=batch_size, epochs=max_epochs, validation_data=(x_valid, y_valid),
                        shuffle=False, verbose=0, callbacks=[es])
    return es, history


def retrain_for_best_steps(build_model, x_sub, y_sub, x_valid, y_valid, *, max_epochs=100, patience=5,
                           batch_size=32):
    """Algorithm 7.2: find the best number of steps, then retrain on all the data.

    ```
    1. run early stopping from a fresh model, training on (x_sub, y_sub),
       validating on (x_valid, y_valid) after every epoch: best epoch e*,
       i* = (e* + 1) * ceil(n_sub / batch_size) steps
    2. build a fresh model again
    3. train it on (x_sub + x_valid) for exactly i* steps
    ```

    Follows the book: the same number of *parameter updates* (not epochs);
    with more data per epoch that is fewer passes.  Training uses
    ``shuffle=False`` so that the step count is exact; the last partial epoch
    takes the first batches of the data.

    Args:
        build_model: zero-argument callable returning a fresh compiled model.
        x_sub, y_sub: the training part.
        x_valid, y_valid: the validation part.
        max_epochs: int >= 1, bound on the early-stopping run.
        patience: int >= 0.
        batch_size: int >= 1.

    Returns:
        ``(model, info)``: the retrained model and a dict with ``best_epoch``,
        ``best_steps`` (i*), ``val_loss`` (the early-stopping curve).
    """
    max_epochs = check_int("max_epochs", max_epochs, low=1)
    patience = check_int("patience", patience, low=0)
    batch_size = check_int("batch_size", batch_size, low=1)
    es, history = _early_stopping_run(build_model(), x_sub, y_sub, x_valid, y_valid, max_epochs, patience,
                                      batch_size)
    best_steps = (es.best_epoch + 1) * math.ceil(len(x_sub) / batch_size)
    model = build_model()
    x_all, y_all = np.concatenate([x_sub, x_valid]), np.concatenate([y_sub, y_valid])
    per_epoch = math.ceil(len(x_all) / batch_size)
    full, rest = divmod(best_steps, per_epoch)
    if full:
        model.fit(x_all, y_all, batch_size=batch_size, epochs=full, shuffle=False, verbose=0)
    if rest:
        model.fit(x_all, y_all, batch_size=batch_size, epochs=1, steps_per_epoch=rest, shuffle=False, verbose=0)
    info = {"best_epoch": es.best_epoch, "best_steps": best_steps, "val_loss": list(history.history["val_loss"])}
    return model, info


def continue_until_validation_below(model, x_sub, y_sub, x_valid, y_valid, *, max_epochs=100, patience=5,
                                    max_extra_epochs=100, batch_size=32):
    """Algorithm 7.3: keep the early-stopped parameters, continue on all the data.

    ```
    1. run early stopping on (x_sub, y_sub) validated on (x_valid, y_valid);
       keep the best parameters theta and eps = J(theta; x_sub, y_sub)
    2. while J(theta; x_valid, y_valid) > eps:
           train theta on (x_sub + x_valid) for one epoch
    ```

    ``J`` is the model's compiled loss (``model.evaluate``).  Departure: the
    loop is bounded by ``max_extra_epochs`` (the book's loop may not end:
    the validation loss may never fall below ``eps``); ``info["reached"]``
    says whether it did.

    Args:
        model: a fresh compiled model (trained in place).
        x_sub, y_sub, x_valid, y_valid: the two parts of the training data.
        max_epochs, patience: of the early-stopping run.
        max_extra_epochs: int >= 1, bound on the loop of step 2.
        batch_size: int >= 1.

    Returns:
        ``(model, info)`` with ``best_epoch``, ``epsilon``, ``extra_epochs``,
        ``valid_losses`` (J on the validation part before each extra epoch
        and after the last) and ``reached``.
    """
    max_epochs = check_int("max_epochs", max_epochs, low=1)
    patience = check_int("patience", patience, low=0)
    max_extra_epochs = check_int("max_extra_epochs", max_extra_epochs, low=1)
    batch_size = check_int("batch_size", batch_size, low=1)
    es, _ = _early_stopping_run(model, x_sub, y_sub, x_valid, y_valid, max_epochs, patience, batch_size)

    def loss(x, y):
        out = model.evaluate(x, y, batch_size=batch_size, verbose=0)
        return float(out[0] if isinstance(out, list) else out)

    epsilon = loss(x_sub, y_sub)
    x_all, y_all = np.concatenate([x_sub, x_valid]), np.concatenate([y_sub, y_valid])
    valid_losses = [loss(x_valid, y_valid)]
    extra = 0
    while valid_losses[-1] > epsilon and extra < max_extra_epochs:
        model.fit(x_all, y_all, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        extra += 1
        valid_losses.append(loss(x_valid, y_valid))
    info = {"best_epoch": es.best_epoch, "epsilon": epsilon, "extra_epochs": extra, "valid_losses": valid_losses,
            "reached": valid_losses[-1] <= epsilon}
    return model, info
