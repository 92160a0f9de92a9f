"""kerasreg.constraints."""

from kerasreg.constraints.l1_ball import L1Ball
from kerasreg.constraints.l2_ball import L2Ball
