"""kerasreg.regularizers."""

from kerasreg.regularizers.activity_l1 import ActivityL1
from kerasreg.regularizers.add_penalties import add_penalties
from kerasreg.regularizers.kl_sparsity import KLSparsity
from kerasreg.regularizers.l1 import L1
from kerasreg.regularizers.l2 import L2
