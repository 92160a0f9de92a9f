"""Hessian-vector products of a model's loss (private backend dispatch).

This is the one backend-specific piece of ``kerasreg.callbacks``: Keras 3 has
no backend-neutral automatic differentiation (``keras.ops`` has no ``grad``;
each trainer differentiates with its own backend), and a Hessian-vector
product needs to differentiate twice.  So this module has one implementation
per backend, both computing exactly ``H v`` with ``H = d^2 L / dw^2`` the
Hessian of the compiled loss (``model.compute_loss``, regularization terms
included) on a fixed batch at the model's current weights:

* TensorFlow: forward-over-reverse, a ``tf.autodiff.ForwardAccumulator``
  around a ``tf.GradientTape``, inside one ``tf.function``;
* JAX: forward-over-reverse, ``jax.jvp`` of ``jax.grad``, with the model run
  statelessly (``keras.StatelessScope``) inside one ``jax.jit``;
* torch: reverse-over-reverse, ``torch.autograd.grad`` twice (eager).

Everything else (power iteration, Lanczos) is written once in ``keras.ops`` as
a *program* ``program(hvp, v0)`` that this module compiles together with the
products, so that a whole eigenvalue estimate is one compiled call.
"""

import keras
from keras import ops

__all__ = ["compile_hvp_program"]


def _flatten(tensors):
    return ops.concatenate([ops.reshape(t, (-1,)) for t in tensors], axis=0)


def _unflatten(vector, variables):
    parts, start = [], 0
    for v in variables:
        size = 1
        for d in v.shape:
            size *= int(d)
        parts.append(ops.reshape(vector[start:start + size], v.shape))
        start += size
    return parts


def _loss(model, x, y, sample_weight):
    y_pred = model(x, training=False)
    return model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                              training=False)


def _tensorflow_program(model, x, y, sample_weight, program):
    import tensorflow as tf

    variables = list(model.trainable_variables)
    primals = [v.value for v in variables]  # the tf.Variables behind Keras' variables

    def hvp(vector):
        # forward-over-reverse: the directional derivative (along `vector`)
        # of the gradient; about half the work of reverse-over-reverse.
        pieces = [tf.cast(p, v.dtype) for p, v in zip(_unflatten(vector, variables), variables)]
        with tf.autodiff.ForwardAccumulator(primals=primals, tangents=pieces) as acc:
            with tf.GradientTape() as tape:
                loss = _loss(model, x, y, sample_weight)
            grads = tape.gradient(loss, primals, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        hv = [acc.jvp(g, unconnected_gradients=tf.UnconnectedGradients.ZERO) for g in grads]
        return _flatten(hv)

    # One XLA program for the whole estimate (all products and the Lanczos or
    # power iteration around them), as on JAX.  On the lecture MLP (batch 256,
    # 20 Lanczos steps, one CPU thread) an estimate took 0.19 s instead of
    # 0.30 s as a plain graph; compiling costs about 5 s more, once per
    # monitor and model (the program is kept across `fit` calls).
    compiled = tf.function(lambda v0: program(hvp, v0), jit_compile=True)
    return lambda v0: compiled(tf.convert_to_tensor(v0))


def _jax_program(model, x, y, sample_weight, program):
    import jax

    trainable = list(model.trainable_variables)
    others = list(model.non_trainable_variables)

    def loss_fn(params, state, x, y, sample_weight):
        mapping = list(zip(trainable, params)) + list(zip(others, state))
        with keras.StatelessScope(state_mapping=mapping):
            return _loss(model, x, y, sample_weight)

    @jax.jit
    def run(params, state, x, y, sample_weight, v0):
        grad_fn = jax.grad(lambda p: loss_fn(p, state, x, y, sample_weight))

        def hvp(vector):
            tangent = _unflatten(vector, trainable)
            tangent = [t.astype(p.dtype) for t, p in zip(tangent, params)]
            return _flatten(jax.jvp(grad_fn, (params,), (tangent,))[1])

        return program(hvp, v0)

    def call(v0):
        params = [v.value for v in trainable]
        state = [v.value for v in others]
        return run(params, state, x, y, sample_weight, v0)

    return call


def _torch_program(model, x, y, sample_weight, program):
    import torch

    variables = list(model.trainable_variables)

    def hvp(vector):
        params = [v.value for v in variables]  # the torch Parameters behind them
        pieces = _unflatten(vector, variables)
        with torch.enable_grad():
            loss = _loss(model, x, y, sample_weight)
            grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
            dot = sum(torch.sum(g * p.to(g.dtype)) for g, p in zip(grads, pieces)
                      if g is not None)
            hv = torch.autograd.grad(dot, params, allow_unused=True)
        return _flatten([torch.zeros_like(p) if h is None else h.detach()
                         for h, p in zip(hv, params)])

    def call(v0):
        return program(hvp, ops.convert_to_tensor(v0))

    return call


def compile_hvp_program(model, x, y, program, sample_weight=None):
    """Compile ``v0 -> program(hvp, v0)`` for the current backend.

    Args:
        model: a compiled Keras model.
        x, y, sample_weight: the fixed batch (arrays).
        program: ``f(hvp, v0)`` written in ``keras.ops``; ``hvp(v)`` returns
            ``H v`` for a flat vector ``v`` over ``model.trainable_variables``
            (concatenated in order, each flattened row-major).

    Returns:
        A callable ``v0 -> program(hvp, v0)``; weights are read at call time.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow_program(model, x, y, sample_weight, program)
    if backend == "jax":
        return _jax_program(model, x, y, sample_weight, program)
    if backend == "torch":
        return _torch_program(model, x, y, sample_weight, program)
    raise NotImplementedError(
        f"Hessian-vector products are implemented for the TensorFlow, JAX and torch "
        f"backends, not {backend!r}."
    )
