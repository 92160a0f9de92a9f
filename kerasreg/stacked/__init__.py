"""Train many small models at once: K copies of one Keras model in one compiled program.

A recipe that compares seeds x variants x strengths trains many copies of one
small network.  On small data, Keras' ``fit`` spends its time around the
computation (iterators, callbacks, one Python round trip per epoch or per
``steps_per_execution``), not in it.  ``kerasreg.stacked.fit`` trains all the
copies together, all epochs in one compiled call (``jax.jit`` on JAX,
``tf.function(jit_compile=True)`` on TensorFlow), the shuffle inside it, and
returns each copy's history separately.

```python
from kerasreg import stacked

def model_fn(copy):                 # called once per copy, after keras.utils.set_random_seed(copy["seed"])
    rate = copy.get("rate", 0.0)
    model = keras.Sequential([keras.Input((64,)), kerasreg.layers.Dropout(rate, seed=copy["seed"]),
                              keras.layers.Dense(100, activation="relu"), keras.layers.Dense(10)])
    if copy.get("l2"):
        kerasreg.regularizers.add_penalties(model, kernel=kerasreg.regularizers.L2(copy["l2"]))
    return model

copies = [{"seed": s, "l2": a, "lr": lr} for s in range(10) for a in (0.0, 1e-3) for lr in (1e-3, 3e-3)]
result = stacked.fit(
    model_fn, lambda copy: kerasreg.optimizers.Adam(copy["lr"]), copies, x_train, y_train,
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
    epochs=300, batch_size=32, validation_data=(x_val, y_val), eval_sets={"test": (x_test, y_test)})
result.history["val_loss"]          # float32 array (K, epochs), K = len(copies) = 40
best = result.history["val_loss"].argmin(axis=1)     # early stopping decided afterwards on validation ...
test_at_best = result.history["test_accuracy"][np.arange(len(copies)), best]   # ... and read on test
model = result.get_model(3)         # an ordinary keras.Model with copy 3's final weights
```

What a copy is, and what "the same as training it alone" means
----------------------------------------------------------------
Copy ``i`` is ``model_fn(copies[i])`` built right after
``keras.utils.set_random_seed(copies[i]["seed"])``, trained by
``optimizer_fn(copies[i])``.  Its seed fixes its initial weights, the state
of its layers' ``SeedGenerator``s (dropout and noise masks) and its data
order: in epoch ``e`` it visits the training examples in the order
``kerasreg.stacked.epoch_order(seed, e, n)`` (a documented hash, the same on
every backend), in batches of ``batch_size`` (the last one smaller when
``batch_size`` does not divide ``n``).  Each copy's trajectory is that of a
plain loop doing exactly this with Keras, one copy at a time
(``tests/test_stacked.py`` checks it against ``model.fit`` given each epoch's
permuted arrays with ``shuffle=False``, to float32 tolerance).

How per-copy hyperparameters reach the model (the design)
---------------------------------------------------------
Copies are grouped by configuration: two copies are in one group when their
models' ``get_config()`` and their optimizers' ``get_config()`` are equal
except for names, seeds, a numeric learning rate and the per-copy scalars
below.  Each group is one vectorized sub-program (``jax.vmap`` /
``tf.vectorized_map`` over stacked variable values, through
``model.stateless_call`` and the optimizer's ``stateless_apply``), and all
groups are traced into the same compiled function.  So:

- what lives in *variables* varies per copy inside a group: initial weights,
  seed-generator states (hence masks), batch-normalization statistics,
  optimizer slots, the learning rate (the optimizer's ``learning_rate``
  variable, set from each copy's own optimizer) and ``WeightNoise``'s
  ``stddev`` (a non-trainable variable);
- the strengths of kerasreg's ``L1`` / ``L2`` penalties (``alpha``) and the
  radii of its ``L2Ball`` / ``L1Ball`` constraints (``max_norm``,
  ``radius``), attached to the model's variables (``add_penalties``,
  ``kernel_constraint``), and the ``rate`` of kerasreg's ``Dropout`` and the
  ``max_shift`` of ``kerasreg.augment.RandomShift`` (anywhere in the model,
  nested layers included) also vary per copy inside a group: these
  components read the value only through ``keras.ops``, so while the group's
  program is traced each copy's value stands in for the Python float as a
  scalar tensor (the component's code is unchanged; its arithmetic is the
  same, so the result equals the copy's own);
- every other Python-level hyperparameter (Keras' own ``Dropout`` rate, an
  activity penalty, an architecture choice) splits groups: one sub-program
  per distinct configuration, exact by construction.  Compile time grows
  with the number of groups, not with K.
- optimizer state is per copy: each copy's optimizer is built on its own
  model, so learning rates (also inside kerasreg's optimizer wrappers),
  slots and the seed states of noise wrappers are the copy's own.

Optimizers: Keras' and kerasreg's optimizers, and kerasreg's wrappers
``GradientClipping`` (every mode), ``GradientNoise``, ``WeightNoiseOptimizer``
and ``Lookahead`` around them (``tests/test_stacked_optimizers.py`` checks each
against Keras' ``fit`` of the copy alone).  Refused before compiling, with a
``ValueError`` naming ``optimizer_fn(copies[i])``: ``GradientMonitoring`` (use
``gradient_norms=True``) and ``GradientClipping(skip_nonfinite=True)``: their
in-graph conditional updates do not run under the vectorized, stateless update.

Layers that cannot be vectorized (``vectorize``)
------------------------------------------------
A group is one ``jax.vmap`` / ``tf.vectorized_map`` program, and some layers
do not survive that: on JAX a host callback (``jax.pure_callback`` without a
``vmap_method``); on TensorFlow an operation with no vectorization rule
(``Svd``, ``Qr``, ``Bitcast``, ``DenseBincount``, a boolean mask, ...), for
which ``tf.vectorized_map`` would quietly loop over the copies.  Before
anything is compiled, every layer not known to vectorize (Keras' common
layers, kerasreg's ``Dropout``, ``BatchNormalization`` and ``WeightNoise``, and
any layer class declaring ``vectorizable = True``) is traced alone,
vectorized over two copies with its gradient (a trace: cheap, nothing
compiled).  Then, by ``vectorize``:

- ``"auto"`` (default): a group with such a layer (or a layer class declaring
  ``vectorizable = False``) is trained one copy at a time, with a warning
  naming the layer: each copy becomes a group of its own, run through the
  same step, evaluation and history code without the vectorizing
  transformation, in the same compiled program (compile time grows with the
  number of such copies);
- ``True``: a ``ValueError`` naming the layer (class and name) and the copies,
  and saying to pass ``vectorize=False``;
- ``False``: every copy is trained alone this way (the histories equal the
  vectorized ones to float32 rounding, ``tests/test_stacked_vectorize.py``).

The layers must still compile with XLA (as under ``jit_compile=True``): a
TensorFlow ``tf.py_function`` / ``numpy_function`` does not, either way.  An
error while tracing the whole program is re-raised as a ``RuntimeError``
that carries the original one and suggests ``vectorize=False``.

Gradient norms (``gradient_norms=True``)
----------------------------------------
For inspection (TensorBoard), the history gains per copy and epoch the L2
norm of the gradient of the training loss (with the penalties: the gradient
given to the optimizer) with respect to each layer's trainable variables
together, averaged over the epoch's steps (``T`` steps, the last one short
when ``batch_size`` does not divide ``n``)::

    history["grad_norm/layer/<layer>"][k, e] = 1/T sum_t sqrt(sum_{w in layer} sum (dLoss_t/dw)^2)
    history["grad_norm/global"][k, e]        = the same over all trainable variables

The keys are ``kerasreg.callbacks.GradientMonitor``'s TensorBoard tags: a
layer is the variables sharing a path prefix, without the model's name
(``dense_1/kernel`` and ``dense_1/bias`` form ``dense_1``; a wrapped layer is
``weight_noise/dense``).  Layers Keras named automatically are renamed in
each model as a fresh process names them (``dense``, ``dense_1``, ...), since
every copy builds its own model; names given by the user are kept.  A copy
whose model has no such layer gets NaN in that row.  Checked against a
per-step ``GradientTape`` / ``jax.grad`` loop in
``tests/test_stacked_gradient_norms.py``.

Labels may differ per copy (label noise): give ``y`` as a list of K arrays.

API
---
``fit(model_fn, optimizer_fn, copies, x, y, *, loss, metrics=("accuracy",),
epochs, batch_size=32, validation_data=None, eval_sets=None,
epochs_per_call=None, vectorize="auto", gradient_norms=False, programs="auto") -> StackedResult``

- ``model_fn``: ``copy -> keras.Model``, built (with a ``keras.Input``),
  Sequential or Functional (its config is the grouping key).
- ``optimizer_fn``: ``copy -> keras optimizer`` (unbuilt; any Keras 3
  optimizer whose update is written with ``self.assign``-style updates, e.g.
  kerasreg ``SGD``, ``Momentum``, ``Nesterov``, ``Adam``, ``RMSProp``).
- ``copies``: list of K >= 1 dicts, each with an int ``"seed"`` in
  ``[0, 2**31 - 1]`` and any other keys ``model_fn``/``optimizer_fn`` read;
  plain ints are taken as ``{"seed": int}``.
- ``x``: array ``(n, ...)`` shared by all copies; ``y``: array ``(n, ...)``
  shared, or a list of K arrays ``(n, ...)``, one per copy.
- ``loss``: a Keras loss (name, function or ``keras.losses.Loss``).
- ``metrics``: ``"accuracy"`` and/or functions ``(y_true, y_pred) ->`` one
  value per example (averaged over the set); Keras ``Metric`` objects are
  not supported (they are stateful).
- ``validation_data``: ``(x, y)``, reported as ``val_*``; ``eval_sets``:
  ``{name: (x, y)}``, reported as ``name_*``.  Evaluated after every epoch,
  on the whole set at once, in inference mode.
- ``epochs_per_call``: epochs per compiled call (default: all of them); the
  history is the same for any value.
- ``vectorize``: ``"auto"``, ``True`` or ``False``; see above.
- ``gradient_norms``: bool; adds the ``grad_norm/...`` rows above.
- ``programs``: ``"auto"`` or an int >= 1: the groups are split over this
  many compiled programs of about equal work, run side by side on threads
  (each program's tracing on the calling thread; compiling and running on
  its own).  XLA's CPU programs use about one core each, so ``"auto"`` is one
  per CPU core (at most 4, at most one per group), and 1 on a GPU or TPU.
  The histories are the same for any value (bit for bit in
  ``tests/test_stacked.py``).

``StackedResult``: ``history`` (dict ``name -> float32 (K, epochs)``:
``loss`` = the training loss *with* penalties averaged over the epoch's
batches, as ``fit`` reports it; ``accuracy``; ``val_loss`` / ``<set>_loss`` =
the data loss *without* penalties after the epoch; ``val_accuracy`` ...),
``groups`` (copy indices per sub-program), ``variables(i)`` (final values) and
``get_model(i)`` (a fresh ``model_fn`` model holding copy ``i``'s weights).

Bad input raises a ``ValueError``/``TypeError`` naming the argument: K < 1, a
seed out of range, labels with the wrong number of examples or of copies or
per-copy labels of different shapes, ``x`` or evaluation sets of the wrong
shape, an unbuilt or unserializable model, an unsupported optimizer wrapper,
``vectorize`` or ``gradient_norms`` out of range; a layer that cannot be
vectorized is named (see above).

Modules: ``training`` (``fit``), ``arguments`` (checks, loss and metric
functions), ``grouping`` (copies grouped by configuration, per-copy
scalars), ``program`` (the compiled program), ``vectorize`` (the layer
check), ``gradient_norms``, ``result`` (``StackedResult``), ``order``
(``epoch_order``) and ``_backend`` (the TensorFlow / JAX specific parts).

Departures from ``model.fit``: the shuffle is ``epoch_order``, not
``tf.data``'s; evaluation losses exclude the penalties (``fit``'s
``val_loss`` includes them), so that ``S_loss - train`` gaps compare data
losses; no callbacks (decide early stopping afterwards from the history).
"""

from kerasreg.stacked.order import epoch_order
from kerasreg.stacked.training import StackedResult, fit

__all__ = ["fit", "StackedResult", "epoch_order"]
