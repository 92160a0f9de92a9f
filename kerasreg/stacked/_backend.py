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
    """``fn(state, epoch0, n_epochs)`` compiled as one XLA program (``jax.jit`` /
    ``tf.function(jit_compile=True)``), one per ``n_epochs`` (a Python int).

    Returns ``call(state, epoch0, n_epochs)``, with ``call.trace(state, epoch0,
    n_epochs)``: trace (and on JAX lower) the program without compiling or
    running it.  Tracing runs Python (Keras, the layers' code) and is done on
    the calling thread; compiling and running happen in ``call``, which may run
    on several threads at once (kerasreg.stacked runs independent programs
    side by side: XLA's CPU programs use about one core each).
    """
    _check_backend()
    if keras.backend.backend() == "jax":
        import jax

        jitted = jax.jit(fn, static_argnums=(2,))
        lowered, compiled = {}, {}

        def trace(state, epoch0, n_epochs):
            if n_epochs not in lowered and n_epochs not in compiled:
                lowered[n_epochs] = jitted.lower(state, epoch0, n_epochs)

        def call(state, epoch0, n_epochs):
            if n_epochs not in compiled:
                trace(state, epoch0, n_epochs)
                # On CPU, LLVM at optimization level 1: the flagship's programs compiled in
                # about 2/3 of the time and ran as fast (measured on the flagship, 2 cores).
                options = {"xla_backend_optimization_level": 1} if jax.default_backend() == "cpu" else None
                compiled[n_epochs] = lowered.pop(n_epochs).compile(compiler_options=options)
            # Waited for here, on the calling thread: JAX's CPU client runs programs dispatched
            # asynchronously one after another, but programs waited for on two threads side by side.
            return jax.block_until_ready(compiled[n_epochs](state, epoch0))

        call.trace = trace
        return call
    import tensorflow as tf

    functions = {}

    def function(n_epochs):
        if n_epochs not in functions:
            functions[n_epochs] = tf.function(lambda s, e: fn(s, e, n_epochs), jit_compile=True)
        return functions[n_epochs]

    def trace(state, epoch0, n_epochs):
        function(n_epochs).get_concrete_function(state, tf.constant(epoch0, tf.int32))

    def call(state, epoch0, n_epochs):
        return function(n_epochs)(state, tf.constant(epoch0, tf.int32))

    call.trace = trace
    return call


def default_programs(n_groups):
    """How many programs ``programs="auto"`` runs side by side: one on an accelerator (it runs
    a program's independent operations in parallel itself); on CPU one per core, at most 4
    and at most one per group (XLA's CPU programs use about one core each)."""
    _check_backend()
    if keras.backend.backend() == "jax":
        import jax

        accelerator = jax.default_backend() != "cpu"
    else:
        import tensorflow as tf

        accelerator = bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))
    if accelerator:
        return 1
    import os

    return max(1, min(n_groups, os.cpu_count() or 1, 4))
