"""kerasreg.initializers."""

from kerasreg.initializers.he import He
from kerasreg.initializers.lsuv import LSUVLayerReport, lsuv_initialize
from kerasreg.initializers.normalized_uniform import NormalizedUniform
from kerasreg.initializers.sparse_init import SparseInit
from kerasreg.initializers.xavier import Xavier
