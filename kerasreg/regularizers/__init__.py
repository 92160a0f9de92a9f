"""kerasreg.regularizers."""
