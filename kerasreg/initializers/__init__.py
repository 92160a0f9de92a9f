"""kerasreg.initializers."""
