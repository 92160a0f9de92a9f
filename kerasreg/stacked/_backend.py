"""The backend-specific pieces of stacked training: (vectorized) gradients, tracing and compilation.

Everything else in ``kerasreg.stacked`` is ``keras.ops`` and Keras' stateless
API; these have no backend-neutral form in Keras 3 (there is no
``keras.ops.grad``, ``jit`` is each backend's own, and ``vectorized_map``
cannot be told to refuse an operation it cannot vectorize).
"""

import keras


def _check_backend():
    if keras.backend.backend() not in ("jax", "tensorflow"):
        raise NotImplementedError(f"kerasreg.stacked runs on TensorFlow and JAX, not {keras.backend.backend()!r}.")


def vectorized_value_and_grad(fn, vectorize=True, strict=False):
    """``fn(params, *rest) -> (loss, aux)`` for one copy, made into one for K stacked copies.

    Returns ``g(params, *rest) -> ((loss, aux), grads)`` where every argument
    and result has a leading axis of size K, and ``grads[k]`` is the gradient
    of ``loss[k]`` with respect to ``params[k]``.  With ``vectorize=False`` K
    must be 1 and ``fn`` runs on copy 0 as it is, with no vectorizing
    transformation (the fall-back for layers that cannot be vectorized).
    ``strict`` (TensorFlow): raise where ``tf.vectorized_map`` would silently
    fall back to a per-copy while loop.
    """
    _check_backend()
    if keras.backend.backend() == "jax":
        import jax

        grad = jax.value_and_grad(fn, has_aux=True)
        return jax.vmap(grad) if vectorize else _one(grad)
    import tensorflow as tf

    if not vectorize:
        def grad(params, *rest):
            with tf.GradientTape() as tape:
                tape.watch(params)
                loss, aux = fn(params, *rest)
            return (loss, aux), tape.gradient(loss, params)

        return _one(grad)

    def g(params, *rest):
        with tf.GradientTape() as tape:
            tape.watch(params)
            loss, aux = _static(tf.vectorized_map(lambda a: fn(a[0], *a[1:]), (params, *rest),
                                                  fallback_to_while_loop=not strict), params)
            total = tf.reduce_sum(loss)
        # The copies are independent, so the gradient of the sum with respect
        # to copy k's parameters is the gradient of copy k's loss.
        return (loss, aux), tape.gradient(total, params)

    return g


def vectorized(fn, vectorize=True):
    """``fn`` applied to each copy: every argument and result stacked on a leading axis."""
    _check_backend()
    if not vectorize:
        return _one(fn)
    if keras.backend.backend() == "jax":
        import jax

        return jax.vmap(fn)
    return lambda *args: _static(keras.ops.vectorized_map(lambda a: fn(*a), args), args)


def _one(fn):
    """``fn`` for one copy, on arguments and results with a leading axis of size 1."""
    def g(*args):
        out = fn(*keras.tree.map_structure(lambda t: t[0], args))
        return keras.tree.map_structure(lambda t: keras.ops.expand_dims(t, 0), out)

    return g


def _static(outputs, inputs):
    """TensorFlow: the leading axis K, which pfor's while-loop fall-back leaves unknown, made static again."""
    import tensorflow as tf

    k = tf.nest.flatten(inputs)[0].shape[0]
    return tf.nest.map_structure(lambda t: tf.ensure_shape(t, [k, *t.shape[1:]]), outputs)


def trace(fn, *examples):
    """Trace ``fn`` on abstract arguments shaped like ``examples`` (numpy arrays), without running it.

    Cheap (no XLA compilation); raises what tracing raises, e.g. for a layer
    that cannot be vectorized.
    """
    _check_backend()
    if keras.backend.backend() == "jax":
        import jax

        return jax.eval_shape(fn, *keras.tree.map_structure(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), examples))
    import tensorflow as tf

    signature = keras.tree.map_structure(lambda a: tf.TensorSpec(a.shape, a.dtype), examples)
    return tf.function(fn, autograph=False).get_concrete_function(*signature)


def compile_function(fn):
    """``fn`` compiled as one XLA program (``jax.jit`` / ``tf.function(jit_compile=True)``)."""
    _check_backend()
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(fn, static_argnums=(2,))
    import tensorflow as tf

    compiled = {}

    def call(state, epoch0, n_epochs):
        # One traced function per chunk length (n_epochs is a Python int).
        if n_epochs not in compiled:
            compiled[n_epochs] = tf.function(lambda s, e: fn(s, e, n_epochs), jit_compile=True)
        return compiled[n_epochs](state, tf.constant(epoch0, tf.int32))

    return call
