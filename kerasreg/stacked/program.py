"""The compiled program of ``kerasreg.stacked.fit``: every group's epochs, steps and evaluations in one function."""

from keras import ops

from kerasreg.stacked import _backend
from kerasreg.stacked.gradient_norms import GLOBAL, layer_norms, layer_tags
from kerasreg.stacked.grouping import _substituted
from kerasreg.stacked.order import epoch_order_tensor


def _build_program(groups, x, ys, seeds, hps, eval_data, loss_fn, metric_fns, batch_size, gradient_norms=False):
    """``(program, names)``: ``program(state, epoch0, n_epochs) -> (state, histories)``, and per group the
    names of its history rows (``histories[g][j]``, float32 ``(n_epochs, K_g)``, is ``names[g][j]``)."""
    n = x.shape[0]
    steps, rem = divmod(n, batch_size)
    metric_names = list(metric_fns)
    tags = [layer_tags(g.model) if gradient_norms else {} for g in groups]

    def make_step(group, tags):
        model, optimizer = group.model, group.optimizer

        sites = group.sites

        def copy_loss(tv, ntv, idx, y, hp):
            xb, yb = ops.take(x, idx, axis=0), ops.take(y, idx, axis=0)
            with _substituted(sites, [hp[j] for j in range(len(sites))]):
                y_pred, ntv, losses = model.stateless_call(tv, ntv, xb, training=True, return_losses=True)
            total = loss_fn(yb, y_pred)
            if losses:
                total = total + ops.sum(ops.stack([ops.cast(v, "float32") for v in losses]))
            sums = [ops.sum(fn(yb, y_pred)) for fn in metric_fns.values()]
            return total, (ntv, sums)

        value_and_grad = _backend.vectorized_value_and_grad(copy_loss, vectorize=group.vectorized)

        def copy_apply(ov, grads, tv, hp):
            with _substituted(sites, [hp[j] for j in range(len(sites))]):  # constraints
                tv, ov = optimizer.stateless_apply(ov, grads, tv)
            return ov, tv

        apply = _backend.vectorized(copy_apply, vectorize=group.vectorized)

        def step(tv, ntv, ov, idx, y, hp):
            (total, (ntv, sums)), grads = value_and_grad(tv, ntv, idx, y, hp)
            ov, tv = apply(ov, grads, tv, hp)
            size = idx.shape[1]
            norms = layer_norms(grads, list(tags.values())) if gradient_norms else []
            norms = [ops.reshape(v, (idx.shape[0],)) for v in norms]  # TensorFlow: K made static again
            return tv, ntv, ov, [total * size, *sums, *norms]

        return step

    def make_eval(group):
        model, sites = group.model, group.sites

        def copy_eval(tv, ntv, hp, xe, ye):
            with _substituted(sites, [hp[j] for j in range(len(sites))]):  # e.g. dropout's test-time scaling
                y_pred, _ = model.stateless_call(tv, ntv, xe, training=False)
            return [loss_fn(ye, y_pred), *[ops.mean(fn(ye, y_pred)) for fn in metric_fns.values()]]

        return copy_eval

    steps_fns = [make_step(g, t) for g, t in zip(groups, tags)]
    eval_fns = [make_eval(g) for g in groups]
    evaluated = [name for set_name in eval_data
                 for name in [f"{set_name}_loss", *[f"{set_name}_{m}" for m in metric_names]]]
    names = [["loss", *metric_names, *t, *([GLOBAL] if gradient_norms else []), *evaluated] for t in tags]
    n_sums = 1 + len(metric_names)  # sums over examples; the gradient norms after them are sums over steps

    def program(state, epoch0, n_epochs):
        histories = [[ops.zeros((n_epochs, len(g.members)), "float32") for _ in names[gi]]
                     for gi, g in enumerate(groups)]

        def epoch_body(e, carry):
            # The epoch number is carried through the loop rather than computed from a captured
            # epoch0: TensorFlow's XLA bridge folded the captured value into a compile-time
            # constant, so each call with a new first epoch compiled the program again.
            state, histories, epoch = carry
            new_state, new_histories = [], []
            for gi, group in enumerate(groups):
                tv, ntv, ov = state[gi]
                k = len(group.members)
                order = epoch_order_tensor(seeds[gi], epoch, n)
                y = ys[gi]
                sums = [ops.zeros((k,), "float32") for _ in range(len(names[gi]) - len(evaluated))]

                hp = hps[gi]

                def step_body(s, c, gi=gi, order=order, y=y, k=k, hp=hp):
                    tv, ntv, ov, sums = c
                    # A gather, not ops.slice: TensorFlow's XLA bridge makes a slice's start a
                    # compile-time constant where it can, and recompiles for every new value.
                    idx = ops.take(order, ops.cast(s, "int32") * batch_size + ops.arange(batch_size, dtype="int32"),
                                   axis=1)
                    tv, ntv, ov, new = steps_fns[gi](tv, ntv, ov, idx, y, hp)
                    return tv, ntv, ov, [a + b for a, b in zip(sums, new)]

                if steps:
                    tv, ntv, ov, sums = ops.fori_loop(0, steps, step_body, (tv, ntv, ov, sums))
                if rem:
                    idx = order[:, steps * batch_size:]
                    tv, ntv, ov, new = steps_fns[gi](tv, ntv, ov, idx, y, hp)
                    sums = [a + b for a, b in zip(sums, new)]
                values = [s / n for s in sums[:n_sums]] + [s / (steps + bool(rem)) for s in sums[n_sums:]]
                for set_name, (xe, ye) in eval_data.items():
                    fn = eval_fns[gi]
                    out = _backend.vectorized(lambda tv, ntv, hp, fn=fn, xe=xe, ye=ye: fn(tv, ntv, hp, xe, ye),
                                              vectorize=group.vectorized)(tv, ntv, hp)
                    values += list(out)
                new_state.append((tv, ntv, ov))
                row = ops.arange(n_epochs, dtype="int32")[:, None] == ops.cast(e, "int32")  # (n_epochs, 1)
                new_histories.append([
                    ops.where(row, ops.reshape(ops.cast(v, "float32"), (1, k)), h)
                    for h, v in zip(histories[gi], values)
                ])
            return new_state, new_histories, epoch + 1

        state, histories, _ = ops.fori_loop(0, n_epochs, epoch_body,
                                            (state, histories, ops.cast(epoch0, "int32")))
        return state, histories

    return program, names
