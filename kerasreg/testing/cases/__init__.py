"""Conformance cases, one module per kind of component.

Importing this package fills ``kerasreg.testing.registry``.  Each module is
owned by the subpackage it describes; add a component's case next to its
siblings.
"""

from kerasreg.testing.cases import clipping  # noqa: F401
from kerasreg.testing.cases import constraints  # noqa: F401
from kerasreg.testing.cases import initializers  # noqa: F401
from kerasreg.testing.cases import layers  # noqa: F401
from kerasreg.testing.cases import optimizers  # noqa: F401
from kerasreg.testing.cases import regularizers  # noqa: F401
from kerasreg.testing.cases import schedules  # noqa: F401
