"""The two backend-specific pieces of stacked training: vectorized gradients and compilation.

Everything else in ``kerasreg.stacked`` is ``keras.ops`` and Keras' stateless
API; these two have no backend-neutral form in Keras 3 (there is no
``keras.ops.grad``, and ``jit`` is each backend's own).
"""

import keras


def vectorized_value_and_grad(fn):
    """``fn(params, *rest) -> (loss, aux)`` for one copy, made into one for K stacked copies.

    Returns ``g(params, *rest) -> ((loss, aux), grads)`` where every argument
    and result has a leading axis of size K, and ``grads[k]`` is the gradient
    of ``loss[k]`` with respect to ``params[k]``.
    """
    if keras.backend.backend() == "jax":
        import jax

        return jax.vmap(jax.value_and_grad(fn, has_aux=True))
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        def g(params, *rest):
            with tf.GradientTape() as tape:
                tape.watch(params)
                loss, aux = _static(tf.vectorized_map(lambda a: fn(a[0], *a[1:]), (params, *rest)), params)
                total = tf.reduce_sum(loss)
            # The copies are independent, so the gradient of the sum with respect
            # to copy k's parameters is the gradient of copy k's loss.
            return (loss, aux), tape.gradient(total, params)

        return g
    raise NotImplementedError(f"kerasreg.stacked runs on TensorFlow and JAX, not {keras.backend.backend()!r}.")


def vectorized(fn):
    """``fn`` applied to each copy: every argument and result stacked on a leading axis."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.vmap(fn)
    return lambda *args: _static(keras.ops.vectorized_map(lambda a: fn(*a), args), args)


def _static(outputs, inputs):
    """TensorFlow: the leading axis K, which pfor's while-loop fall-back leaves unknown, made static again."""
    import tensorflow as tf

    k = tf.nest.flatten(inputs)[0].shape[0]
    return tf.nest.map_structure(lambda t: tf.ensure_shape(t, [k, *t.shape[1:]]), outputs)


def compile_function(fn):
    """``fn`` compiled as one XLA program (``jax.jit`` / ``tf.function(jit_compile=True)``)."""
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
