"""The conformance registry: every public serializable component, listed once.

A component joins by one ``register(Case(...))`` call in the module of
``kerasreg/testing/cases/`` for its kind.  The shared suite
(``kerasreg.testing.conformance``, run by ``tests/test_conformance.py``) then
checks it for config round trip, registration, ``.keras`` round trip, an XLA
``fit``, 2-replica equality and bad-argument rejection.

Kinds and where the suite puts the component in its small model:

==================== =========================================================
``optimizer``        ``model.compile(optimizer=component)``
``schedule``         ``keras.optimizers.SGD(learning_rate=component)``
``layer``            ``Input -> Dense(6) -> component -> Dense(3)``
``initializer``      ``Dense(kernel_initializer=component)``
``regularizer``      ``Dense(kernel_regularizer=component)``
``activity``         ``Dense(activity_regularizer=component)``
``constraint``       ``Dense(kernel_constraint=component)``
==================== =========================================================

A case may override any of this with ``build_model``.
"""

import dataclasses
from typing import Any, Callable, Optional, Sequence

KINDS = (
    "optimizer",
    "schedule",
    "layer",
    "initializer",
    "regularizer",
    "activity",
    "constraint",
)

_CASES = {}


@dataclasses.dataclass
class Case:
    """One component in the conformance registry.

    Attributes:
        name: unique test id, usually the class name plus a variant.
        kind: one of ``KINDS``.
        cls: the public class.
        kwargs: example constructor arguments, or a zero-argument callable
            returning them (use a callable when an argument is itself an object
            that must be fresh each time, like Lookahead's inner optimizer).
        bad: ``(overrides, argument_name)`` pairs: ``cls(**{**kwargs,
            **overrides})`` must raise ``ValueError`` or ``TypeError`` whose
            message contains ``argument_name``.
        replica_kwargs: overrides used by the checks that compare two training
            runs (2 replicas vs 1, XLA vs graph, saved vs continued), e.g. a
            stochastic layer's rate set to 0 so that both runs are
            comparable.  ``None``: the example kwargs are used.
        replica_skip: reason string to skip the 2-replica check (must say why).
        build_model: optional ``f(component) -> (model, optimizer)`` replacing
            the kind's default placement. The model must be built for inputs of
            shape ``(batch, 4)`` and 3-class sparse labels unless
            ``data`` says otherwise.
        data: optional ``f(n) -> (x, y)`` producing ``n`` examples; default:
            4 features, 3-class integer labels.
        loss: loss for compile (default sparse categorical cross-entropy from
            logits).
        config_exempt: constructor arguments legitimately absent from
            ``get_config`` (must be justified in a comment where registered).
        atol: tolerance of the 2-replica equality (issue #7: 1e-5).
    """

    name: str
    kind: str
    cls: type
    kwargs: Any = dataclasses.field(default_factory=dict)
    bad: Sequence = ()
    replica_kwargs: Optional[dict] = None
    replica_skip: Optional[str] = None
    build_model: Optional[Callable] = None
    data: Optional[Callable] = None
    loss: Any = None
    config_exempt: Sequence[str] = ()
    atol: float = 1e-5

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"`kind` must be one of {KINDS}, got {self.kind!r}.")

    def get_kwargs(self, **overrides):
        kw = self.kwargs() if callable(self.kwargs) else dict(self.kwargs)
        kw.update(overrides)
        return kw

    def make(self, **overrides):
        return self.cls(**self.get_kwargs(**overrides))


def register(case):
    """Add ``case`` to the registry (names must be unique)."""
    if case.name in _CASES:
        raise ValueError(f"A conformance case named {case.name!r} is already registered.")
    _CASES[case.name] = case
    return case


def all_cases():
    """Every registered case, after importing all case modules."""
    from kerasreg.testing import cases  # noqa: F401  (populates the registry)

    return [_CASES[k] for k in sorted(_CASES)]


def get_case(name):
    all_cases()
    return _CASES[name]
