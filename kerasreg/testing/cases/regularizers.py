"""Conformance cases for kerasreg.regularizers."""

from kerasreg import regularizers
from kerasreg.testing.registry import Case, register

_ALPHA_BAD = [({"alpha": -0.3}, "alpha"), ({"alpha": float("nan")}, "alpha"), ({"alpha": "big"}, "alpha")]

register(Case(name="L2", kind="regularizer", cls=regularizers.L2, kwargs={"alpha": 0.07}, bad=_ALPHA_BAD))
register(Case(name="L1", kind="regularizer", cls=regularizers.L1, kwargs={"alpha": 0.03}, bad=_ALPHA_BAD))
register(Case(name="ActivityL1", kind="activity", cls=regularizers.ActivityL1, kwargs={"alpha": 0.03},
              bad=_ALPHA_BAD))
register(
    Case(
        name="KLSparsity",
        kind="activity",
        cls=regularizers.KLSparsity,
        kwargs={"target": 0.3, "weight": 0.7},
        bad=[({"target": 0}, "target"), ({"target": 1.0}, "target"), ({"target": 1.3}, "target"),
             ({"weight": -0.1}, "weight"), ({"epsilon": 0}, "epsilon"), ({"epsilon": 0.7}, "epsilon")],
        # rho_hat_j is the mean over the batch a replica sees; with 2 replicas
        # each sees half of it and KL is nonlinear in rho_hat, so the penalty
        # (and its gradient) is by definition a different function of the
        # data, like unsynchronized batch normalization.
        replica_skip="KL(rho || rho_hat) of per-replica batch means is not the KL of the global mean",
    )
)
